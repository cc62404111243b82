# the heap's random-walk fuzzer (fuzz_heap.c)
# (included from tests/CMakeLists.txt, which defines SH_WITH_ASAN, after heap.cmake, which
# defines SH_WITH_TSAN)
#
# CTest runs a fixed number of steps on 2 threads with a seed from the clock, printed first
# so that a failure can be replayed (fuzz_heap --seed S --threads 2 --ops N).  The normal
# build and CI's ASan+UBSan build take 8 + 2 = 10 million steps between them, each run well
# under a minute while ctest -j 2 runs other tests beside it.  Measured on the 2-core machine
# (2 threads, the machine shared with other work): RelWithDebInfo 2.1 to 2.7 M steps per
# CPU-second, 1.1 to 4 M per second of wall time, 8 M steps in 2 to 14 s under ctest -j 2;
# Debug ASan+UBSan 0.45 M steps per CPU-second, 0.27 to 0.4 M per second of wall time, 2 M
# steps in 5 to 11 s under ctest -j 2; ThreadSanitizer about 0.13 M per CPU-second (CI's
# TSan step runs it too, with the threaded tests).
set(SH_FUZZ_OPS_PLAIN 8000000)
set(SH_FUZZ_OPS_ASAN 2000000)
set(SH_FUZZ_OPS_TSAN 300000)
if(SH_WITH_ASAN)
  set(SH_FUZZ_OPS ${SH_FUZZ_OPS_ASAN})
elseif(SH_WITH_TSAN)
  set(SH_FUZZ_OPS ${SH_FUZZ_OPS_TSAN})
else()
  set(SH_FUZZ_OPS ${SH_FUZZ_OPS_PLAIN})
endif()

add_executable(fuzz_heap fuzz_heap.c)
target_link_libraries(fuzz_heap PRIVATE stackheap Threads::Threads)
add_test(NAME fuzz_heap COMMAND fuzz_heap --ops ${SH_FUZZ_OPS} --threads 2)
set_tests_properties(fuzz_heap PROPERTIES TIMEOUT 120)
