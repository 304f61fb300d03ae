# A 100,000-item catalogue through a real secure federation of three stores.
add_test(NAME test_catalogue_federation
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_catalogue_federation.sh
          ${PROJECT_BINARY_DIR}/bin)
set_tests_properties(test_catalogue_federation PROPERTIES LABELS integration
  TIMEOUT 300)
