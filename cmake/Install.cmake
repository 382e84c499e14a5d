# What `cmake --install` and the Debian package (deploy/package.sh) put where:
#   bin/slipway
#   lib/<multiarch>/libslipway_capture.so          (session capture's SQLite extension, loaded by the app)
#   include/slipway_capture.h                      (its C API)
#   lib/systemd/system/slipway-stream@.service   (ExecStart= names bin/slipway under the install prefix)
#   share/man/man1/slipway*.1.gz                  (generated from the commands' option tables)
#   share/bash-completion/completions/slipway     (the same)
#   share/doc/slipway/examples/slipway-stream.env.example
#
# Installing builds nothing (tests and benches are not installed, and
# building them would make `cpack` slow): build the targets `slipway`,
# `slipway_capture` and `slipway_docs` first, as deploy/package.sh does.
include(GNUInstallDirs)
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

set(slipway_docs_dir ${CMAKE_BINARY_DIR}/docs-generated)
add_custom_command(
  OUTPUT ${slipway_docs_dir}/stamp
  COMMAND ${CMAKE_COMMAND} -DSLIPWAY=$<TARGET_FILE:slipway> -DOUT=${slipway_docs_dir}
          -P ${CMAKE_SOURCE_DIR}/cmake/GenerateDocs.cmake
  COMMAND ${CMAKE_COMMAND} -E touch ${slipway_docs_dir}/stamp
  DEPENDS slipway ${CMAKE_SOURCE_DIR}/cmake/GenerateDocs.cmake
  COMMENT "Generating man pages and bash completion from slipway's option tables")
add_custom_target(slipway_docs ALL DEPENDS ${slipway_docs_dir}/stamp)

install(TARGETS slipway RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS slipway_capture LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/replicator/capture_extension/slipway_capture.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${slipway_docs_dir}/man1 DESTINATION ${CMAKE_INSTALL_MANDIR})
install(FILES ${slipway_docs_dir}/completions/slipway DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/slipway-stream.env.example
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# The unit names the binary by its installed path, known only at install time
# (the package installs under /usr whatever the build's prefix).
install(CODE "
  set(SLIPWAY_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/deploy/systemd/slipway-stream@.service.in\"
                 \"${CMAKE_BINARY_DIR}/install-unit/slipway-stream@.service\" @ONLY)
  file(INSTALL \"${CMAKE_BINARY_DIR}/install-unit/slipway-stream@.service\"
       DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME slipway)
set(CPACK_PACKAGE_VENDOR slipway)
set(CPACK_PACKAGE_CONTACT "slipway <dev@slipway.local>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "move a live application from SQLite to PostgreSQL")
set(CPACK_PACKAGE_DESCRIPTION
    "slipway moves a live application from SQLite to PostgreSQL: snapshot, stream, verify, cutover, rollback.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "sqlite3, postgresql-client")
include(CPack)
