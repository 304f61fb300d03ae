# fedrec-ctl: the operators' command line for a running aggregator (admin
# socket) and local computations that need no daemon (privacy).
add_executable(fedrec-ctl ctl.c ctl_privacy.c)
target_link_libraries(fedrec-ctl PRIVATE fragg)
set_target_properties(fedrec-ctl PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
install(TARGETS fedrec-ctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
