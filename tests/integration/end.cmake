# One-shot runs (--rounds, --until-done) and the round's catalogue.
fr_add_test(test_end SOURCES test_end.c proc.c LABEL integration TIMEOUT 300)
add_dependencies(test_end fedrec-aggregator fedrec-client fedrec-keygen
  fedrec-datagen)
