# tests of the build, install, threads, options and tools
# (included from tests/CMakeLists.txt, which defines sh_add_test and SH_WITH_ASAN)

# ---- each thread's default stack, and STACKHEAP_STACK_SIZE ---------------------
# The option is read once per process: the test re-executes itself per value.
sh_add_test(test_default_stack test_default_stack.c Threads::Threads)

# ---- AddressSanitizer and Valgrind see the stack's memory -----------------------
# In an ASan build the test runs its scenarios in child processes and reads
# ASan's reports; in a normal build it checks that nothing is marked.
sh_add_test(test_annotate test_annotate.c)
target_compile_definitions(test_annotate PRIVATE SH_TEST_ASAN=$<BOOL:${SH_WITH_ASAN}>)

# Under Valgrind, the same scenarios run by CTest, which matches Valgrind's
# report.  Not with sanitizers (they do not run under Valgrind).  src/annotate.c
# marks memory for Valgrind only if <valgrind/memcheck.h> was found when it
# was compiled (by __has_include: the library's CMakeLists does not look for
# it), so the header is looked for here the same way; the "clean" scenario
# also fails if the library does not mark memory under Valgrind.
if(NOT SH_SANITIZE)
  find_program(SH_VALGRIND valgrind)
  include(CheckIncludeFile)
  check_include_file(valgrind/memcheck.h SH_HAVE_VALGRIND_MEMCHECK_H)
  if(SH_VALGRIND AND SH_HAVE_VALGRIND_MEMCHECK_H)
    set(sh_valgrind_cmd ${SH_VALGRIND} --error-exitcode=1 $<TARGET_FILE:test_annotate>)
    foreach(mode read-popped read-popped-default read-above-top read-freed-top read-shrunk)
      add_test(NAME test_annotate_valgrind_${mode} COMMAND ${sh_valgrind_cmd} ${mode})
      set_tests_properties(test_annotate_valgrind_${mode} PROPERTIES TIMEOUT 120
        PASS_REGULAR_EXPRESSION "Invalid read of size 1")
    endforeach()
    add_test(NAME test_annotate_valgrind_branch-on-reused
      COMMAND ${sh_valgrind_cmd} branch-on-reused)
    set_tests_properties(test_annotate_valgrind_branch-on-reused PROPERTIES TIMEOUT 120
      PASS_REGULAR_EXPRESSION "Conditional jump or move depends on uninitialised value")
    add_test(NAME test_annotate_valgrind_clean COMMAND ${sh_valgrind_cmd} clean)
    set_tests_properties(test_annotate_valgrind_clean PROPERTIES TIMEOUT 120
      PASS_REGULAR_EXPRESSION "ERROR SUMMARY: 0 errors"
      FAIL_REGULAR_EXPRESSION "FAIL")
  elseif(SH_VALGRIND)
    message(WARNING "valgrind is installed but <valgrind/memcheck.h> is not found: stackheap "
      "is built without Valgrind marking, so the Valgrind tests are not registered")
  else()
    message(STATUS "valgrind not found: the Valgrind tests are not registered "
      "(scripts/deps.sh installs it)")
  endif()
endif()

# ---- install, then build a program against the installed package ----------------
# tests/install/run.sh installs the build into a scratch prefix and builds
# tests/install/consumer.c with pkg-config and with find_package(stackheap)
# (shared and static), using the compiler of this build.  It fails with a
# clear message when pkg-config is missing.  In a sanitizer build the
# installed library is instrumented and needs the runtime at link time, so
# the -fsanitize flags are passed to the consumer builds.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  message(STATUS "CMAKE_INSTALL_LIBDIR is absolute (${CMAKE_INSTALL_LIBDIR}): `cmake --install "
    "--prefix` cannot relocate it, so install_consumer is not registered")
else()
  add_test(NAME install_consumer
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/install/run.sh
      ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/install_consumer
      ${CMAKE_INSTALL_LIBDIR} ${CMAKE_C_COMPILER} ${CMAKE_COMMAND} $<CONFIG>)
  set(sh_consumer_flags "")
  if(SH_SANITIZE)
    set(sh_consumer_flags "-fsanitize=${SH_SANITIZE}")
  endif()
  set_tests_properties(install_consumer PROPERTIES TIMEOUT 300
    ENVIRONMENT "SH_CONSUMER_FLAGS=${sh_consumer_flags}")
endif()

# ---- dlclose -----------------------------------------------------------------------
# dlopen the library, allocate from a thread, dlclose, let the thread exit:
# the library is linked -z nodelete, so its thread-exit destructor is still
# mapped.  Not in sanitizer builds (their runtime must come first).
if(NOT SH_SANITIZE)
  add_executable(dlclose_thread dlclose_thread.c)
  target_link_libraries(dlclose_thread PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
  add_test(NAME dlclose_then_thread_exit_does_not_crash
    COMMAND dlclose_thread $<TARGET_FILE:stackheap>)
  set_tests_properties(dlclose_then_thread_exit_does_not_crash PROPERTIES
    PASS_REGULAR_EXPRESSION "dlclose_thread: the thread exited after dlclose" TIMEOUT 60)
endif()

# ---- start-up: no first allocation registers handlers -------------------------------
# Neither program is linked with stackheap.  The first, run under LD_PRELOAD,
# hung when the library registered its at-exit handler at its first
# allocation; the second dlopens the library after registering an at-fork
# handler that allocates, and hung when that handler ran while stackheap's
# locks were held.
if(SH_OVERRIDE AND NOT SH_SANITIZE MATCHES "address|thread|memory")
  foreach(p atexit_first_allocation atfork_handler_allocates)
    add_executable(lifecycle_${p} lifecycle/${p}.c)
    target_link_libraries(lifecycle_${p} PRIVATE Threads::Threads)
  endforeach()
  target_link_libraries(lifecycle_atfork_handler_allocates PRIVATE ${CMAKE_DL_LIBS})
  foreach(env STACKHEAP_STATS=1 STACKHEAP_CHECK=1)
    string(REGEX REPLACE "=.*" "" tag "${env}")
    add_test(NAME lifecycle_first_allocation_inside_atexit_${tag} COMMAND ${CMAKE_COMMAND}
      "-DCOMMAND=$<TARGET_FILE:lifecycle_atexit_first_allocation>"
      "-DENV=LD_PRELOAD=$<TARGET_FILE:stackheap>|SEP|${env}" "-DRC=0"
      "-DSTDOUT=atexit_first_allocation: 40 handlers registered"
      -P ${CMAKE_CURRENT_SOURCE_DIR}/check/expect.cmake)
    set_tests_properties(lifecycle_first_allocation_inside_atexit_${tag} PROPERTIES TIMEOUT 60)
  endforeach()
  add_test(NAME lifecycle_atfork_prepare_handler_allocates COMMAND ${CMAKE_COMMAND}
    "-DCOMMAND=$<TARGET_FILE:lifecycle_atfork_handler_allocates>|SEP|$<TARGET_FILE:stackheap>"
    "-DRC=0"
    "-DSTDOUT=atfork_handler_allocates: child exited 7"
    -P ${CMAKE_CURRENT_SOURCE_DIR}/check/expect.cmake)
  set_tests_properties(lifecycle_atfork_prepare_handler_allocates PROPERTIES TIMEOUT 60)
endif()

# ---- a setuid program reads no option (secure_getenv) -------------------------------
# Linked statically (a setuid program ignores LD_PRELOAD); run as nobody with
# the setuid bit by lifecycle/setuid.sh, which needs root (skipped otherwise).
if(NOT SH_SANITIZE)
  add_executable(lifecycle_setuid_options lifecycle/setuid_options.c)
  target_link_libraries(lifecycle_setuid_options PRIVATE stackheap_static)
  add_test(NAME lifecycle_setuid_program_reads_no_option
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/lifecycle/setuid.sh
      $<TARGET_FILE:lifecycle_setuid_options>)
  set_tests_properties(lifecycle_setuid_program_reads_no_option PROPERTIES
    SKIP_RETURN_CODE 77 PASS_REGULAR_EXPRESSION "setuid: ok" TIMEOUT 60)
endif()

# ---- mlockall with a user's memory-lock limit -----------------------------------------
# The heap's bookkeeping must fit in RLIMIT_MEMLOCK next to the program (the
# 32 MiB BSS segment map did not).  Not under sanitizers: their shadow maps
# are terabytes.
if(NOT SH_SANITIZE)
  add_executable(lifecycle_mlockall_current lifecycle/mlockall_current.c)
  target_link_libraries(lifecycle_mlockall_current PRIVATE stackheap)
  add_test(NAME lifecycle_mlockall_current_within_user_limit COMMAND lifecycle_mlockall_current)
  set_tests_properties(lifecycle_mlockall_current_within_user_limit PROPERTIES
    PASS_REGULAR_EXPRESSION "mlockall_current: locked" TIMEOUT 60)
endif()

# ---- the tour ---------------------------------------------------------------------------
# `stackheap tour` (what `make run` shows) checks each figure it measures against
# what its text says, and exits 1 with "UNEXPECTED: ..." when one contradicts it.
# Its speed figures are printed, never compared: the machine may be busy.  Not
# under ThreadSanitizer, which would keep a shadow several times the size of the
# 256 MiB of heap the tour writes (AddressSanitizer's, an eighth of it, leaves
# the tour's bound on what goes back to the OS met: about 89% of the growth).
if(NOT SH_SANITIZE MATCHES "thread")
  add_test(NAME tour_figures_agree_with_their_text COMMAND stackheap_tool tour)
  set_tests_properties(tour_figures_agree_with_their_text PROPERTIES TIMEOUT 120
    FAIL_REGULAR_EXPRESSION "UNEXPECTED")
endif()
