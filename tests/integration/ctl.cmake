# fedrec-ctl against missing, stale, forbidden and mute sockets, against an
# admin socket the test serves, and against a real aggregator with four
# protected stores.
fr_add_test(test_ctl SOURCES test_ctl.c proc.c LABEL integration TIMEOUT 400
  LIBS fragg)
add_dependencies(test_ctl fedrec-ctl fedrec-aggregator fedrec-client
  fedrec-keygen fedrec-datagen)
# Who may use the admin socket: the owner, a read-only group and an
# operator group, with fedrec-ctl run as nobody with chosen groups.
fr_add_test(test_ctl_access SOURCES test_ctl_access.c proc.c
  LABEL integration TIMEOUT 120)
add_dependencies(test_ctl_access fedrec-ctl fedrec-aggregator fedrec-keygen)
