#!/usr/bin/env bash
# Builds the Debian package from an already built tree (cpack -G DEB over the
# targets slipway, slipway_capture and slipway_docs, as deploy/package.sh does after its build)
# into OUT_DIR, and links it there as slipway.deb for the tests that install it.
#   tests/package_build.sh BUILD_DIR OUT_DIR
# Missing cpack or dpkg-deb: skipped (exit 77), a failure with CI=true.
set -euo pipefail
build=${1:?usage: package_build.sh BUILD_DIR OUT_DIR}
out=${2:?usage: package_build.sh BUILD_DIR OUT_DIR}
source "$(dirname "$0")/package_tools.sh" package_build
[[ -x "$build/slipway" && -f "$build/libslipway_capture.so" ]] || fail "no $build/slipway or $build/libslipway_capture.so: build the targets slipway, slipway_capture and slipway_docs first"
rm -rf "$out"
mkdir -p "$out"
started=$SECONDS
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$out" >"$out/cpack.log" 2>&1 ||
  { cat "$out/cpack.log" >&2; fail "cpack failed"; }
debs=("$out"/slipway_*.deb)
[[ -f "${debs[0]}" ]] || fail "cpack made no slipway_*.deb in $out"
ln -sf "$(basename "${debs[0]}")" "$out/slipway.deb"
echo "package_build: $(basename "${debs[0]}") in $((SECONDS - started)) s"
