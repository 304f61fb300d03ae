# The admin socket fedrec-ctl talks to (admin.h), part of the aggregator's
# library so the daemon and the unit tests link the same code.
target_sources(fragg PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/admin.c
  ${CMAKE_CURRENT_SOURCE_DIR}/admin_access.c)
