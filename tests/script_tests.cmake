# End-to-end scripts.
add_test(NAME coordinator_e2e
         COMMAND timeout 600 bash ${CMAKE_CURRENT_SOURCE_DIR}/proto/coordinator_e2e_test.sh
                 $<TARGET_FILE:groupshard>)
set_tests_properties(coordinator_e2e PROPERTIES TIMEOUT 700 RUN_SERIAL TRUE)
