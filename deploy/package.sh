#!/usr/bin/env bash
# Builds the Debian package: deploy/setup.sh (what is missing from Debian's
# packages, then slipway and its man pages into build/), then cpack -G DEB.
# Prints the path of the .deb; install it with `apt install ./PATH`.
#   deploy/package.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh slipway slipway_capture slipway_docs
echo "package: cpack -G DEB" >&2
(cd build && cpack -G DEB -B "$PWD/package" >/dev/null)
ls "$PWD"/build/package/slipway_*.deb
