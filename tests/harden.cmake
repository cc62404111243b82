# Hardening (SH_HARDEN, the release default): one-bug programs, a misuse per
# file in harden/, built with -g -O0 -w and NOT linked with stackheap; each
# runs with libstackheap.so preloaded and must die by SIGABRT with the exact
# first line of stderr asserted.  No program may print "BUG" (its sign that
# the allocator let the misuse through and handed out a live or forged block).
# Needs the override (LD_PRELOAD), so not in sanitizer builds.
if(SH_HARDEN AND SH_OVERRIDE AND NOT SH_SANITIZE MATCHES "address|thread|memory")
  set(SH_HARDEN_PROGRAMS
    overflow_into_freed_neighbour write_after_free_link
    double_free double_free_last_live_block double_free_remote double_free_borrowed
    free_interior free_metadata large_header_overflow
    usable_size_of_freed realloc_of_freed aslr
    sized_delete_wrong_size aligned_delete_wrong_size sized_delete_right_size
    large_overflow_into_next free_after_heap_destroy)
  foreach(p IN LISTS SH_HARDEN_PROGRAMS)
    add_executable(harden_${p} harden/${p}.c)
    target_compile_options(harden_${p} PRIVATE -g -O0 -fno-omit-frame-pointer -w)
    target_link_libraries(harden_${p} PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
  endforeach()

  # sh_harden_test(NAME PROGRAM FIRST_LINE [ARG...]): PROGRAM (run with the
  # ARGs) aborts, stderr starts with the line FIRST_LINE (a regex), stdout
  # holds no "BUG".
  function(sh_harden_test name program first_line)
    string(REPLACE ";" "|SEP|" args "${ARGN}")
    add_test(NAME ${name} COMMAND ${CMAKE_COMMAND}
      "-DCOMMAND=$<TARGET_FILE:harden_${program}>|SEP|${args}"
      "-DENV=LD_PRELOAD=$<TARGET_FILE:stackheap>"
      "-DRC=abort" "-DMATCH=^${first_line}\n" "-DSTDOUT_NOMATCH=BUG"
      -P ${CMAKE_CURRENT_SOURCE_DIR}/check/expect.cmake)
    set_tests_properties(${name} PROPERTIES TIMEOUT 120)
  endfunction()

  set(A "0x[0-9a-f]+")
  set(OVERWRITTEN "was overwritten \\(a write after free, or an overflow from the block before it\\)")
  sh_harden_test(harden_overflow_into_freed_neighbour overflow_into_freed_neighbour
    "stackheap: heap corruption: a free block \\(${A}\\) of the 48-byte page at ${A} ${OVERWRITTEN}")
  sh_harden_test(harden_write_after_free_link write_after_free_link
    "stackheap: heap corruption: a free block \\(${A}\\) of the 48-byte page at ${A} ${OVERWRITTEN}")

  sh_harden_test(harden_double_free_small double_free
    "stackheap: double free: free\\(${A}\\) of a 48-byte block that is free already" 48)
  sh_harden_test(harden_double_free_medium double_free
    "stackheap: double free: free\\(${A}\\) of a 57344-byte block that is free already" 50000)
  sh_harden_test(harden_double_free_span double_free
    "stackheap: double free: free\\(${A}\\) of a block that is free already \\(no block of this span segment starts there now\\)" 500000)
  foreach(size 3145728 41943040)
    sh_harden_test(harden_double_free_large_${size} double_free
      "stackheap: double free or invalid free: free\\(${A}\\) points into memory stackheap released \\(a block freed already, or a stale pointer\\)" ${size})
  endforeach()
  sh_harden_test(harden_free_after_heap_destroy free_after_heap_destroy
    "stackheap: double free or invalid free: free\\(${A}\\) points into memory stackheap released \\(a block freed already, or a stale pointer\\)")
  sh_harden_test(harden_double_free_last_live_block double_free_last_live_block
    "stackheap: double free: free\\(${A}\\) of a 2048-byte block that is free already")
  sh_harden_test(harden_double_free_remote double_free_remote
    "stackheap: double free: free\\(${A}\\) of a 48-byte block that is free already")
  # a block another thread freed and holds: in a list it keeps for reuse, or
  # in its outbox (page.c, "borrowing" and "the outbox")
  foreach(where borrowed outbox)
    foreach(who owner freer third)
      sh_harden_test(harden_double_free_${where}_${who} double_free_borrowed
        "stackheap: double free: free\\(${A}\\) of a 48-byte block that is free already \\(held by the thread that freed it, for reuse or to return in a batch\\)" ${who} ${where})
    endforeach()
  endforeach()

  set(INTO "stackheap: invalid free: free\\(${A}\\) points")
  sh_harden_test(harden_free_interior_small free_interior
    "${INTO} 16 byte\\(s\\) into the 64-byte block at ${A}" 64 16)
  sh_harden_test(harden_free_interior_medium free_interior
    "${INTO} 4096 byte\\(s\\) into the 20480-byte block at ${A}" 20000 4096)
  sh_harden_test(harden_free_interior_span free_interior
    "${INTO} 4096 byte\\(s\\) into the 524288-byte block at ${A}" 500000 4096)
  sh_harden_test(harden_free_interior_large free_interior
    "${INTO} 4096 byte\\(s\\) into the 3149696-byte block at ${A}" 3145728 4096)
  sh_harden_test(harden_free_misaligned free_interior
    "${INTO} 1 byte\\(s\\) into the 64-byte block at ${A}" 64 1)
  # the same, freed by another thread (its lean path falls back to the full checks)
  sh_harden_test(harden_free_interior_remote free_interior
    "${INTO} 16 byte\\(s\\) into the 64-byte block at ${A}" 64 16 remote)
  sh_harden_test(harden_free_interior_medium_remote free_interior
    "${INTO} 4096 byte\\(s\\) into the 20480-byte block at ${A}" 20000 4096 remote)
  sh_harden_test(harden_free_metadata free_metadata
    "stackheap: invalid free: free\\(${A}\\) points into stackheap's page metadata, not at a block")
  sh_harden_test(harden_large_header_overflow large_header_overflow
    "stackheap: heap corruption: free\\(${A}\\): the header of the large block at ${A} was overwritten \\(by an overflow from the memory before it, or a write before the block's start\\)")
  sh_harden_test(harden_usable_size_of_freed usable_size_of_freed
    "stackheap: use after free: malloc_usable_size\\(${A}\\) of a 48-byte block that is free already")
  sh_harden_test(harden_realloc_of_freed realloc_of_freed
    "stackheap: double free: realloc\\(${A}\\) of a 48-byte block that is free already")

  # The heap's base is stackheap's own random pick, not the kernel's ASLR:
  # with setarch -R (ASLR off for the run) the addresses must still differ.
  find_program(SH_SETARCH setarch)
  if(SH_SETARCH)
    set(SH_NO_ASLR ${SH_SETARCH} ${CMAKE_HOST_SYSTEM_PROCESSOR} -R)
  else()
    set(SH_NO_ASLR "")
  endif()
  string(REPLACE ";" "|SEP|" SH_NO_ASLR "${SH_NO_ASLR}")
  add_test(NAME harden_heap_addresses_differ_between_runs COMMAND ${CMAKE_COMMAND}
    "-DPROGRAM=$<TARGET_FILE:harden_aslr>" "-DPRELOAD=$<TARGET_FILE:stackheap>"
    "-DNO_ASLR=${SH_NO_ASLR}"
    -P ${CMAKE_CURRENT_SOURCE_DIR}/harden/addresses_differ.cmake)
  set_tests_properties(harden_heap_addresses_differ_between_runs PROPERTIES TIMEOUT 120)

  # C++ sized and aligned delete (called by their mangled names, from C)
  sh_harden_test(harden_sized_delete_wrong_size sized_delete_wrong_size
    "stackheap: invalid free: operator delete\\(${A}\\) with size 32, which is not the size it was allocated with \\(its block holds 8 bytes\\)")
  # on free's fast path (a block of this thread's): too small for its class
  sh_harden_test(harden_sized_delete_too_small sized_delete_wrong_size
    "stackheap: invalid free: operator delete\\(${A}\\) with size 40, which is not the size it was allocated with \\(its block holds 112 bytes\\)" 100 40)
  sh_harden_test(harden_aligned_delete_wrong_size aligned_delete_wrong_size
    "stackheap: invalid free: operator delete\\(${A}\\) with size 128, which is not the size it was allocated with \\(its block holds 64 bytes\\)")
  add_test(NAME harden_sized_delete_right_size_is_accepted COMMAND ${CMAKE_COMMAND}
    "-DCOMMAND=$<TARGET_FILE:harden_sized_delete_right_size>"
    "-DENV=LD_PRELOAD=$<TARGET_FILE:stackheap>" "-DRC=0"
    "-DSTDOUT=sized_delete_right_size: [0-9]+ deletes accepted"
    -P ${CMAKE_CURRENT_SOURCE_DIR}/check/expect.cmake)
  set_tests_properties(harden_sized_delete_right_size_is_accepted PROPERTIES TIMEOUT 120)

  # a linear overflow off a large block's end faults in the gap after its
  # mapping: it never reaches the next block's header
  add_test(NAME harden_large_overflow_faults_in_the_gap COMMAND ${CMAKE_COMMAND}
    "-DCOMMAND=$<TARGET_FILE:harden_large_overflow_into_next>"
    "-DENV=LD_PRELOAD=$<TARGET_FILE:stackheap>" "-DRC=segv" "-DSTDOUT_NOMATCH=BUG"
    -P ${CMAKE_CURRENT_SOURCE_DIR}/check/expect.cmake)
  set_tests_properties(harden_large_overflow_faults_in_the_gap PROPERTIES TIMEOUT 120)
endif()
