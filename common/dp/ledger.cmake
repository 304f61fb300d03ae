target_sources(frcommon PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/ledger.c)
