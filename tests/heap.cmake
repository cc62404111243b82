# tests of the heap (test_heap_*.c) and of the standard names (test_override.c, override_*)
# (included from tests/CMakeLists.txt, which defines sh_add_test and SH_WITH_ASAN)

# True when the build runs ThreadSanitizer: the threaded tests scale their counts down.
string(FIND "${SH_SANITIZE}" "thread" SH_TSAN_POS)
if(SH_TSAN_POS GREATER -1)
  set(SH_WITH_TSAN ON)
else()
  set(SH_WITH_TSAN OFF)
endif()

# ---- the heap's API, threads, fork and shrinking --------------------------------
# SH_WITH_ASAN / SH_WITH_TSAN tell the programs that a sanitizer runs with them: its shadow
# memory is part of the RSS (the shrink and thread tests then print their RSS figures without
# bounding them), it is slower (the thread tests scale their counts down), and its malloc is
# not fork-safe in GCC 12's runtimes (the fork test's children then use only the sh_ functions).
foreach(t test_heap_api test_heap_threads test_heap_fork test_heap_shrink test_heap_idle)
  sh_add_test(${t} ${t}.c Threads::Threads)
  target_compile_definitions(${t} PRIVATE
    SH_WITH_ASAN=$<BOOL:${SH_WITH_ASAN}> SH_WITH_TSAN=$<BOOL:${SH_WITH_TSAN}>)
endforeach()
set_tests_properties(test_heap_threads test_heap_shrink test_heap_idle PROPERTIES TIMEOUT 300)

# The library's own resident pages (its layout: CMakeLists.txt).  Not in sanitizer
# builds, whose instrumented code runs everywhere in it.
if(NOT SH_SANITIZE)
  sh_add_test(test_library_pages test_library_pages.c Threads::Threads ${CMAKE_DL_LIBS})
endif()


# Fault injection: every mmap, mremap, madvise and munmap call of a workload
# over every block kind fails in turn (STACKHEAP_FAULT, src/os.c); each run
# must end well (fault_sweep.sh).  Not in sanitizer builds (their runtime's
# own mappings make the counts differ between runs, and ASan reports leaks
# of refused stacks' bookkeeping it cannot see freed).
if(NOT SH_SANITIZE)
  add_executable(fault_workload fault_workload.c)
  target_link_libraries(fault_workload PRIVATE stackheap)
  add_test(NAME fault_sweep_every_system_call_failing_in_turn
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/fault_sweep.sh $<TARGET_FILE:fault_workload>)
  set_tests_properties(fault_sweep_every_system_call_failing_in_turn PROPERTIES
    PASS_REGULAR_EXPRESSION "fault_sweep: ok" TIMEOUT 300)
  add_test(NAME fault_sweep_in_check_mode
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/fault_sweep.sh $<TARGET_FILE:fault_workload> check)
  set_tests_properties(fault_sweep_in_check_mode PROPERTIES
    PASS_REGULAR_EXPRESSION "fault_sweep: ok" TIMEOUT 300)
endif()

# The heap at the OS's limits (each test lowers its own limits in a child).
# Not in sanitizer builds: their shadow memory counts against RLIMIT_AS.
if(NOT SH_SANITIZE)
  sh_add_test(test_heap_limits test_heap_limits.c)
endif()

# Check mode with threads, through the sh_ functions, so it runs under ThreadSanitizer too
# (the check tests of check.cmake need LD_PRELOAD, which sanitizer builds do not have).
if(NOT SH_WITH_ASAN)
  sh_add_test(test_check_threads test_check_threads.c Threads::Threads)
  target_compile_definitions(test_check_threads PRIVATE SH_WITH_TSAN=$<BOOL:${SH_WITH_TSAN}>)
  set_tests_properties(test_check_threads PROPERTIES TIMEOUT 300
    ENVIRONMENT "STACKHEAP_CHECK=1;STACKHEAP_CHECK_EXITCODE=9")
endif()

# ---- the standard names: linked, and under LD_PRELOAD ---------------------------------
# Only when the override is really built: the top-level CMakeLists turns SH_OVERRIDE off
# when a sanitizer that owns malloc (address, thread, memory) is on.
if(SH_OVERRIDE AND NOT SH_SANITIZE MATCHES "address|thread|memory")
  sh_add_test(test_override test_override.c ${CMAKE_DL_LIBS} Threads::Threads)

  # A program that is not linked with stackheap tells which allocator it runs on.
  add_executable(override_probe override_probe.c)
  target_link_libraries(override_probe PRIVATE ${CMAKE_DL_LIBS} Threads::Threads)
  add_test(NAME override_probe_system COMMAND override_probe system)
  add_test(NAME override_probe_preload COMMAND override_probe stackheap)
  set_tests_properties(override_probe_system override_probe_preload PROPERTIES TIMEOUT 60)
  set_tests_properties(override_probe_preload PROPERTIES
    ENVIRONMENT "LD_PRELOAD=$<TARGET_FILE:stackheap>")

  # Real programs under LD_PRELOAD, their output compared with the system allocator's.
  foreach(prog sort python perl gcc)
    add_test(NAME override_preload_${prog}
      COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/override_preload.sh $<TARGET_FILE:stackheap>
              ${prog} ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/override_preload_${prog})
    set_tests_properties(override_preload_${prog} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
  endforeach()
endif()
