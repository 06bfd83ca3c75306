# Multi-rank tests: each binary under mpirun with the listed rank counts.
foreach(np 2 3 4)
  add_test(NAME tp_np${np} COMMAND ${GS_MPIRUN} -np ${np} $<TARGET_FILE:tp_mpitest>)
  set_tests_properties(tp_np${np} PROPERTIES TIMEOUT 600 PROCESSORS ${np})
endforeach()

# The same across 2 and 3 hosts made as network namespaces (skips without privilege).
foreach(hosts 2 3)
  add_test(NAME tp_multinode_${hosts}hosts
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/parallel/multinode_test.sh ${CMAKE_BINARY_DIR} ${hosts})
  set_tests_properties(tp_multinode_${hosts}hosts PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77
                       RUN_SERIAL TRUE)
endforeach()

# NCCL communicator across 2 ranks (skips on every rank without a GPU per rank).
if(TARGET nccl_mpitest)
  add_test(NAME nccl_np2 COMMAND ${GS_MPIRUN} -np 2 $<TARGET_FILE:nccl_mpitest>)
  set_tests_properties(nccl_np2 PROPERTIES TIMEOUT 300 PROCESSORS 2)
endif()

# Prefix caching: greedy tokens equal with and without cache hits, at P = 1,
# 2 (3 groups split 2 + 1) and 3.
foreach(np 1 2 3)
  add_test(NAME engine_prefix_cache_np${np}
           COMMAND ${GS_MPIRUN} -np ${np} $<TARGET_FILE:engine_prefix_cache_mpitest>)
  set_tests_properties(engine_prefix_cache_np${np} PROPERTIES TIMEOUT 600 PROCESSORS ${np})
endforeach()

# Resident memory equals `plan` at P = 1, 2, 3 (g9x3 and SmolLM2), and at
# P = 1, 2, 4 on the Llama-3-8B shape in Q4_0 (4.2 GiB, made once into
# ~/.cache/groupshard/bench by scripts/make_bench_models.py).
foreach(np 1 2 3)
  add_test(NAME resident_np${np} COMMAND ${GS_MPIRUN} -np ${np} $<TARGET_FILE:resident_mpitest>)
  set_tests_properties(resident_np${np} PROPERTIES TIMEOUT 300 PROCESSORS ${np})
endforeach()
set(GS_BENCH_8B "$ENV{HOME}/.cache/groupshard/bench/llama3-8b.q4_0.gguf")
add_test(NAME resident_8b_model
         COMMAND ${GS_PYTHON} ${CMAKE_SOURCE_DIR}/scripts/make_bench_models.py --only llama3-8b.q4_0
                 --if-missing)
set_tests_properties(resident_8b_model PROPERTIES TIMEOUT 600 FIXTURES_SETUP bench_8b)
foreach(np 1 2 4)
  add_test(NAME resident_8b_np${np} COMMAND ${GS_MPIRUN} -np ${np} $<TARGET_FILE:resident_mpitest>)
  set_tests_properties(resident_8b_np${np} PROPERTIES TIMEOUT 600 PROCESSORS ${np}
                       RUN_SERIAL TRUE FIXTURES_REQUIRED bench_8b
                       ENVIRONMENT "GS_RESIDENT_MODEL=${GS_BENCH_8B}")
endforeach()
