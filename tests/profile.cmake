# The heap profiler (src/check/profile.c, `stackheap run --profile`): a program
# with a known allocation profile (tests/profile/known.c), built with -g -O0
# and not linked with stackheap, run through the tool; expect.cmake checks
# the text summary, the collapsed stacks and, in a headless browser, the HTML.
if(SH_OVERRIDE AND NOT SH_SANITIZE MATCHES "address|thread|memory")
  add_executable(profile_known profile/known.c)
  target_compile_options(profile_known PRIVATE -g -O0 -fno-omit-frame-pointer)
  add_executable(profile_realloc_grow profile/realloc_grow.c)
  add_executable(profile_threads_grow profile/threads_grow.c)
  target_link_libraries(profile_threads_grow PRIVATE Threads::Threads)

  find_program(SH_CHROMIUM NAMES chromium chromium-browser google-chrome)
  if(NOT SH_CHROMIUM)
    set(SH_CHROMIUM "")
  endif()
  set(FRAME "#[0-9]+ ")
  set(KNOWN "[^ ]*known.c:[0-9]+")
  # sh_profile_test(NAME MODE <exact|sampled|sampled-small|sampled-total|html> ARGS ...
  #                 [PROGRAM target] [MATCH ...]): PROGRAM is profile_known unless given
  function(sh_profile_test name)
    cmake_parse_arguments(T "" "MODE;PROGRAM" "ARGS;MATCH" ${ARGN})
    if(NOT T_PROGRAM)
      set(T_PROGRAM profile_known)
    endif()
    set(out ${CMAKE_CURRENT_BINARY_DIR}/${name})
    set(cmd $<TARGET_FILE:stackheap_tool> run ${T_ARGS} --profile-out ${out} -- $<TARGET_FILE:${T_PROGRAM}>)
    foreach(v cmd T_MATCH)
      string(REPLACE ";" "|SEP|" ${v} "${${v}}")
    endforeach()
    add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} "-DCOMMAND=${cmd}" "-DOUT=${out}"
      "-DMODE=${T_MODE}" "-DMATCH=${T_MATCH}" "-DBROWSER=${SH_CHROMIUM}"
      -P ${CMAKE_CURRENT_SOURCE_DIR}/profile/expect.cmake)
    set_tests_properties(${name} PROPERTIES TIMEOUT 120
      SKIP_REGULAR_EXPRESSION "SKIPPED: no chromium")
  endfunction()

  sh_profile_test(profile_exact_names_peak_calls_temporaries_and_leaks MODE exact
    ARGS --profile
    MATCH "stackheap: profile \\(exact\\): [0-9]+ allocations, [0-9]+ temporary, peak heap 83886[0-9][0-9] bytes"
          "PEAK MEMORY CONSUMERS\n  8388608 bytes \\(8.0 MiB\\) peak, from 8 calls, at:\n +${FRAME}alloc_a ${KNOWN}\n +${FRAME}main ${KNOWN}"
          "MOST CALLS TO ALLOCATION FUNCTIONS\n  100000 calls, 3.0 MiB allocated, at:\n +${FRAME}temp_b ${KNOWN}"
          "MOST TEMPORARY ALLOCATIONS\n  100000 temporary of 100000 calls, at:\n +${FRAME}temp_b ${KNOWN}"
          "MEMORY LEAKED[^\n]*\n[^!]*300 bytes \\(300 B\\) leaked in 3 blocks, at:\n +${FRAME}leak_c ${KNOWN}"
          "wrote [^ ]*profile_exact[^ ]*.html")
  sh_profile_test(profile_sampled_estimates_the_peak MODE sampled
    ARGS --profile=sampled
    MATCH "stackheap: profile \\(sampled, estimates\\)"
          "PEAK MEMORY CONSUMERS\n  [0-9]+ bytes \\([^)]*\\) peak, from [0-9]+ calls, at:\n +${FRAME}alloc_a ${KNOWN}")
  sh_profile_test(profile_sampled_estimates_small_blocks_calls_and_temporaries MODE sampled-small
    ARGS --profile=sampled --profile-sample 4K)
  sh_profile_test(profile_sampled_realloc_keeps_bytes_and_estimates_them MODE sampled-total
    PROGRAM profile_realloc_grow ARGS --profile=sampled --profile-sample 1K)
  sh_profile_test(profile_sampled_estimates_threads_adopted_pages_and_remote_frees
    MODE sampled-total PROGRAM profile_threads_grow ARGS --profile=sampled --profile-sample 1K)
  sh_profile_test(profile_html_report_draws_in_a_browser MODE html ARGS --profile)
endif()
