# fedrec-datagen's output formats: the fedrec output pinned, the raw POS
# exports checked against their own expected.txt and the fedrec run.
add_test(NAME test_datagen_raw
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_datagen_raw.sh
          ${PROJECT_BINARY_DIR}/bin)
set_tests_properties(test_datagen_raw PROPERTIES LABELS integration
  TIMEOUT 120)
