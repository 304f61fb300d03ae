# The HTTP endpoint's renderers and server (server/render.c, server/http.c).
fr_add_test(test_render SOURCES test_render.c LIBS fragg m LABEL unit
  TIMEOUT 60)
fr_add_test(test_http SOURCES test_http.c LIBS fragg LABEL unit TIMEOUT 60)
# The shipped alert rules and scrape configuration load in Prometheus's own
# checker (promtool comes with the prometheus package `make test` installs).
add_test(NAME test_alert_rules
  COMMAND promtool check rules ${PROJECT_SOURCE_DIR}/deploy/fedrec-alerts.yml)
add_test(NAME test_prometheus_config
  COMMAND promtool check config --syntax-only
          ${PROJECT_SOURCE_DIR}/deploy/prometheus.yml)
set_tests_properties(test_alert_rules test_prometheus_config PROPERTIES
  LABELS unit TIMEOUT 60)
