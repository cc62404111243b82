# expect.cmake -- run a program under `stackheap run --profile` and check the
# profile it leaves.  cmake -DCOMMAND=... -DOUT=PREFIX -DMODE=<exact|sampled|sampled-small|
#   sampled-total|html>
#   -DMATCH=... -DBROWSER=<path or empty> -P expect.cmake
# Lists come with "|SEP|" between items.  MATCH: regexes the stderr (the text
# summary) must match.  exact: the collapsed stacks hold alloc_a's 8 MiB
# exactly; sampled: the estimate of alloc_a's peak is within the sampling
# error (see below); sampled-small: so are the estimates of the small
# blocks' calls, and the temporaries found; html: a headless browser loads the report and the DOM
# its scripts built holds the flame graph's frames and the chart.
foreach(v COMMAND MATCH)
  string(REPLACE "|SEP|" ";" ${v} "${${v}}")
endforeach()
if(MODE STREQUAL "html" AND NOT BROWSER)
  # (cmake_language(EXIT) needs CMake 3.29: the test's SKIP_REGULAR_EXPRESSION
  # makes this line a skip)
  message("SKIPPED: no chromium to load the HTML report in (scripts/deps.sh installs it as root)")
  return()
endif()
file(REMOVE ${OUT}.html ${OUT}.peak.collapsed ${OUT}.alloc.collapsed ${OUT}.leak.collapsed)
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("---- stdout ----\n${out}---- stderr ----\n${err}---- exit: ${rc}")
set(bad "")
if(NOT rc EQUAL 0)
  string(APPEND bad "expected exit status 0, got '${rc}'\n")
endif()
foreach(m IN LISTS MATCH)
  if(NOT err MATCHES "${m}")
    string(APPEND bad "stderr does not match: ${m}\n")
  endif()
endforeach()
foreach(f html peak.collapsed alloc.collapsed leak.collapsed)
  if(NOT EXISTS ${OUT}.${f})
    string(APPEND bad "no ${OUT}.${f}\n")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "${bad}")
endif()
file(READ ${OUT}.peak.collapsed peak)
message("---- ${OUT}.peak.collapsed ----\n${peak}")
if(MODE STREQUAL "exact")
  # root first, the malloc's caller last, then the bytes
  if(NOT peak MATCHES "main \\(known.c:[0-9]+\\);alloc_a \\(known.c:[0-9]+\\) 8388608\n")
    message(FATAL_ERROR "the peak's collapsed stacks do not give alloc_a exactly 8388608 bytes")
  endif()
  file(READ ${OUT}.leak.collapsed leak)
  if(NOT leak MATCHES "main \\(known.c:[0-9]+\\);leak_c \\(known.c:[0-9]+\\) 300\n")
    message(FATAL_ERROR "the leaks' collapsed stacks do not give leak_c 300 bytes")
  endif()
elseif(MODE STREQUAL "sampled")
  # Each 1 MiB block is sampled with q = 1 - exp(-1 MiB / 512 KiB) = 0.8647 and
  # stands for 1/q MiB = 1.1565 MiB, so alloc_a's estimate is k * 1.1565 MiB,
  # k ~ Binomial(8, q): mean 8 MiB, standard deviation 1.12 MiB.  Four of them:
  # 3.5 to 12.5 MiB (k = 8 gives the most, 9.25 MiB; k <= 3 has probability 1e-4).
  if(NOT peak MATCHES "alloc_a \\(known.c:[0-9]+\\) ([0-9]+)\n")
    message(FATAL_ERROR "alloc_a is not in the peak's collapsed stacks")
  endif()
  set(est ${CMAKE_MATCH_1})
  if(est LESS 3670016 OR est GREATER 13107200)
    message(FATAL_ERROR "alloc_a's estimated peak ${est} is outside 3.5 to 12.5 MiB")
  endif()
elseif(MODE STREQUAL "sampled-small")
  # One sample per 4 KiB: a malloc of a 32-byte block is sampled with
  # q = 1 - exp(-32/4096) and stands for 1/q calls, so temp_b's estimate of
  # its 100000 calls has a standard deviation of sqrt(100000 (1 - q) / q),
  # 3570; keep_d's of 50000 (48 bytes), 2060.  20% off is 5.6 and 4.9 of
  # them: a bias in which of malloc's allocations are sampled fails here.
  # Every sampled block of temp_b's is freed before the next allocation.
  foreach(site_calls "temp_b;100000" "keep_d;50000")
    list(GET site_calls 0 site)
    list(GET site_calls 1 calls)
    if(NOT err MATCHES "\n  ([0-9]+) calls, [^\n]*\n +#0 ${site} ")
      string(APPEND bad "${site} is not among the sites with the most calls\n")
      continue()
    endif()
    set(est ${CMAKE_MATCH_1})
    math(EXPR lo "${calls} * 8 / 10")
    math(EXPR hi "${calls} * 12 / 10")
    if(est LESS lo OR est GREATER hi)
      string(APPEND bad "${site}'s estimated calls ${est} are not within 20% of ${calls}\n")
    endif()
  endforeach()
  if(NOT err MATCHES "MOST TEMPORARY ALLOCATIONS\n  ([0-9]+) temporary of ([0-9]+) calls, at:\n +#0 temp_b "
     OR NOT CMAKE_MATCH_1 STREQUAL CMAKE_MATCH_2)
    string(APPEND bad "temp_b's sampled calls are not all temporary\n")
  endif()
  if(bad)
    message(FATAL_ERROR "${bad}")
  endif()
elseif(MODE STREQUAL "sampled-total")
  # The program (realloc_grow, threads_grow) checked what it could (it exits
  # 1 otherwise) and printed the bytes it asked for; the allocated stacks'
  # estimate of them, at one sample per KiB, is within a few tenths of a
  # percent of the truth by sampling error (realloc_grow: 1.4 GB;
  # threads_grow: 250 MB in blocks of 16 to 1024 bytes, 0.4%), plus up to
  # 3% high from the profiler's own block per sample (page.c, "sampling"):
  # 5% off is a bias such as allocations that are never a trial (10% short
  # before lists installed off the slow path were deferred) or counted twice.
  if(NOT out MATCHES "[a-z_]+: ok, ([0-9]+) bytes asked")
    message(FATAL_ERROR "the program did not finish")
  endif()
  set(asked ${CMAKE_MATCH_1})
  file(STRINGS ${OUT}.alloc.collapsed lines)
  set(sum 0)
  foreach(l IN LISTS lines)
    if(l MATCHES " ([0-9]+)$")
      math(EXPR sum "${sum} + ${CMAKE_MATCH_1}")
    endif()
  endforeach()
  math(EXPR lo "${asked} / 100 * 95")
  math(EXPR hi "${asked} / 100 * 105")
  message("asked ${asked} bytes; the profile's estimate: ${sum}")
  if(sum LESS lo OR sum GREATER hi)
    message(FATAL_ERROR "the estimate ${sum} is not within 5% of the ${asked} bytes asked")
  endif()
elseif(MODE STREQUAL "html")
  execute_process(COMMAND ${BROWSER} --headless --no-sandbox --disable-gpu --dump-dom
      file://${OUT}.html
    RESULT_VARIABLE brc OUTPUT_VARIABLE dom ERROR_VARIABLE berr TIMEOUT 90)
  string(LENGTH "${dom}" len)
  message("---- the DOM (${len} bytes), browser exit ${brc}")
  foreach(m "<svg[^>]*id=\"flamegraph\"" "<g class=\"frame\" data-name=\"alloc_a \\(known.c:[0-9]+\\)\" data-value=\"8388608\""
      "<g class=\"frame\" data-name=\"main \\(known.c:[0-9]+\\)\""
      "<svg[^>]*id=\"timeline\"" "<polyline class=\"heap\" points=\"[0-9]" "<polyline class=\"rss\" points=\"[0-9]"
      "<table id=\"top-peak\"><tbody><tr><th>bytes</th><th>site</th>[^!]*alloc_a"
      "<table id=\"top-calls\"><tbody><tr><th>calls</th>[^!]*100000</td><td>temp_b")
    if(NOT dom MATCHES "${m}")
      string(APPEND bad "the DOM does not match: ${m}\n")
    endif()
  endforeach()
  if(bad)
    message(FATAL_ERROR "${bad}browser stderr:\n${berr}")
  endif()
endif()
