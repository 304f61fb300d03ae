# systemd's notify protocol: READY, WATCHDOG, STATUS, RELOADING, STOPPING.
fr_add_test(test_notify SOURCES test_notify.c proc.c LABEL integration
  TIMEOUT 120)
add_dependencies(test_notify fedrec-aggregator fedrec-keygen)
