#!/usr/bin/env bash
# Builds the Debian package: configures BUILD_DIR for /usr (release flags
# and hardening from dpkg-buildflags, no tests), builds it and runs cpack.
# The last line printed is the path of the .deb.
# usage: scripts/package.sh BUILD_DIR [CMAKE_ARGS...]
set -euo pipefail

BUILD=${1:?usage: scripts/package.sh BUILD_DIR [CMAKE_ARGS...]}
shift
SRC=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# Debian's compiler and linker flags with every hardening feature
# (fortify, stack protector, relro, bindnow, PIE). CMake ignores CPPFLAGS,
# so they join CFLAGS, as debhelper does.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
eval "$(cd "$SRC" && dpkg-buildflags --export=sh)"
# They are passed explicitly: CMake reads CFLAGS and LDFLAGS from the
# environment only when it first configures a build directory.
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_C_FLAGS="$CFLAGS $CPPFLAGS" \
  -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" \
  -DCMAKE_INSTALL_PREFIX=/usr -DFR_BUILD_TESTS=OFF "$@" >/dev/null
cmake --build "$BUILD" -j"$JOBS" >/dev/null
rm -f "$BUILD"/fedrec_*.deb
(cd "$BUILD" && cpack -G DEB >/dev/null)
debs=("$BUILD"/fedrec_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || {
  echo "package.sh: cpack made no single fedrec_*.deb in $BUILD" >&2
  exit 1
}
echo "${debs[0]}"
