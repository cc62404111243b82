# Check mode's reports for other tools (issue 13): indirect leaks.
# Included by check.cmake, whose sh_check_test, RUN and FRAME it uses; each
# test runs one of the one-bug programs of tests/check/ and asserts the text
# report.

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

# the leak kinds on a real program, against memcheck's
add_test(NAME check_leak_kinds_agree_with_memcheck
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check/agree.sh $<TARGET_FILE:stackheap_tool>
          ${CMAKE_CURRENT_BINARY_DIR}/check_agree)
set_tests_properties(check_leak_kinds_agree_with_memcheck
  PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
