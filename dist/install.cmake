# Run by `cmake --install` (CMakeLists.txt sets KITH_SOURCE_DIR, KITH_BINARY_DIR,
# KITH_VERSION and KITH_BINDIR/LIBDIR/INCLUDEDIR, as GNUInstallDirs gave them).
#
# kith.pc and kith.service name absolute paths, so they are written here, at install
# time, from the prefix being installed to: `cmake --install BUILD --prefix DIR`
# then gets them right, where configure_file at configure time would name the
# prefix the build was configured with. DESTDIR (staging) is applied by
# file(INSTALL) and is not part of the paths written.

foreach(dir BINDIR LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${KITH_${dir}}")
    set(KITH_FULL_${dir} "${KITH_${dir}}")
    set(KITH_PC_${dir} "${KITH_${dir}}")
  else()
    set(KITH_FULL_${dir} "${CMAKE_INSTALL_PREFIX}/${KITH_${dir}}")
    set(KITH_PC_${dir} "\${prefix}/${KITH_${dir}}")
  endif()
endforeach()
set(KITH_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CMAKE_INSTALL_FULL_BINDIR "${KITH_FULL_BINDIR}") # the name kith.service.in uses

configure_file("${KITH_SOURCE_DIR}/dist/kith.pc.in" "${KITH_BINARY_DIR}/dist/kith.pc"
               @ONLY)
configure_file("${KITH_SOURCE_DIR}/dist/systemd/kith.service.in"
               "${KITH_BINARY_DIR}/dist/kith.service" @ONLY)
file(INSTALL DESTINATION "${KITH_FULL_LIBDIR}/pkgconfig" TYPE FILE
     FILES "${KITH_BINARY_DIR}/dist/kith.pc")
# lib/systemd/user under the prefix: /usr/lib/systemd/user and
# /usr/local/lib/systemd/user are both on the user manager's search path
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/user" TYPE FILE
     FILES "${KITH_BINARY_DIR}/dist/kith.service")
