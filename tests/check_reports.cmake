# Check mode's reports for other tools (issue 13): indirect leaks and
# suppressions.  Included by check.cmake, whose sh_check_test, RUN and FRAME
# it uses; each test runs one of the one-bug programs of tests/check/ and
# asserts the text report.
set(R ${CMAKE_CURRENT_BINARY_DIR}/reports)
set(SUPP ${CMAKE_CURRENT_SOURCE_DIR}/check/supp)
file(MAKE_DIRECTORY ${R})

# ---- leak kinds ------------------------------------------------------------------

sh_check_test(check_indirect_leak_of_a_list RC 0
  COMMAND ${RUN} $<TARGET_FILE:check_leak_indirect> list
  MATCH "stackheap: leak: 16 bytes in 1 block definitely lost \\(no pointer to them is left\\), from 1 allocation site:\n  16 bytes in 1 block allocated at:\n    ${FRAME} new_node [^ ]*tests/check/leak_indirect.c:23\n    ${FRAME} build_list [^ ]*leak_indirect.c:[0-9]+\n    ${FRAME} main "
        "\nstackheap: leak: 144 bytes in 9 blocks indirectly lost \\(only lost blocks point to them\\), from 1 allocation site:\n  144 bytes in 9 blocks allocated at:\n    ${FRAME} new_node [^ ]*tests/check/leak_indirect.c:23\n"
        "\nstackheap: check: 2 problems found\n"
  STDOUT "leak_indirect: done")
# a lost cycle has no root: its first block (by address) stands for it
sh_check_test(check_indirect_leak_of_a_cycle RC 0
  COMMAND ${RUN} $<TARGET_FILE:check_leak_indirect> cycle
  MATCH "stackheap: leak: 32 bytes in 1 block definitely lost \\(no pointer to them is left\\), from 1 allocation site:\n  32 bytes in 1 block allocated at:\n    ${FRAME} build_cycle [^ ]*leak_indirect.c:(59|60)\n"
        "stackheap: leak: 32 bytes in 1 block indirectly lost \\(only lost blocks point to them\\), from 1 allocation site:\n  32 bytes in 1 block allocated at:\n    ${FRAME} build_cycle [^ ]*leak_indirect.c:(59|60)\n")
# a block pointing into a cycle is the structure's root, the cycle indirect
sh_check_test(check_indirect_leak_of_a_cycle_with_a_tail RC 0
  COMMAND ${RUN} $<TARGET_FILE:check_leak_indirect> tail
  MATCH "stackheap: leak: 48 bytes in 1 block definitely lost \\(no pointer to them is left\\), from 1 allocation site:\n  48 bytes in 1 block allocated at:\n    ${FRAME} build_tailed_cycle [^ ]*leak_indirect.c:71\n"
        "stackheap: leak: 64 bytes in 2 blocks indirectly lost \\(only lost blocks point to them\\), from 2 allocation sites:\n"
  NOMATCH "32 bytes in 1 block definitely lost")
sh_check_test(check_indirect_leak_under_an_owner RC 0
  COMMAND ${RUN} $<TARGET_FILE:check_leak_indirect> owner
  MATCH "stackheap: leak: 16 bytes in 1 block definitely lost \\(no pointer to them is left\\), from 1 allocation site:\n  16 bytes in 1 block allocated at:\n    ${FRAME} new_owner [^ ]*leak_indirect.c:44\n"
        "stackheap: leak: 160 bytes in 10 blocks indirectly lost \\(only lost blocks point to them\\), from 1 allocation site:\n  160 bytes in 10 blocks allocated at:\n    ${FRAME} new_node [^ ]*leak_indirect.c:23\n    ${FRAME} build_owned_list ")
sh_check_test(check_reachable_list_is_not_lost RC 0
  COMMAND ${RUN} --error-exitcode 9 $<TARGET_FILE:check_leak_indirect> kept
  NOMATCH "lost" "problem"
  STDOUT "leak_indirect: done")

# ---- suppressions ----------------------------------------------------------------

sh_check_test(check_suppressions_hide_a_leak RC 0
  COMMAND ${RUN} --suppressions ${SUPP}/leak.supp $<TARGET_FILE:check_leak>
  MATCH "stackheap: leak: 100 bytes in 1 block definitely lost \\(no pointer to them is left\\), from 1 allocation site:\n  100 bytes in 1 block allocated at:"
        "\nstackheap: suppressed: 1 block, 300 bytes by 1 rule\n  1 block, 300 bytes by leak:\\^parse_bo\\*y\\$ \\([^)]*/supp/leak.supp:4\\)\n"
  NOMATCH "300 bytes in 1 block allocated" "a_function_no_stack_holds"
  STDOUT "leak: done")
# a rule for a structure's root hides the blocks it holds too
sh_check_test(check_suppressed_owner_takes_its_list RC 0
  COMMAND ${RUN} --error-exitcode 9 --suppressions ${SUPP}/owner.supp
          $<TARGET_FILE:check_leak_indirect> owner
  MATCH "stackheap: suppressed: 11 blocks, 176 bytes by 1 rule\n  11 blocks, 176 bytes by leak:\\^new_owner\\$"
  NOMATCH "lost" "problem")
sh_check_test(check_suppression_by_module RC 0
  COMMAND ${RUN} --error-exitcode 9 --suppressions ${SUPP}/module.supp $<TARGET_FILE:check_leak>
  MATCH "stackheap: suppressed: 2 blocks, 400 bytes by 1 rule"
  NOMATCH "lost" "problem")
sh_check_test(check_suppression_by_source_file RC 0
  COMMAND ${RUN} --error-exitcode 9 --suppressions ${SUPP}/file.supp
          $<TARGET_FILE:check_leak_indirect> list
  MATCH "stackheap: suppressed: 10 blocks, 160 bytes by 1 rule"
  NOMATCH "lost" "problem")
sh_check_test(check_suppressions_from_the_environment RC 0
  COMMAND $<TARGET_FILE:check_leak>
  ENV STACKHEAP_CHECK=1 LD_PRELOAD=$<TARGET_FILE:stackheap> STACKHEAP_SUPPRESSIONS=${SUPP}/leak.supp
  MATCH "stackheap: suppressed: 1 block, 300 bytes by 1 rule")
# suppressions are for leaks only: a rule matching a double free's stacks leaves it reported
sh_check_test(check_suppressions_do_not_hide_a_double_free RC abort
  COMMAND ${RUN} --suppressions ${SUPP}/free.supp $<TARGET_FILE:check_double_free>
  MATCH "stackheap: double free: free\\(0x[0-9a-f]+\\) of a 48-byte block freed already")
sh_check_test(check_suppressions_bad_line RC abort
  COMMAND ${RUN} --suppressions ${SUPP}/bad_line.supp $<TARGET_FILE:check_leak>
  MATCH "^stackheap: suppressions: [^\n]*/supp/bad_line.supp:3: 'frobnicate the widget' is not a suppression: a line is leak:PATTERN, a # comment or blank\n"
  STDOUT_NOMATCH "leak: done")
sh_check_test(check_suppressions_of_another_kind RC abort
  COMMAND ${RUN} --suppressions ${SUPP}/other_kind.supp $<TARGET_FILE:check_leak>
  MATCH "^stackheap: suppressions: [^\n]*/supp/other_kind.supp:1: 'race:\\^make_buffer\\$': stackheap reads only leak: suppressions \\(its other findings cannot be suppressed\\)\n"
  STDOUT_NOMATCH "leak: done")
sh_check_test(check_suppressions_without_a_pattern RC abort
  COMMAND ${RUN} --suppressions ${SUPP}/no_pattern.supp $<TARGET_FILE:check_leak>
  MATCH "^stackheap: suppressions: [^\n]*/supp/no_pattern.supp:2: 'leak:' has no pattern"
  STDOUT_NOMATCH "leak: done")
sh_check_test(check_suppressions_file_missing RC abort
  COMMAND ${RUN} --suppressions /nonexistent/leaks.supp $<TARGET_FILE:check_leak>
  MATCH "^stackheap: suppressions: cannot read '/nonexistent/leaks.supp': no such file\n"
  STDOUT_NOMATCH "leak: done")

# --gen-suppressions: the entries it prints, saved to a file, suppress the same leaks
sh_check_test(check_gen_suppressions RC 0
  COMMAND ${RUN} --gen-suppressions $<TARGET_FILE:check_leak>
  MATCH "  300 bytes in 1 block allocated at:\n[^!]*  a suppression for it:\nleak:\\^make_buffer\\$\n  100 bytes"
  SAVE_LINES "\nleak:[^\n]*" SAVE_TO ${R}/generated.supp)
set_tests_properties(check_gen_suppressions PROPERTIES FIXTURES_SETUP generated_supp)
sh_check_test(check_generated_suppressions_suppress_the_leaks RC 0
  COMMAND ${RUN} --error-exitcode 9 --suppressions ${R}/generated.supp $<TARGET_FILE:check_leak>
  MATCH "stackheap: suppressed: 2 blocks, 400 bytes by 1 rule"
  NOMATCH "lost" "problem")
set_tests_properties(check_generated_suppressions_suppress_the_leaks
  PROPERTIES FIXTURES_REQUIRED generated_supp)
sh_check_test(check_gen_suppressions_for_indirect_leaks RC 0
  COMMAND ${RUN} --gen-suppressions $<TARGET_FILE:check_leak_indirect> list
  SAVE_LINES "\nleak:[^\n]*" SAVE_TO ${R}/generated_list.supp
  MATCH "indirectly lost[^!]*  a suppression for it:\nleak:\\^new_node\\$\n")
set_tests_properties(check_gen_suppressions_for_indirect_leaks
  PROPERTIES FIXTURES_SETUP generated_list_supp)
sh_check_test(check_generated_suppressions_suppress_the_list RC 0
  COMMAND ${RUN} --error-exitcode 9 --suppressions ${R}/generated_list.supp
          $<TARGET_FILE:check_leak_indirect> list
  MATCH "stackheap: suppressed: 10 blocks, 160 bytes by 1 rule"
  NOMATCH "lost" "problem")
set_tests_properties(check_generated_suppressions_suppress_the_list
  PROPERTIES FIXTURES_REQUIRED generated_list_supp)

# a program built without -g and stripped: no source lines, no names for its
# functions; the entry names its module
add_executable(check_leak_nodebug check/leak.c)
target_compile_options(check_leak_nodebug PRIVATE -g0 -O0 -fno-omit-frame-pointer -w)
target_link_options(check_leak_nodebug PRIVATE -s)
sh_check_test(check_gen_suppressions_without_debug_information RC 0
  COMMAND ${RUN} --gen-suppressions $<TARGET_FILE:check_leak_nodebug>
  MATCH "  a suppression for it:\nleak:/check_leak_nodebug\\$\n"
  SAVE_LINES "\nleak:[^\n]*" SAVE_TO ${R}/generated_nodebug.supp)
set_tests_properties(check_gen_suppressions_without_debug_information
  PROPERTIES FIXTURES_SETUP generated_nodebug_supp)
sh_check_test(check_generated_module_suppression RC 0
  COMMAND ${RUN} --error-exitcode 9 --suppressions ${R}/generated_nodebug.supp
          $<TARGET_FILE:check_leak_nodebug>
  MATCH "stackheap: suppressed: 2 blocks, 400 bytes by 1 rule"
  NOMATCH "lost" "problem")
set_tests_properties(check_generated_module_suppression
  PROPERTIES FIXTURES_REQUIRED generated_nodebug_supp)
sh_check_test(check_report_options_need_check RC 2
  COMMAND $<TARGET_FILE:stackheap_tool> run --gen-suppressions $<TARGET_FILE:check_leak>
  MATCH "stackheap run: --gen-suppressions needs --check")
sh_check_test(check_one_suppressions_file RC 2
  COMMAND ${RUN} --suppressions ${SUPP}/leak.supp --suppressions ${SUPP}/owner.supp
          $<TARGET_FILE:check_leak>
  MATCH "stackheap run: --suppressions takes one file")

# the leak kinds on a real program, against memcheck's
add_test(NAME check_leak_kinds_agree_with_memcheck
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check/agree.sh $<TARGET_FILE:stackheap_tool>
          ${CMAKE_CURRENT_BINARY_DIR}/check_agree)
set_tests_properties(check_leak_kinds_agree_with_memcheck
  PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
