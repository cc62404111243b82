# tests of the stack API (test_stack.c, test_stack_misuse.c)
sh_add_test(test_stack test_stack.c)
sh_add_test(test_stack_misuse test_stack_misuse.c)
# test_stack skips its RSS measurement of a 1 GiB reservation under ASan, which commits
# shadow memory for the whole poisoned range.
target_compile_definitions(test_stack PRIVATE SH_TEST_ASAN=$<BOOL:${SH_WITH_ASAN}>)

# The abort overflow policy, checked by CTest itself on a process that really aborts.
# CTest counts any death by a signal as a failure (WILL_FAIL and PASS_REGULAR_EXPRESSION
# included), so a small script runs the program and demands both SIGABRT and the message.
set(SH_EXPECT_ABORT ${CMAKE_CURRENT_BINARY_DIR}/expect_abort.cmake)
file(WRITE ${SH_EXPECT_ABORT} [=[
# cmake -DPROGRAM=... -DARGS=... -DEXPECT=regex -P expect_abort.cmake
# Passes if PROGRAM ARGS is killed by SIGABRT after writing a line matching EXPECT to stderr.
execute_process(COMMAND ${PROGRAM} ${ARGS} RESULT_VARIABLE result ERROR_VARIABLE err)
message("${err}")
if(NOT result STREQUAL "Subprocess aborted")
  message(FATAL_ERROR "expected ${PROGRAM} ${ARGS} to abort; it ended with: ${result}")
endif()
if(NOT err MATCHES "${EXPECT}")
  message(FATAL_ERROR "expected stderr to match: ${EXPECT}")
endif()
]=])
add_test(NAME test_stack_abort_overflow
  COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:test_stack_misuse> -DARGS=abort-overflow
          "-DEXPECT=stackheap: stack overflow on 'tiny': allocation of 5000 bytes" -P ${SH_EXPECT_ABORT})
set_tests_properties(test_stack_abort_overflow PROPERTIES TIMEOUT 60)
