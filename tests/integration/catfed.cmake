# A 100,000-item catalogue through a real secure federation of three stores.
add_test(NAME test_catalogue_federation
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_catalogue_federation.sh
          ${PROJECT_BINARY_DIR}/bin)
set_tests_properties(test_catalogue_federation PROPERTIES LABELS integration
  TIMEOUT 300)

# Raw POS exports through the online-retail profile: every outcome counted.
add_test(NAME test_raw_import
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_raw_import.sh
          ${PROJECT_BINARY_DIR}/bin)
set_tests_properties(test_raw_import PROPERTIES LABELS integration
  TIMEOUT 300)
