# The HTTP endpoint seen by a real Prometheus and a real browser (headless
# Chromium) while a federation runs. Skipped (exit 77) without prometheus,
# chromium or curl: `scripts/deps.sh test` installs them. The status-page
# screenshot is left in ${CMAKE_BINARY_DIR}/artifacts.
add_test(NAME test_monitoring
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_monitoring.sh
          ${PROJECT_BINARY_DIR}/bin ${CMAKE_BINARY_DIR}/artifacts)
set_tests_properties(test_monitoring PROPERTIES LABELS integration
  TIMEOUT 180 SKIP_RETURN_CODE 77 ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
