# Multi-rank tests: each binary under mpirun with the listed rank counts.
foreach(np 2 3 4)
  add_test(NAME tp_np${np} COMMAND ${GS_MPIRUN} -np ${np} $<TARGET_FILE:tp_mpitest>)
  set_tests_properties(tp_np${np} PROPERTIES TIMEOUT 600 PROCESSORS ${np})
endforeach()
