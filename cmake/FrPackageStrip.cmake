# A CPack pre-build script (CPACK_PRE_BUILD_SCRIPTS): after CPACK_STRIP_FILES
# has stripped the programs in the staging directory, removes the
# .comment section that the C runtime's start files bring in (dh_strip
# does the same for Debian's own packages).
file(GLOB fr_programs
     "${CPACK_TEMPORARY_INSTALL_DIRECTORY}${CPACK_PACKAGING_INSTALL_PREFIX}/bin/*")
if(NOT fr_programs)
  message(FATAL_ERROR "FrPackageStrip: no programs under "
                      "${CPACK_TEMPORARY_INSTALL_DIRECTORY}")
endif()
foreach(program ${fr_programs})
  execute_process(COMMAND ${CPACK_FR_STRIP} --remove-section=.comment
                          ${program}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "FrPackageStrip: ${CPACK_FR_STRIP} failed on "
                        "${program}")
  endif()
endforeach()
