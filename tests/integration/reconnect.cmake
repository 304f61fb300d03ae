# Stores that start before the aggregator, outlive its crash, and a store
# that joins once the operator puts its key on the allow-list (SIGHUP).
fr_add_test(test_reconnect SOURCES test_reconnect.c proc.c
  LABEL integration TIMEOUT 300)
add_dependencies(test_reconnect fedrec-aggregator fedrec-client
  fedrec-keygen fedrec-datagen)
