# The Debian package (CPack, DEB generator): `make package` configures a
# build with -DCMAKE_INSTALL_PREFIX=/usr and runs cpack (scripts/package.sh).
# The package holds what `cmake --install` installs: the programs, the
# systemd units, the sysusers.d and tmpfiles.d entries, /etc/fedrec/
# aggregator.conf (a conffile), the examples, the docs and the manual
# pages; deploy/debian/ has the maintainer scripts, the copyright file and
# the changelog.
include(GNUInstallDirs)

set(FR_DEB_MAINTAINER
    "fedrec maintainers <maintainers@users.noreply.r-seed-b8507d0c.example>"
    CACHE STRING "Maintainer field of the Debian package")
# Debian revision: bump it for a new package of the same project version
# (and add an entry to deploy/debian/changelog).
set(FR_DEB_REVISION 1 CACHE STRING "Debian revision of the package")

set(fr_debian ${PROJECT_SOURCE_DIR}/deploy/debian)

# The changelog's first entry must be this version: a stale changelog would
# describe another package.
file(STRINGS ${fr_debian}/changelog fr_changelog_top LIMIT_COUNT 1)
set(fr_deb_version "${PROJECT_VERSION}-${FR_DEB_REVISION}")
if(NOT fr_changelog_top MATCHES "^fedrec \\(${fr_deb_version}\\) ")
  message(WARNING "deploy/debian/changelog starts with '${fr_changelog_top}', "
                  "not version ${fr_deb_version}: add an entry before "
                  "packaging")
endif()

# Documentation: the README, the guides, the copyright file and the
# changelog compressed as Debian wants it (gzip -9n).
set(fr_docdir ${CMAKE_INSTALL_DATADIR}/doc/fedrec)
install(FILES ${PROJECT_SOURCE_DIR}/README.md
              ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md
              ${PROJECT_SOURCE_DIR}/docs/CATALOGUE.md
              ${PROJECT_SOURCE_DIR}/docs/IMPORT.md
              ${PROJECT_SOURCE_DIR}/docs/MODEL.md
              ${PROJECT_SOURCE_DIR}/docs/OPERATIONS.md
              ${PROJECT_SOURCE_DIR}/docs/PRIVACY.md
              ${PROJECT_SOURCE_DIR}/docs/SECAGG.md
              ${PROJECT_SOURCE_DIR}/docs/SECURITY.md
              ${fr_debian}/copyright
        DESTINATION ${fr_docdir})
set(fr_changelog_gz ${PROJECT_BINARY_DIR}/changelog.Debian.gz)
add_custom_command(OUTPUT ${fr_changelog_gz}
  COMMAND ${CMAKE_COMMAND} -E copy ${fr_debian}/changelog changelog.Debian
  COMMAND gzip -9nf changelog.Debian
  DEPENDS ${fr_debian}/changelog
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
  VERBATIM)
add_custom_target(debian-changelog ALL DEPENDS ${fr_changelog_gz})
install(FILES ${fr_changelog_gz} DESTINATION ${fr_docdir})
# Lintian tags that do not fit, each with its reason in the file.
install(FILES ${fr_debian}/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME fedrec)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fedrec)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${FR_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "federated training of a retail recommendation model")
# Debian's extended description, after the summary line CPack puts first;
# CPack indents every line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"fedrec trains the recommendation model of a retail chain's member
(loyalty) programme without pooling the members' records. Each store runs
fedrec-client next to its own purchase data, trains locally and sends only
model updates, masked by secure aggregation (SecAgg+); fedrec-aggregator
learns their sum and builds the next global model, optionally with
member-level differential privacy.
.
This package holds the aggregator daemon, the store client, fedrec-ctl,
fedrec-keygen, fedrec-catalogue and the test-data tools, their systemd
units, system users and directories, an example configuration in
/etc/fedrec and manual pages. No service is enabled or started on
installation.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${FR_DEB_REVISION})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from the ELF files' libraries (dpkg-shlibdeps, from dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# systemd-sysusers and systemd-tmpfiles, which the postinst runs, and the
# service manager the units are for; the programs also work without.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS systemd)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS prometheus)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${fr_debian}/conffiles ${fr_debian}/postinst ${fr_debian}/prerm
    ${fr_debian}/postrm)
# Maintainer scripts 0755, other control files 0644, as dpkg-deb wants.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_FR_STRIP ${CMAKE_STRIP})
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/FrPackageStrip.cmake)
# Install with DESTDIR: /etc/fedrec is an absolute destination outside the
# prefix, which must land in the package, not on the build machine.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
include(CPack)
