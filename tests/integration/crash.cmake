# Crash recovery: the aggregator SIGKILLed at random moments, 50 times.
fr_add_test(test_crash
  SOURCES test_crash.c proc.c ${PROJECT_SOURCE_DIR}/server/checkpoint.c
  LABEL integration TIMEOUT 600)
target_include_directories(test_crash PRIVATE ${PROJECT_SOURCE_DIR}/server)
add_dependencies(test_crash fedrec-aggregator fedrec-client fedrec-keygen
  fedrec-datagen)
