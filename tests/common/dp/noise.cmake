# Tests of the DDG noise path: sampler statistics against the reference
# pmf and moments, the rotation, and the DDG encode/decode.
include_guard(GLOBAL)
fr_add_test(test_dgauss SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dgauss.c)
fr_add_test(test_rotate SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_rotate.c)
fr_add_test(test_ddg SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ddg.c)
