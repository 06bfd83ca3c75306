# End-to-end scripts.
add_test(NAME coordinator_e2e
         COMMAND timeout 600 bash ${CMAKE_CURRENT_SOURCE_DIR}/proto/coordinator_e2e_test.sh
                 $<TARGET_FILE:groupshard>)
set_tests_properties(coordinator_e2e PROPERTIES TIMEOUT 700 RUN_SERIAL TRUE)

# Launching under Slurm: a one-node cluster of its own (munged, slurmctld,
# slurmd), then salloc + mpirun and srun --mpi=pmix at P = 2 against one rank.
add_test(NAME slurm_launch
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/launcher/slurm_test.sh $<TARGET_FILE:groupshard>
                 ${CMAKE_CURRENT_SOURCE_DIR}/data/models/g9x3.gguf)
set_tests_properties(slurm_launch PROPERTIES TIMEOUT 500 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)

# scripts/serve-bench on the small fixture: `bench serve` (sampled, so the
# sampling options travel) against `bench --batch` on the same two ranks; the
# script fails on any failed request.
add_test(NAME serve_bench_script
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/launcher/serve_bench_test.sh
                 $<TARGET_FILE:groupshard> ${CMAKE_CURRENT_SOURCE_DIR}/data/models/g9x3.q4_1.gguf)
set_tests_properties(serve_bench_script PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE)

# scripts/batch-ceiling and scripts/decode-profile (scripts/decode_speed.py):
# the ceiling of a small model at both layouts, and the per-kind table of the
# SmolLM2 columns; the test checks the lines and numbers they print.
add_test(NAME decode_speed_scripts
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/launcher/decode_speed_test.sh
                 ${CMAKE_CURRENT_SOURCE_DIR}/data/models/g9x3.q4_1.gguf)
set_tests_properties(decode_speed_scripts PROPERTIES TIMEOUT 400 RUN_SERIAL TRUE)

# scripts/gpu-bundle: the build packed for a GPU machine that has CUDA but
# none of our other libraries; run from the bundle with an empty environment,
# only glibc and CUDA come from the system.
add_test(NAME gpu_bundle_script
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/launcher/gpu_bundle_test.sh
                 $<TARGET_FILE:groupshard>)
set_tests_properties(gpu_bundle_script PROPERTIES TIMEOUT 300)
