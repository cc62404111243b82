# Check mode (src/check/, `stackheap run --check`): one small buggy program per
# finding, built with -g -O0 and NOT linked with stackheap (check mode is for
# unmodified programs), run through the tool; expect.cmake checks the report.
# Needs the override (LD_PRELOAD), so not in sanitizer builds.
if(SH_OVERRIDE AND NOT SH_SANITIZE MATCHES "address|thread|memory")
  foreach(p leak leak_indirect fork_leak spawn closes_fds double_free free_stack free_interior
      overrun use_after_free clean quarantine double_free_big not_from_malloc sized_free
      aligned_huge overflow_read sampled_sizes)
    add_executable(check_${p} check/${p}.c)
    target_compile_options(check_${p} PRIVATE -g -O0 -fno-omit-frame-pointer -w)
    target_link_libraries(check_${p} PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
  endforeach()

  # sh_check_test(NAME RC <status|abort|segv> COMMAND ... [ENV ...] [MATCH ...] [NOMATCH ...]
  #               [STDOUT ...] [STDOUT_NOMATCH ...] [REMOVE files...]
  #               [DOC_MATCH FILE@PATH=REGEX...] [SAVE_LINES regex SAVE_TO file])
  # (expect.cmake says what each checks)
  function(sh_check_test name)
    cmake_parse_arguments(T "" "RC;SAVE_LINES;SAVE_TO"
      "COMMAND;ENV;MATCH;NOMATCH;STDOUT;STDOUT_NOMATCH;REMOVE;DOC_MATCH" ${ARGN})
    foreach(v COMMAND ENV MATCH NOMATCH STDOUT STDOUT_NOMATCH REMOVE DOC_MATCH)
      string(REPLACE ";" "|SEP|" T_${v} "${T_${v}}")
    endforeach()
    add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} "-DCOMMAND=${T_COMMAND}" "-DENV=${T_ENV}"
      "-DRC=${T_RC}" "-DMATCH=${T_MATCH}" "-DNOMATCH=${T_NOMATCH}" "-DSTDOUT=${T_STDOUT}"
      "-DSTDOUT_NOMATCH=${T_STDOUT_NOMATCH}" "-DREMOVE=${T_REMOVE}" "-DDOC_MATCH=${T_DOC_MATCH}"
      "-DSAVE_LINES=${T_SAVE_LINES}" "-DSAVE_TO=${T_SAVE_TO}"
      -P ${CMAKE_CURRENT_SOURCE_DIR}/check/expect.cmake)
    set_tests_properties(${name} PROPERTIES TIMEOUT 120)
  endfunction()

  set(RUN $<TARGET_FILE:stackheap_tool> run --check)
  set(FRAME "#[0-9]+ 0x[0-9a-f]+ in")

  sh_check_test(check_leaks_by_site RC 0
    COMMAND ${RUN} $<TARGET_FILE:check_leak>
    MATCH "stackheap: leak: 400 bytes in 2 blocks definitely lost \\(no pointer to them is left\\), from 2 allocation sites"
          "300 bytes in 1 block allocated at:[^#]*${FRAME} make_buffer [^ ]*leak.c:[0-9]+[^#]*${FRAME} parse_body [^ ]*leak.c:[0-9]+[^#]*${FRAME} main "
          "100 bytes in 1 block allocated at:[^#]*${FRAME} make_buffer [^ ]*leak.c:[0-9]+[^#]*${FRAME} parse_header [^ ]*leak.c:[0-9]+"
          "300 bytes in 1 block[^!]*100 bytes in 1 block"
          "still reachable at exit"
    NOMATCH "777 bytes" "invalid free" "overrun"
    STDOUT "leak: done")
  sh_check_test(check_reachable_block_is_listed_apart RC 0
    COMMAND $<TARGET_FILE:stackheap_tool> run --check --show-reachable $<TARGET_FILE:check_leak>
    MATCH "still reachable at exit \\(a pointer to them is left\\), from:[^!]*777 bytes in 1 block allocated at:[^#]*${FRAME} keep_in_global [^ ]*leak.c:[0-9]+")
  sh_check_test(check_overwritten_pointer_makes_a_leak RC 9
    COMMAND ${RUN} --error-exitcode 9 $<TARGET_FILE:check_leak>
    ENV LEAK_OVERWRITE=1
    MATCH "1177 bytes in 3 blocks definitely lost"
          "777 bytes in 1 block allocated at:[^#]*${FRAME} keep_in_global"
    STDOUT "leak: done")
  sh_check_test(check_double_free RC abort
    COMMAND ${RUN} $<TARGET_FILE:check_double_free>
    MATCH "stackheap: double free: free\\(0x[0-9a-f]+\\) of a 48-byte block freed already"
          "free called at:[^#]*${FRAME} release_record [^ ]*double_free.c:[0-9]+[^#]*${FRAME} main [^ ]*double_free.c:14"
          "first freed at:[^#]*${FRAME} release_record [^ ]*double_free.c:[0-9]+[^#]*${FRAME} main [^ ]*double_free.c:13"
          "allocated at:[^#]*${FRAME} main [^ ]*double_free.c:12"
          "aborting"
    NOMATCH "still running")
  sh_check_test(check_double_free_error_exitcode RC 9
    COMMAND ${RUN} --error-exitcode 9 $<TARGET_FILE:check_double_free>
    MATCH "double free" "exiting with code 9 \\(the error exit code asked for\\)")
  # free_sized and sized delete with a size of the right class but not the
  # one allocated: release mode cannot tell (harden_sized_delete_* covers the
  # class), check mode reports each, with where it was called and allocated
  sh_check_test(check_sized_free_with_the_wrong_size RC 0
    COMMAND ${RUN} --continue $<TARGET_FILE:check_sized_free>
    MATCH "stackheap: invalid free: free_sized\\(0x[0-9a-f]+\\) with size 12, but the block was allocated with 10"
          "free_sized called at:[^#]*${FRAME} main [^ ]*sized_free.c:20"
          "the block was allocated at:[^#]*${FRAME} main [^ ]*sized_free.c:19"
          "stackheap: invalid free: operator delete\\(0x[0-9a-f]+\\) with size 24, but the block was allocated with 20"
          "2 problems found"
    NOMATCH "with size 40"
    STDOUT "sized_free: done")
  sh_check_test(check_blocks_aligned_to_4_mib_and_more RC 0
    COMMAND ${RUN} $<TARGET_FILE:check_aligned_huge>
    NOMATCH "invalid" "stackheap: [a-z ]+:"
    STDOUT "aligned_huge: done")
  sh_check_test(check_double_free_continue RC 0
    COMMAND ${RUN} --continue $<TARGET_FILE:check_double_free>
    MATCH "double free" "1 problem found"
    STDOUT "double_free: still running")
  # every size, whatever the quarantine holds: a span block, and blocks with
  # mappings of their own (released at once: too big for the quarantine)
  foreach(size 500000 3145728 41943040)
    sh_check_test(check_double_free_of_${size}_bytes RC abort
      COMMAND ${RUN} $<TARGET_FILE:check_double_free_big> ${size}
      MATCH "stackheap: double free: free\\(0x[0-9a-f]+\\) of a ${size}-byte block freed already"
            "free called at:[^#]*${FRAME} release_buffer [^ ]*double_free_big.c:[0-9]+[^#]*${FRAME} main [^ ]*double_free_big.c:17"
            "first freed at:[^#]*${FRAME} release_buffer [^ ]*double_free_big.c:[0-9]+[^#]*${FRAME} main [^ ]*double_free_big.c:16"
            "allocated at:[^#]*${FRAME} main [^ ]*double_free_big.c:14"
      NOMATCH "still running")
  endforeach()
  sh_check_test(check_free_of_a_page_the_program_mapped RC abort
    COMMAND ${RUN} $<TARGET_FILE:check_not_from_malloc> free-mapped
    MATCH "stackheap: invalid free: free\\(0x[0-9a-f]+\\) is not a block any allocator handed out \\(it points into memory mapped outside stackheap \\(mmap\\), not a block\\)"
          "free called at:[^#]*${FRAME} main [^ ]*not_from_malloc.c:[0-9]+")
  sh_check_test(check_realloc_of_a_wild_pointer RC abort
    COMMAND ${RUN} $<TARGET_FILE:check_not_from_malloc> realloc-wild
    MATCH "stackheap: invalid free: realloc\\(0x10\\) is not a block any allocator handed out \\(it points into no mapping: an uninitialised or damaged pointer\\)")
  sh_check_test(check_usable_size_of_a_freed_block RC abort
    COMMAND ${RUN} $<TARGET_FILE:check_not_from_malloc> usable-freed
    MATCH "stackheap: use after free: malloc_usable_size\\(0x[0-9a-f]+\\) of a 48-byte block freed already"
          "malloc_usable_size called at:[^#]*${FRAME} main [^ ]*not_from_malloc.c:[0-9]+")
  sh_check_test(check_usable_size_of_an_interior_pointer RC abort
    COMMAND ${RUN} $<TARGET_FILE:check_not_from_malloc> usable-interior
    MATCH "stackheap: invalid pointer: malloc_usable_size\\(0x[0-9a-f]+\\) of a pointer 8 bytes into a 48-byte block")
  sh_check_test(check_free_of_a_stack_address RC abort
    COMMAND ${RUN} $<TARGET_FILE:check_free_stack>
    MATCH "invalid free: free\\(0x[0-9a-f]+\\) of an address on the stack of this thread, which malloc never returned"
          "${FRAME} release_name [^ ]*free_stack.c:[0-9]+[^#]*${FRAME} main ")
  sh_check_test(check_free_of_an_interior_pointer RC abort
    COMMAND ${RUN} $<TARGET_FILE:check_free_interior>
    MATCH "invalid free: free\\(0x[0-9a-f]+\\) of a pointer 8 bytes into a 64-byte block"
          "free called at:[^#]*${FRAME} release_field [^ ]*free_interior.c:[0-9]+"
          "the block was allocated at:[^#]*${FRAME} main [^ ]*free_interior.c:[0-9]+")
  sh_check_test(check_overrun_after RC 0
    COMMAND ${RUN} $<TARGET_FILE:check_overrun> after
    MATCH "heap overrun: 1 byte written after the end of a 24-byte block at 0x[0-9a-f]+ \\(found at free\\)"
          "damaged from byte 0 to byte 0 past its end"
          "the block was allocated at:[^#]*${FRAME} main [^ ]*overrun.c:[0-9]+"
    STDOUT "overrun: done")
  sh_check_test(check_overrun_before RC 0
    COMMAND ${RUN} $<TARGET_FILE:check_overrun> before
    MATCH "heap underrun: 1 byte written before the start of a 24-byte block"
          "the block was allocated at:[^#]*${FRAME} main [^ ]*overrun.c:[0-9]+")
  sh_check_test(check_overwritten_header_is_not_trusted RC abort
    COMMAND ${RUN} $<TARGET_FILE:check_overrun> header
    MATCH "invalid free: free\\(0x[0-9a-f]+\\): the header before this block was overwritten"
    NOMATCH "heap underrun")
  sh_check_test(check_write_after_free RC 0
    COMMAND ${RUN} $<TARGET_FILE:check_use_after_free>
    MATCH "use after free: 1 byte written into a 32-byte block at 0x[0-9a-f]+ after it was freed \\(bytes 3 to 3\\)"
          "the block was freed at:[^#]*${FRAME} main [^ ]*use_after_free.c:21"
          "and allocated at:[^#]*${FRAME} main [^ ]*use_after_free.c:20")
  sh_check_test(check_write_after_free_of_a_0_byte_block RC 0
    COMMAND ${RUN} $<TARGET_FILE:check_use_after_free> zero
    MATCH "use after free: 1 byte written into a 0-byte block at 0x[0-9a-f]+ after it was freed \\(bytes 1 to 1; negative: before its start, past its size: after its end\\)"
          "use after free: 1 byte written into a 32-byte block")
  sh_check_test(check_write_after_free_before_the_block RC 0
    COMMAND ${RUN} $<TARGET_FILE:check_use_after_free> before
    MATCH "use after free: 1 byte written into a 32-byte block at 0x[0-9a-f]+ after it was freed \\(bytes -2 to -2; negative: before its start"
          "the block was freed at:[^#]*${FRAME} main [^ ]*use_after_free.c:21")
  sh_check_test(check_clean_program_reports_nothing RC 0
    COMMAND ${RUN} --error-exitcode 9 $<TARGET_FILE:check_clean>
    NOMATCH "stackheap"
    STDOUT "clean: done")
  sh_check_test(check_mode_from_the_environment RC abort
    COMMAND $<TARGET_FILE:check_double_free>
    ENV STACKHEAP_CHECK=1 LD_PRELOAD=$<TARGET_FILE:stackheap>
    MATCH "double free: free\\(0x[0-9a-f]+\\) of a 48-byte block")
  sh_check_test(check_log_file RC 0
    COMMAND ${RUN} --log-file ${CMAKE_CURRENT_BINARY_DIR}/check_log.txt $<TARGET_FILE:check_leak>
    NOMATCH "stackheap")
  sh_check_test(check_stats RC 0
    COMMAND $<TARGET_FILE:stackheap_tool> run --stats $<TARGET_FILE:check_clean>
    MATCH "stackheap: stats: peak RSS [0-9.]+ [KMG]i?B; memory mapped by stackheap")
  # 4 threads x 8 MiB of frees: per-thread quarantines would hold up to 16 MiB
  sh_check_test(check_quarantine_budget_is_shared_by_threads RC 0
    COMMAND ${RUN} --stats --quarantine 4M $<TARGET_FILE:check_quarantine>
    MATCH "the quarantine held at most ([1-5]\\.[0-9]+ MiB) \\(budget 4[.0]* MiB\\)"
    STDOUT "quarantine: done")
  sh_check_test(check_quarantine_records_are_not_references RC 9
    COMMAND ${RUN} --quarantine 4K --error-exitcode 9 $<TARGET_FILE:check_quarantine> leak
    MATCH "leak: 24 bytes in 1 block definitely lost" "${FRAME} make_lost [^ ]*quarantine.c:[0-9]+"
    STDOUT "quarantine: done")
  # a static program: LD_PRELOAD cannot reach it, and the tool says so
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_LINK_OPTIONS -static)
  check_c_source_compiles("int main(void) { return 0; }" SH_HAVE_STATIC_LIBC)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(SH_HAVE_STATIC_LIBC)
    add_executable(check_static check/clean.c)
    target_compile_options(check_static PRIVATE -g -O0 -w)
    target_link_libraries(check_static PRIVATE Threads::Threads)
    target_link_options(check_static PRIVATE -static)
    sh_check_test(check_static_program_gets_a_warning RC 0
      COMMAND ${RUN} $<TARGET_FILE:check_static>
      MATCH "stackheap run: warning: '[^']*check_static' is statically linked, so LD_PRELOAD cannot give it stackheap's malloc"
      STDOUT "clean: done")
  else()
    message(STATUS "no static libc (libc.a): the test of `stackheap run` on a static program is left out")
  endif()
  sh_check_test(check_run_of_a_missing_program RC 127
    COMMAND $<TARGET_FILE:stackheap_tool> run --check /nonexistent/program
    MATCH "stackheap run: cannot run '/nonexistent/program'")

  add_executable(check_open_frame check/open_frame.c)
  target_compile_options(check_open_frame PRIVATE -g -O0 -fno-omit-frame-pointer)
  target_link_libraries(check_open_frame PRIVATE stackheap Threads::Threads)
  sh_check_test(check_frame_left_open_at_thread_exit RC 0
    COMMAND ${RUN} $<TARGET_FILE:check_open_frame>
    MATCH "stackheap: open frame: 1 frame of 'default stack of thread [0-9]+' still open when its thread exited \\(200 bytes in use\\)"
          "first allocation was made at:[^!]*${FRAME} build_scratch [^ ]*open_frame.c:12[^!]*${FRAME} worker [^ ]*open_frame.c:[0-9]+"
          "1 problem found"
    STDOUT "open_frame: done")
  sh_check_test(check_write_after_pop RC 0
    COMMAND ${RUN} $<TARGET_FILE:check_open_frame> write-after-pop
    MATCH "stackheap: write after pop: 1 byte of 'default stack of thread [0-9]+' written after the frame that held them was popped \\(bytes 4 to 4 of the memory reused here\\)"
          "popped frame's first allocation was made at:[^!]*${FRAME} make_label [^ ]*open_frame.c:[0-9]+"
          "found when this allocation reused the memory:[^!]*${FRAME} main [^ ]*open_frame.c:[0-9]+"
    STDOUT "write-after-pop done")

  # memcheck on a program linked with stackheap: the heap's client requests
  find_program(SH_VALGRIND valgrind)
  if(SH_VALGRIND AND EXISTS /usr/include/valgrind/memcheck.h)
    add_executable(check_valgrind_leak check/valgrind_leak.c)
    target_compile_options(check_valgrind_leak PRIVATE -g -O0 -fno-omit-frame-pointer)
    target_link_libraries(check_valgrind_leak PRIVATE stackheap)
    sh_check_test(check_valgrind_sees_the_heaps_blocks RC 0
      COMMAND ${SH_VALGRIND} --leak-check=full $<TARGET_FILE:check_valgrind_leak>
      MATCH "123 bytes in 1 blocks are definitely lost"
            "by 0x[0-9A-F]+: leak_buffer \\(valgrind_leak.c:11\\)"
            "Invalid read of size 1"
            "at 0x[0-9A-F]+: read_after_free \\(valgrind_leak.c:20\\)"
            "definitely lost: 123 bytes in 1 blocks"
      NOMATCH "stackheap: leak"
      STDOUT "valgrind_leak: 1")
  endif()

  include(${CMAKE_CURRENT_SOURCE_DIR}/check_reports.cmake)

  foreach(prog python perl sort)
    add_test(NAME check_real_${prog}
      COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check/real.sh $<TARGET_FILE:stackheap_tool> ${prog}
              ${CMAKE_CURRENT_BINARY_DIR}/check_real_${prog})
    set_tests_properties(check_real_${prog} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
    add_test(NAME sampled_real_${prog}
      COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check/real.sh $<TARGET_FILE:stackheap_tool> ${prog}
              ${CMAKE_CURRENT_BINARY_DIR}/sampled_real_${prog} sample)
    set_tests_properties(sampled_real_${prog} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
  endforeach()

  # --unwind: whole stacks from a program built without frame pointers
  # (libunwind.so.8, opened by the library at start-up; skipped without it).
  add_executable(check_leak_deep check/leak_deep.c)
  target_compile_options(check_leak_deep PRIVATE -g -O2 -fomit-frame-pointer -w)
  find_file(SH_LIBUNWIND8 libunwind.so.8 PATHS /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /lib
    NO_DEFAULT_PATH)
  if(SH_LIBUNWIND8)
    sh_check_test(check_unwind_finds_every_frame_without_frame_pointers RC 0
      COMMAND $<TARGET_FILE:stackheap_tool> run --check --unwind $<TARGET_FILE:check_leak_deep>
      MATCH "42 bytes in 1 block allocated at:[^#]*${FRAME} level3 [^ ]*leak_deep.c:[0-9]+[^#]*${FRAME} level2 [^ ]*leak_deep.c:[0-9]+[^#]*${FRAME} level1 [^ ]*leak_deep.c:[0-9]+[^#]*${FRAME} main [^ ]*leak_deep.c:[0-9]+"
      NOMATCH "cannot load libunwind")
  else()
    add_test(NAME check_unwind_finds_every_frame_without_frame_pointers
      COMMAND sh -c "echo 'SKIPPED: libunwind.so.8 is not installed (scripts/deps.sh installs libunwind8 as root)'; exit 77")
    set_tests_properties(check_unwind_finds_every_frame_without_frame_pointers
      PROPERTIES SKIP_RETURN_CODE 77)
  endif()
  # Without libunwind (a preload makes its dlopen fail): a warning that says
  # so, and the program's call site still found (frame pointers are walked).
  add_library(check_no_libunwind SHARED check/no_libunwind.c)
  target_link_libraries(check_no_libunwind PRIVATE ${CMAKE_DL_LIBS})
  sh_check_test(check_unwind_without_libunwind_warns_and_walks_frame_pointers RC 0
    COMMAND $<TARGET_FILE:stackheap_tool> run --check --unwind $<TARGET_FILE:check_leak_deep>
    ENV LD_PRELOAD=$<TARGET_FILE:check_no_libunwind>
    MATCH "STACKHEAP_UNWIND=1: cannot load libunwind.so.8 \\(Debian: apt-get install libunwind8\\); call stacks are walked by frame pointers"
          "42 bytes in 1 block allocated at:[^#]*${FRAME} level3 [^ ]*leak_deep.c:[0-9]+")

  # Sampled guarding in release mode (STACKHEAP_SAMPLE=N, src/check/sampled.c):
  # with N=1 every allocation that fits a slot is guarded, and the bug is
  # caught where it happens (a fault) or at free (the alignment slack).
  set(SAMPLE_ENV STACKHEAP_SAMPLE=1 LD_PRELOAD=$<TARGET_FILE:stackheap>)
  sh_check_test(sampled_overflow_faults_at_the_read RC segv
    COMMAND $<TARGET_FILE:check_overflow_read>
    ENV ${SAMPLE_ENV}
    MATCH "stackheap: sampled: heap buffer overflow: read at 0x[0-9a-f]+, 0 bytes past the end of a 32-byte block at 0x[0-9a-f]+ \\(thread [0-9]+\\), at:[^#]*${FRAME} sum [^ ]*overflow_read.c:10[^#]*${FRAME} main [^ ]*overflow_read.c:19"
          "the block was allocated by thread [0-9]+ at:[^#]*${FRAME} main [^ ]*overflow_read.c:16"
    STDOUT_NOMATCH "overflow_read:")
  sh_check_test(sampled_use_after_free_faults_at_the_write RC segv
    COMMAND $<TARGET_FILE:check_use_after_free>
    ENV ${SAMPLE_ENV}
    MATCH "stackheap: sampled: use after free: write at 0x[0-9a-f]+, byte 3 of a 32-byte block at 0x[0-9a-f]+ freed already \\(thread [0-9]+\\), at:[^#]*${FRAME} set_flag [^ ]*use_after_free.c:[0-9]+[^#]*${FRAME} main [^ ]*use_after_free.c:22"
          "the block was freed by thread [0-9]+ at:[^#]*${FRAME} main [^ ]*use_after_free.c:21"
          "and allocated by thread [0-9]+ at:[^#]*${FRAME} main [^ ]*use_after_free.c:20"
    STDOUT_NOMATCH "use_after_free: done")
  sh_check_test(sampled_overflow_into_the_slack_is_found_at_free RC abort
    COMMAND $<TARGET_FILE:check_overrun> after
    ENV ${SAMPLE_ENV}
    MATCH "stackheap: sampled: heap buffer overflow: 0 bytes past the end of a 24-byte block at 0x[0-9a-f]+ was written; found by free\\(0x[0-9a-f]+\\) \\(thread [0-9]+\\), at:[^#]*${FRAME} main [^ ]*overrun.c:[0-9]+"
          "the block was allocated by thread [0-9]+ at:[^#]*${FRAME} main [^ ]*overrun.c:[0-9]+")
  sh_check_test(sampled_guards_up_to_a_page_and_no_aligned_block RC 0
    COMMAND $<TARGET_FILE:check_sampled_sizes>
    ENV ${SAMPLE_ENV} STACKHEAP_STATS=1
    STDOUT "malloc\\(100\\): guarded\nmalloc\\(page \\+ 1\\): heap\naligned_alloc\\(64, 100\\): heap\nposix_memalign\\(32, 100\\): heap\n"
    MATCH "STACKHEAP_SAMPLE=1: [1-9][0-9]* allocations guarded")
  sh_check_test(sampled_double_free_is_reported RC abort
    COMMAND $<TARGET_FILE:check_double_free>
    ENV ${SAMPLE_ENV}
    MATCH "stackheap: sampled: double free: free\\(0x[0-9a-f]+\\) of a 48-byte block freed already \\(thread [0-9]+\\), at:[^#]*${FRAME} release_record [^ ]*double_free.c:7[^#]*${FRAME} main [^ ]*double_free.c:14"
          "the block was freed by thread [0-9]+ at:[^#]*${FRAME} release_record [^ ]*double_free.c:7[^#]*${FRAME} main [^ ]*double_free.c:13"
          "and allocated by thread [0-9]+ at:[^#]*${FRAME} main [^ ]*double_free.c:12")
endif()
