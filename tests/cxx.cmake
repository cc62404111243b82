# C++'s operator new and delete (src/override_cxx.c), from a real C++ program
# under LD_PRELOAD.  Needs a C++ compiler (g++, apt-get install g++): without
# one the test is left out, and configuring says so.
include(CheckLanguage)
check_language(CXX)
if(NOT CMAKE_CXX_COMPILER)
  message(STATUS "stackheap: no C++ compiler: the C++ operator new/delete test is left out "
                 "(apt-get install g++)")
elseif(SH_OVERRIDE AND NOT SH_SANITIZE MATCHES "address|thread|memory")
  enable_language(CXX)
  add_executable(cxx_new_delete cxx_new_delete.cc)
  set_target_properties(cxx_new_delete PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
  target_compile_options(cxx_new_delete PRIVATE -O1 -w)
  target_link_libraries(cxx_new_delete PRIVATE ${CMAKE_DL_LIBS})
  add_test(NAME cxx_operators_new_and_delete_are_stackheaps COMMAND ${CMAKE_COMMAND}
    "-DCOMMAND=$<TARGET_FILE:cxx_new_delete>" "-DENV=LD_PRELOAD=$<TARGET_FILE:stackheap>" "-DRC=0"
    "-DSTDOUT=_Znwm: stackheap|SEP|_ZdlPvm: stackheap|SEP|_ZnwmSt11align_val_t: stackheap|SEP|_ZdlPvmSt11align_val_t: stackheap|SEP|_ZnamRKSt9nothrow_t: stackheap|SEP|aligned new: 64-aligned|SEP|nothrow new of 4 EiB: nullptr|SEP|new of 4 EiB: std::bad_alloc, handler ran|SEP|cxx_new_delete: done, 100000 strings"
    "-DSTDOUT_NOMATCH=NOT stackheap"
    -P ${CMAKE_CURRENT_SOURCE_DIR}/check/expect.cmake)
  set_tests_properties(cxx_operators_new_and_delete_are_stackheaps PROPERTIES TIMEOUT 120)
endif()
