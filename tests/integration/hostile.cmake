# Hostile peers and HTTP clients against a secure federation of three
# stores: refusals counted per reason, logged at a bounded rate, the
# misbehaving store quarantined and let back in, RSS bounded.
fr_add_test(test_hostile SOURCES test_hostile.c proc.c LABEL integration
  TIMEOUT 180 LIBS Threads::Threads)
add_dependencies(test_hostile fedrec-aggregator fedrec-client fedrec-keygen
  fedrec-datagen fedrec-ctl)
# Its churn and flood measure how the aggregator copes, not how a second
# test sharing the cores does: it runs alone under ctest -j.
set_tests_properties(test_hostile PROPERTIES RUN_SERIAL TRUE)
