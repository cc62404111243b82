# expect.cmake -- run one command and check its exit status and reports.
# cmake -DCOMMAND=... -DENV=... -DRC=<number|abort|segv> -DMATCH=... -DNOMATCH=...
#       -DSTDOUT=... -DSTDOUT_NOMATCH=... -DSAVE_LINES=... -DSAVE_TO=... -P expect.cmake
# Lists come with "|SEP|" between items (a ';' would split the test's command
# line).  MATCH: regexes the stderr must match; NOMATCH: that it must not;
# STDOUT: regexes the stdout must match; STDOUT_NOMATCH: that it must not.
# SAVE_LINES: a regex; the stderr lines matching it are written to SAVE_TO
# (for a later test to read).
foreach(v COMMAND ENV MATCH NOMATCH STDOUT STDOUT_NOMATCH)
  string(REPLACE "|SEP|" ";" ${v} "${${v}}")
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E env ${ENV} ${COMMAND}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("---- stdout ----\n${out}---- stderr ----\n${err}---- exit: ${rc}")
set(bad "")
if(RC STREQUAL "abort")
  # cmake -E env reports a child killed by SIGABRT on stderr and exits 1
  if(NOT rc MATCHES "abort|Abort" AND NOT err MATCHES "Subprocess aborted")
    string(APPEND bad "expected the program to abort, it exited with '${rc}'\n")
  endif()
elseif(RC STREQUAL "segv")
  # cmake -E env reports a child killed by SIGSEGV on stderr and exits 1
  if(NOT rc MATCHES "Segmentation fault" AND NOT err MATCHES "Segmentation fault")
    string(APPEND bad "expected the program to die by SIGSEGV, it exited with '${rc}'\n")
  endif()
elseif(NOT "${rc}" STREQUAL "${RC}")
  string(APPEND bad "expected exit status ${RC}, got '${rc}'\n")
endif()
foreach(m IN LISTS MATCH)
  if(NOT err MATCHES "${m}")
    string(APPEND bad "stderr does not match: ${m}\n")
  endif()
endforeach()
foreach(m IN LISTS NOMATCH)
  if(err MATCHES "${m}")
    string(APPEND bad "stderr matches what it must not: ${m}\n")
  endif()
endforeach()
foreach(m IN LISTS STDOUT)
  if(NOT out MATCHES "${m}")
    string(APPEND bad "stdout does not match: ${m}\n")
  endif()
endforeach()
foreach(m IN LISTS STDOUT_NOMATCH)
  if(out MATCHES "${m}")
    string(APPEND bad "stdout matches what it must not: ${m}\n")
  endif()
endforeach()
if(SAVE_TO)
  string(REGEX MATCHALL "${SAVE_LINES}" lines "${err}")
  list(TRANSFORM lines STRIP) # a line's regex may start with the newline before it
  list(JOIN lines "\n" text)
  file(WRITE "${SAVE_TO}" "${text}\n")
  message("---- saved to ${SAVE_TO} ----\n${text}")
endif()
if(bad)
  message(FATAL_ERROR "${bad}")
endif()
