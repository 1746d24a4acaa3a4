# cmake --install: the kiln binary, and for C++ applications on kiln::run the library, its
# public headers and a CMake package (find_package(kiln), target kiln::core). cpack -G DEB makes
# a Debian package of the same, whose dependencies dpkg-shlibdeps works out from the binary.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS kiln RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS kiln_core llhttp EXPORT kiln_targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/kiln DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES LICENSE README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(kiln_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/kiln)
install(EXPORT kiln_targets NAMESPACE kiln:: FILE kiln-targets.cmake
        DESTINATION ${kiln_cmake_dir})
# The Python kiln embeds, so that an application links the same libpython.
set(KILN_INSTALLED_PYTHON ${KILN_PYTHON_EXECUTABLE})
configure_package_config_file(cmake/kiln-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/kiln-config.cmake INSTALL_DESTINATION ${kiln_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/kiln-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/kiln-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/kiln-config-version.cmake
        DESTINATION ${kiln_cmake_dir})

set(CPACK_PACKAGE_NAME kiln)
set(CPACK_PACKAGE_VENDOR "the kiln authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Preforking HTTP/1.1 application server: static files, a single-page app, WSGI apps")
set(CPACK_PACKAGE_CONTACT "kiln maintainers <kiln@localhost>")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION web)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
