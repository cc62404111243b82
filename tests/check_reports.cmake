# Check mode's reports for other tools (issue 13): indirect leaks,
# suppressions, and the JSON and SARIF files (docs/REPORTS.md).  Included by
# check.cmake, whose sh_check_test, RUN and FRAME it uses; each test runs one
# of the one-bug programs of tests/check/ and asserts the text report and,
# through expect.cmake's DOC_MATCH, fields of the files it wrote.
set(R ${CMAKE_CURRENT_BINARY_DIR}/reports)
set(SUPP ${CMAKE_CURRENT_SOURCE_DIR}/check/supp)
file(MAKE_DIRECTORY ${R})
set(ROOT --source-root ${CMAKE_SOURCE_DIR})

# ---- leak kinds ------------------------------------------------------------------

sh_check_test(check_indirect_leak_of_a_list RC 0
  COMMAND ${RUN} --json ${R}/list.json --sarif ${R}/list.sarif ${ROOT}
          $<TARGET_FILE:check_leak_indirect> list
  REMOVE ${R}/list.json ${R}/list.sarif
  MATCH "stackheap: leak: 16 bytes in 1 block definitely lost \\(no pointer to them is left\\), from 1 allocation site:\n  16 bytes in 1 block allocated at:\n    ${FRAME} new_node [^ ]*tests/check/leak_indirect.c:23\n    ${FRAME} build_list [^ ]*leak_indirect.c:[0-9]+\n    ${FRAME} main "
        "\nstackheap: leak: 144 bytes in 9 blocks indirectly lost \\(only lost blocks point to them\\), from 1 allocation site:\n  144 bytes in 9 blocks allocated at:\n    ${FRAME} new_node [^ ]*tests/check/leak_indirect.c:23\n"
        "\nstackheap: check: 2 problems found\n"
  DOC_MATCH ${R}/list.json@findings/LENGTH=^2$
            ${R}/list.json@findings/0/kind=^definitely_lost$
            "${R}/list.json@findings/0/message=^16 bytes in 1 block definitely lost"
            ${R}/list.json@findings/0/bytes=^16$
            ${R}/list.json@findings/0/blocks=^1$
            ${R}/list.json@findings/0/address=^0x[0-9a-f]+$
            "${R}/list.json@findings/0/stacks/0/label=^allocated at$"
            ${R}/list.json@findings/0/stacks/0/frames/0/function=^new_node$
            ${R}/list.json@findings/0/stacks/0/frames/0/file=/tests/check/leak_indirect.c$
            ${R}/list.json@findings/0/stacks/0/frames/0/line=^23$
            ${R}/list.json@findings/0/stacks/0/frames/1/function=^build_list$
            ${R}/list.json@findings/1/kind=^indirectly_lost$
            ${R}/list.json@findings/1/bytes=^144$
            ${R}/list.json@findings/1/blocks=^9$
            ${R}/list.json@leak_check/definitely_lost/bytes=^16$
            ${R}/list.json@leak_check/indirectly_lost/blocks=^9$
            ${R}/list.json@leak_check/indirectly_lost/bytes=^144$
            ${R}/list.json@state=^exited$
            ${R}/list.json@problems=^2$
            ${R}/list.sarif@version=^2[.]1[.]0$
            ${R}/list.sarif@runs/0/results/LENGTH=^2$
            ${R}/list.sarif@runs/0/results/0/ruleId=^definitely_lost$
            ${R}/list.sarif@runs/0/results/0/level=^error$
            ${R}/list.sarif@runs/0/results/1/ruleId=^indirectly_lost$
            ${R}/list.sarif@runs/0/results/1/ruleIndex=^1$
            ${R}/list.sarif@runs/0/tool/driver/rules/1/id=^indirectly_lost$
            ${R}/list.sarif@runs/0/results/1/level=^warning$
            "${R}/list.sarif@runs/0/results/1/message/text=^144 bytes in 9 blocks indirectly lost"
            ${R}/list.sarif@runs/0/results/1/locations/0/physicalLocation/artifactLocation/uri=^tests/check/leak_indirect.c$
            ${R}/list.sarif@runs/0/results/1/locations/0/physicalLocation/artifactLocation/uriBaseId=^%SRCROOT%$
            ${R}/list.sarif@runs/0/results/1/locations/0/physicalLocation/region/startLine=^23$
            ${R}/list.sarif@runs/0/results/1/stacks/0/frames/0/location/logicalLocations/0/fullyQualifiedName=^new_node$
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
  COMMAND ${RUN} --suppressions ${SUPP}/leak.supp --json ${R}/suppressed.json
          $<TARGET_FILE:check_leak>
  REMOVE ${R}/suppressed.json
  MATCH "stackheap: leak: 100 bytes in 1 block definitely lost \\(no pointer to them is left\\), from 1 allocation site:\n  100 bytes in 1 block allocated at:"
        "\nstackheap: suppressed: 1 block, 300 bytes by 1 rule\n  1 block, 300 bytes by leak:\\^parse_bo\\*y\\$ \\([^)]*/supp/leak.supp:4\\)\n"
  NOMATCH "300 bytes in 1 block allocated" "a_function_no_stack_holds"
  DOC_MATCH ${R}/suppressed.json@findings/LENGTH=^1$
            ${R}/suppressed.json@findings/0/bytes=^100$
            ${R}/suppressed.json@suppressed/blocks=^1$
            ${R}/suppressed.json@suppressed/bytes=^300$
            ${R}/suppressed.json@suppressed/rules/LENGTH=^2$
            ${R}/suppressed.json@suppressed/rules/0/rule=^leak:\\^parse_bo\\*y\\$$
            ${R}/suppressed.json@suppressed/rules/0/file=/supp/leak.supp$
            ${R}/suppressed.json@suppressed/rules/0/line=^4$
            ${R}/suppressed.json@suppressed/rules/0/blocks=^1$
            ${R}/suppressed.json@suppressed/rules/1/blocks=^0$
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

# ---- JSON and SARIF ----------------------------------------------------------------

sh_check_test(check_reports_of_a_leak RC 0
  COMMAND ${RUN} --json ${R}/leak.json --sarif ${R}/leak.sarif ${ROOT} $<TARGET_FILE:check_leak>
  REMOVE ${R}/leak.json ${R}/leak.sarif
  MATCH "stackheap: leak: 400 bytes in 2 blocks definitely lost"
  DOC_MATCH ${R}/leak.json@format=^stackheap-check-report$
            ${R}/leak.json@version=^1$
            ${R}/leak.json@tool/name=^stackheap$
            ${R}/leak.json@pid=^[0-9]+$
            ${R}/leak.json@program=/check_leak$
            ${R}/leak.json@argv/0=check_leak$
            ${R}/leak.json@findings/LENGTH=^2$
            ${R}/leak.json@findings/0/kind=^definitely_lost$
            "${R}/leak.json@findings/0/message=^300 bytes in 1 block definitely lost \\(no pointer to them is left\\)$"
            ${R}/leak.json@findings/0/bytes=^300$
            ${R}/leak.json@findings/0/blocks=^1$
            ${R}/leak.json@findings/0/stacks/0/frames/0/function=^make_buffer$
            ${R}/leak.json@findings/0/stacks/0/frames/0/line=^11$
            ${R}/leak.json@findings/0/stacks/0/frames/0/module=/check_leak$
            ${R}/leak.json@findings/0/stacks/0/frames/0/offset=^0x[0-9a-f]+$
            ${R}/leak.json@findings/0/stacks/0/frames/1/function=^parse_body$
            ${R}/leak.json@findings/0/stacks/0/frames/1/line=^24$
            ${R}/leak.json@findings/0/suppression=^leak:\\^make_buffer\\$$
            ${R}/leak.json@findings/1/bytes=^100$
            ${R}/leak.json@findings/1/stacks/0/frames/1/function=^parse_header$
            ${R}/leak.json@leak_check/still_reachable/blocks=^[1-9]
            ${R}/leak.json@state=^exited$
            ${R}/leak.sarif@runs/0/results/LENGTH=^2$
            ${R}/leak.sarif@runs/0/results/0/ruleId=^definitely_lost$
            ${R}/leak.sarif@runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri=^tests/check/leak.c$
            ${R}/leak.sarif@runs/0/results/0/locations/0/physicalLocation/region/startLine=^11$
            ${R}/leak.sarif@runs/0/results/0/properties/bytes=^300$
            ${R}/leak.sarif@runs/0/properties/leak_check/definitely_lost/bytes=^400$)
# --show-reachable puts the reachable blocks in the files too
sh_check_test(check_reports_of_reachable_blocks RC 0
  COMMAND ${RUN} --show-reachable --json ${R}/reachable.json --sarif ${R}/reachable.sarif
          $<TARGET_FILE:check_leak>
  REMOVE ${R}/reachable.json ${R}/reachable.sarif
  DOC_MATCH ${R}/reachable.json@findings/2/kind=^still_reachable$
            "${R}/reachable.json@findings/2/message=still reachable at exit"
            ${R}/reachable.sarif@runs/0/results/2/ruleId=^still_reachable$
            ${R}/reachable.sarif@runs/0/results/2/level=^note$)
# a bad free aborts the program: the files are complete all the same
sh_check_test(check_reports_of_a_double_free RC abort
  COMMAND ${RUN} --json ${R}/double_free.json --sarif ${R}/double_free.sarif ${ROOT}
          $<TARGET_FILE:check_double_free>
  REMOVE ${R}/double_free.json ${R}/double_free.sarif
  MATCH "stackheap: double free: free\\(0x[0-9a-f]+\\) of a 48-byte block freed already" "aborting"
  DOC_MATCH ${R}/double_free.json@findings/LENGTH=^1$
            ${R}/double_free.json@findings/0/kind=^double_free$
            "${R}/double_free.json@findings/0/message=^double free: free\\(0x[0-9a-f]+\\) of a 48-byte block freed already$"
            ${R}/double_free.json@findings/0/bytes=^48$
            ${R}/double_free.json@findings/0/address=^0x[0-9a-f]+$
            ${R}/double_free.json@findings/0/stacks/LENGTH=^3$
            "${R}/double_free.json@findings/0/stacks/0/label=^free called at$"
            ${R}/double_free.json@findings/0/stacks/0/frames/0/function=^release_record$
            ${R}/double_free.json@findings/0/stacks/0/frames/0/line=^7$
            ${R}/double_free.json@findings/0/stacks/0/frames/1/function=^main$
            ${R}/double_free.json@findings/0/stacks/0/frames/1/file=/tests/check/double_free.c$
            ${R}/double_free.json@findings/0/stacks/0/frames/1/line=^14$
            ${R}/double_free.json@findings/0/stacks/0/frames/1/address=^0x[0-9a-f]+$
            "${R}/double_free.json@findings/0/stacks/1/label=^first freed at$"
            ${R}/double_free.json@findings/0/stacks/1/frames/1/line=^13$
            "${R}/double_free.json@findings/0/stacks/2/label=^allocated at$"
            ${R}/double_free.json@findings/0/stacks/2/frames/0/line=^12$
            ${R}/double_free.json@state=^stopped_at_error$
            ${R}/double_free.json@problems=^1$
            ${R}/double_free.json@leak_check=^$
            "${R}/double_free.sarif@$schema=sarif-schema-2[.]1[.]0[.]json$"
            ${R}/double_free.sarif@version=^2[.]1[.]0$
            ${R}/double_free.sarif@runs/LENGTH=^1$
            ${R}/double_free.sarif@runs/0/tool/driver/name=^stackheap$
            ${R}/double_free.sarif@runs/0/tool/driver/rules/LENGTH=^11$
            ${R}/double_free.sarif@runs/0/tool/driver/rules/3/id=^double_free$
            ${R}/double_free.sarif@runs/0/originalUriBaseIds/%SRCROOT%/uri=^file:///.*/$
            ${R}/double_free.sarif@runs/0/results/LENGTH=^1$
            ${R}/double_free.sarif@runs/0/results/0/ruleId=^double_free$
            ${R}/double_free.sarif@runs/0/results/0/ruleIndex=^3$
            ${R}/double_free.sarif@runs/0/results/0/level=^error$
            "${R}/double_free.sarif@runs/0/results/0/message/text=^double free: free\\(0x[0-9a-f]+\\) of a 48-byte block freed already$"
            ${R}/double_free.sarif@runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri=^tests/check/double_free.c$
            ${R}/double_free.sarif@runs/0/results/0/locations/0/physicalLocation/artifactLocation/uriBaseId=^%SRCROOT%$
            ${R}/double_free.sarif@runs/0/results/0/locations/0/physicalLocation/region/startLine=^7$
            ${R}/double_free.sarif@runs/0/results/0/stacks/LENGTH=^3$
            "${R}/double_free.sarif@runs/0/results/0/stacks/0/message/text=^free called at$"
            ${R}/double_free.sarif@runs/0/results/0/stacks/0/frames/1/location/physicalLocation/region/startLine=^14$
            ${R}/double_free.sarif@runs/0/results/0/stacks/0/frames/1/location/physicalLocation/address/absoluteAddress=^[1-9][0-9]*$
            ${R}/double_free.sarif@runs/0/results/0/stacks/0/frames/1/location/logicalLocations/0/fullyQualifiedName=^main$
            ${R}/double_free.sarif@runs/0/results/0/stacks/0/frames/1/module=/check_double_free$
            ${R}/double_free.sarif@runs/0/properties/state=^stopped_at_error$)
# outside the source root (the default: the working directory, here the
# build tree) a file is an absolute file: URI; --error-exitcode ends the
# files as an abort does
sh_check_test(check_reports_outside_the_source_root RC 9
  COMMAND ${RUN} --error-exitcode 9 --json ${R}/double_free_exit.json
          --sarif ${R}/double_free_exit.sarif $<TARGET_FILE:check_double_free>
  REMOVE ${R}/double_free_exit.json ${R}/double_free_exit.sarif
  DOC_MATCH ${R}/double_free_exit.json@state=^stopped_at_error$
            ${R}/double_free_exit.sarif@runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri=^file:///.*/tests/check/double_free.c$
            ${R}/double_free_exit.sarif@runs/0/results/0/locations/0/physicalLocation/region/startLine=^7$)
sh_check_test(check_reports_of_an_overrun RC 0
  COMMAND ${RUN} --json ${R}/overrun.json --sarif ${R}/overrun.sarif ${ROOT}
          $<TARGET_FILE:check_overrun> after
  REMOVE ${R}/overrun.json ${R}/overrun.sarif
  MATCH "heap overrun: 1 byte written after the end of a 24-byte block"
  DOC_MATCH ${R}/overrun.json@findings/LENGTH=^1$
            ${R}/overrun.json@findings/0/kind=^heap_overrun$
            ${R}/overrun.json@findings/0/bytes=^24$
            "${R}/overrun.json@findings/0/message=^heap overrun: 1 byte written after the end of a 24-byte block at 0x[0-9a-f]+ \\(found at free\\)$"
            "${R}/overrun.json@findings/0/details/0=^the guard after it is damaged from byte 0 to byte 0 past its end$"
            "${R}/overrun.json@findings/0/stacks/0/label=^the block was allocated at$"
            ${R}/overrun.json@findings/0/stacks/0/frames/0/line=^23$
            ${R}/overrun.sarif@runs/0/results/0/ruleId=^heap_overrun$
            ${R}/overrun.sarif@runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri=^tests/check/overrun.c$
            ${R}/overrun.sarif@runs/0/results/0/locations/0/physicalLocation/region/startLine=^23$
            "${R}/overrun.sarif@runs/0/results/0/properties/details/0=^the guard after it")
sh_check_test(check_reports_of_an_underrun RC 0
  COMMAND ${RUN} --json ${R}/underrun.json $<TARGET_FILE:check_overrun> before
  REMOVE ${R}/underrun.json
  DOC_MATCH ${R}/underrun.json@findings/0/kind=^heap_underrun$
            "${R}/underrun.json@findings/0/details/0=^the guard before it is damaged")
sh_check_test(check_reports_of_a_write_after_free RC 0
  COMMAND ${RUN} --json ${R}/use_after_free.json --sarif ${R}/use_after_free.sarif ${ROOT}
          $<TARGET_FILE:check_use_after_free>
  REMOVE ${R}/use_after_free.json ${R}/use_after_free.sarif
  MATCH "use after free: 1 byte written into a 32-byte block"
  DOC_MATCH ${R}/use_after_free.json@findings/LENGTH=^1$
            ${R}/use_after_free.json@findings/0/kind=^use_after_free$
            ${R}/use_after_free.json@findings/0/bytes=^32$
            "${R}/use_after_free.json@findings/0/stacks/0/label=^the block was freed at$"
            ${R}/use_after_free.json@findings/0/stacks/0/frames/0/line=^21$
            "${R}/use_after_free.json@findings/0/stacks/1/label=^and allocated at$"
            ${R}/use_after_free.json@findings/0/stacks/1/frames/0/line=^20$
            ${R}/use_after_free.sarif@runs/0/results/0/ruleId=^use_after_free$
            ${R}/use_after_free.sarif@runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri=^tests/check/use_after_free.c$
            ${R}/use_after_free.sarif@runs/0/results/0/locations/0/physicalLocation/region/startLine=^21$)
sh_check_test(check_reports_of_an_open_frame RC 0
  COMMAND ${RUN} --json ${R}/open_frame.json --sarif ${R}/open_frame.sarif
          $<TARGET_FILE:check_open_frame>
  REMOVE ${R}/open_frame.json ${R}/open_frame.sarif
  DOC_MATCH ${R}/open_frame.json@findings/0/kind=^open_frame$
            ${R}/open_frame.json@findings/0/bytes=^200$
            ${R}/open_frame.sarif@runs/0/results/0/level=^warning$)
# the kind each finding has in the files
foreach(case
    "invalid_free_interior|abort|invalid_free|check_free_interior"
    "invalid_free_stack|abort|invalid_free|check_free_stack"
    "invalid_free_wild|abort|invalid_free|check_not_from_malloc|realloc-wild"
    "invalid_free_sized|0|invalid_free|check_sized_free"
    "invalid_pointer|abort|invalid_pointer|check_not_from_malloc|usable-interior"
    "use_after_free_usable_size|abort|use_after_free|check_not_from_malloc|usable-freed"
    "write_after_pop|0|write_after_pop|check_open_frame|write-after-pop")
  string(REPLACE "|" ";" case "${case}")
  list(GET case 0 name)
  list(GET case 1 rc)
  list(GET case 2 kind)
  list(GET case 3 program)
  set(args "")
  list(LENGTH case n)
  if(n GREATER 4)
    list(GET case 4 args)
  endif()
  set(continue "")
  if(rc STREQUAL "0")
    set(continue --continue)
  endif()
  sh_check_test(check_kind_of_${name} RC ${rc}
    COMMAND ${RUN} ${continue} --json ${R}/kind_${name}.json --sarif ${R}/kind_${name}.sarif
            $<TARGET_FILE:${program}> ${args}
    REMOVE ${R}/kind_${name}.json ${R}/kind_${name}.sarif
    DOC_MATCH ${R}/kind_${name}.json@findings/0/kind=^${kind}$
              ${R}/kind_${name}.sarif@runs/0/results/0/ruleId=^${kind}$)
endforeach()
# a program killed by a signal leaves whole files, with what it found
sh_check_test(check_reports_of_a_killed_program RC killed
  COMMAND ${RUN} --json ${R}/killed.json --sarif ${R}/killed.sarif
          $<TARGET_FILE:check_overrun> after killed
  REMOVE ${R}/killed.json ${R}/killed.sarif
  MATCH "heap overrun: 1 byte written after the end"
  DOC_MATCH ${R}/killed.json@findings/0/kind=^heap_overrun$
            ${R}/killed.json@state=^running$
            ${R}/killed.json@leak_check=^$
            ${R}/killed.sarif@runs/0/results/0/ruleId=^heap_overrun$
            ${R}/killed.sarif@runs/0/properties/state=^running$)
sh_check_test(check_reports_from_the_environment RC 0
  COMMAND $<TARGET_FILE:check_leak>
  ENV STACKHEAP_CHECK=1 LD_PRELOAD=$<TARGET_FILE:stackheap> STACKHEAP_JSON=${R}/env.json
      STACKHEAP_SARIF=${R}/env.sarif
  REMOVE ${R}/env.json ${R}/env.sarif
  DOC_MATCH ${R}/env.json@findings/LENGTH=^2$
            ${R}/env.sarif@runs/0/results/LENGTH=^2$)
# a program built without -g and stripped: no source lines, no names for its
# functions; the entry names its module, the SARIF location is the program
add_executable(check_leak_nodebug check/leak.c)
target_compile_options(check_leak_nodebug PRIVATE -g0 -O0 -fno-omit-frame-pointer -w)
target_link_options(check_leak_nodebug PRIVATE -s)
sh_check_test(check_reports_without_debug_information RC 0
  COMMAND ${RUN} --gen-suppressions --sarif ${R}/nodebug.sarif $<TARGET_FILE:check_leak_nodebug>
  REMOVE ${R}/nodebug.sarif
  MATCH "  a suppression for it:\nleak:/check_leak_nodebug\\$\n"
  SAVE_LINES "\nleak:[^\n]*" SAVE_TO ${R}/generated_nodebug.supp
  DOC_MATCH ${R}/nodebug.sarif@runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri=^check_leak_nodebug$
            ${R}/nodebug.sarif@runs/0/results/0/locations/0/physicalLocation/region=<absent>)
set_tests_properties(check_reports_without_debug_information
  PROPERTIES FIXTURES_SETUP generated_nodebug_supp)
sh_check_test(check_generated_module_suppression RC 0
  COMMAND ${RUN} --error-exitcode 9 --suppressions ${R}/generated_nodebug.supp
          $<TARGET_FILE:check_leak_nodebug>
  MATCH "stackheap: suppressed: 2 blocks, 400 bytes by 1 rule"
  NOMATCH "lost" "problem")
set_tests_properties(check_generated_module_suppression
  PROPERTIES FIXTURES_REQUIRED generated_nodebug_supp)
# strings are escaped: an argument with quotes, a backslash, a tab and UTF-8,
# and one with a byte that is not UTF-8 (0xFF), which becomes U+FFFD
string(ASCII 255 not_utf8)
sh_check_test(check_reports_escape_strings RC 0
  COMMAND ${RUN} --json ${R}/escape.json --sarif ${R}/escape.sarif $<TARGET_FILE:check_leak>
          "a \"quoted\" back\\slash\tand café" "x${not_utf8}y"
  REMOVE ${R}/escape.json ${R}/escape.sarif
  DOC_MATCH "${R}/escape.json@argv/1=^a \"quoted\" back\\\\slash\tand café$"
            "${R}/escape.json@argv/2=^x�y$"
            ${R}/escape.sarif@version=^2[.]1[.]0$)
# the files of a program that forks: the child writes no finding into its
# parent's file; with %p, each process writes its own
sh_check_test(check_reports_of_a_fork_child RC 0
  COMMAND ${RUN} --json ${R}/fork.json $<TARGET_FILE:check_fork_leak>
  REMOVE ${R}/fork.json
  MATCH "111 bytes in 1 block definitely lost" "222 bytes in 1 block definitely lost"
  DOC_MATCH ${R}/fork.json@findings/LENGTH=^1$
            ${R}/fork.json@findings/0/bytes=^222$
            ${R}/fork.json@state=^exited$
  STDOUT "fork_leak: child done" "fork_leak: parent done")
# without %p, a program started by the checked one rewrites the file; the
# first process leaves it to the program, with a warning
sh_check_test(check_reports_of_a_program_started_by_another RC 0
  COMMAND ${RUN} --json ${R}/shared.json $<TARGET_FILE:check_spawn> $<TARGET_FILE:check_leak>
  REMOVE ${R}/shared.json
  MATCH "stackheap: warning: the JSON report '[^']*shared.json' was rewritten by another process: this one \\([0-9]+\\) stops writing it"
  DOC_MATCH ${R}/shared.json@program=/check_leak$
            ${R}/shared.json@findings/LENGTH=^2$
            ${R}/shared.json@state=^exited$)
# a program that closes every descriptor and opens a file of its own gets
# the report's descriptor back: the report leaves that file alone
sh_check_test(check_report_descriptor_reused_by_the_program RC 0
  COMMAND ${RUN} --json ${R}/closed.json $<TARGET_FILE:check_closes_fds> ${R}/program_file.json
  REMOVE ${R}/closed.json ${R}/program_file.json
  MATCH "64 bytes in 1 block definitely lost"
        "stackheap: warning: the JSON report '[^']*closed.json' lost its descriptor \\(the program closed it\\): it stops here"
  DOC_MATCH ${R}/program_file.json@mine=^1$
            ${R}/program_file.json@LENGTH=^1$
            ${R}/closed.json@state=^running$
  STDOUT "closes_fds: fd 3")
add_test(NAME check_reports_per_process
  COMMAND ${CMAKE_COMMAND} -DTOOL=$<TARGET_FILE:stackheap_tool>
          -DPROGRAM=$<TARGET_FILE:check_fork_leak> -DDIR=${R}/per_process
          -P ${CMAKE_CURRENT_SOURCE_DIR}/check/per_process.cmake)
sh_check_test(check_report_file_that_cannot_be_opened RC 0
  COMMAND ${RUN} --json /nonexistent/dir/report.json $<TARGET_FILE:check_leak>
  MATCH "stackheap: warning: cannot open '/nonexistent/dir/report.json' for the JSON report \\(STACKHEAP_JSON\\): none is written"
        "definitely lost"
  STDOUT "leak: done")
sh_check_test(check_report_options_need_check RC 2
  COMMAND $<TARGET_FILE:stackheap_tool> run --json ${R}/unused.json $<TARGET_FILE:check_leak>
  MATCH "stackheap run: --json needs --check")
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
