# addresses_differ.cmake -- run PROGRAM (harden/aslr.c) twice, each a fresh
# process with PRELOAD in LD_PRELOAD, and fail if the 48-byte block or the
# 3 MiB block has the same address in both runs.
# cmake -DPROGRAM=... -DPRELOAD=... [-DNO_ASLR=setarch|SEP|<arch>|SEP|-R] -P addresses_differ.cmake
# NO_ASLR, when given, turns the kernel's ASLR off for the runs (the random
# base must be stackheap's own); if it cannot run here, the runs go without it.
string(REPLACE "|SEP|" ";" NO_ASLR "${NO_ASLR}")
if(NO_ASLR)
  execute_process(COMMAND ${NO_ASLR} true RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message("'${NO_ASLR}' does not run here (${rc}): the runs keep the kernel's ASLR")
    set(NO_ASLR "")
  endif()
endif()
foreach(run 1 2)
  execute_process(COMMAND ${NO_ASLR} ${CMAKE_COMMAND} -E env LD_PRELOAD=${PRELOAD} ${PROGRAM}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("---- run ${run} (exit ${rc}) ----\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "run ${run}: expected exit status 0, got '${rc}'")
  endif()
  if(NOT out MATCHES "small (0x[0-9a-f]+)\nlarge (0x[0-9a-f]+)\n")
    message(FATAL_ERROR "run ${run}: expected 'small 0x...' and 'large 0x...' on stdout")
  endif()
  set(small${run} ${CMAKE_MATCH_1})
  set(large${run} ${CMAKE_MATCH_2})
endforeach()
set(bad "")
if(small1 STREQUAL small2)
  string(APPEND bad "the 48-byte block is at ${small1} in both runs\n")
endif()
if(large1 STREQUAL large2)
  string(APPEND bad "the 3 MiB block is at ${large1} in both runs\n")
endif()
if(bad)
  message(FATAL_ERROR "${bad}")
endif()
