# Member-level DP with the real binaries: budget, refusals, restarts.
fr_add_test(test_dp SOURCES test_dp.c proc.c LABEL integration TIMEOUT 300)
add_dependencies(test_dp fedrec-aggregator fedrec-client fedrec-keygen
  fedrec-datagen fedrec-ctl)
