# The example configurations in deploy/ against the configuration tables:
# every key present and explained, none unknown, values that validate.
fr_add_test(test_config_example SOURCES test_config_example.c LIBS fragg
  LABEL unit TIMEOUT 60)
target_compile_definitions(test_config_example PRIVATE
  FR_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# The client's table is read from `fedrec-client --help`.
add_dependencies(test_config_example fedrec-client)
# Mode regional: the mode and upstream keys, their files, the keys the
# central decides, and deploy/aggregator-regional.conf under --check-config.
fr_add_test(test_config_regional SOURCES test_config_regional.c LIBS fragg
  LABEL unit TIMEOUT 60)
target_compile_definitions(test_config_regional PRIVATE
  FR_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(test_config_regional fedrec-aggregator)
# The central's DP design with regions (server/dp.c).
fr_add_test(test_dp_regions SOURCES test_dp_regions.c LIBS fragg m
  LABEL unit TIMEOUT 60)
