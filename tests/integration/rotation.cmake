# Key rotation without a restart, the old key refused, graceful SIGTERM.
fr_add_test(test_rotation
  SOURCES test_rotation.c proc.c LABEL integration TIMEOUT 300
  LIBS fragg)
add_dependencies(test_rotation fedrec-aggregator fedrec-client fedrec-keygen
  fedrec-datagen)
