# fr_add_test(NAME SOURCES a.c b.c [LABEL label] [TIMEOUT seconds] [LIBS ...])
# One cmocka executable per module, registered with CTest.
function(fr_add_test name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE frcommon ${T_LIBS} cmocka)
  target_compile_definitions(${name} PRIVATE FR_TESTING=1
    FR_TEST_VECTORS_DIR="${PROJECT_SOURCE_DIR}/tests/vectors"
    FR_BIN_DIR="${PROJECT_BINARY_DIR}/bin")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
endfunction()
