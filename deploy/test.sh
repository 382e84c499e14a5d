#!/usr/bin/env bash
# Sets up everything (deploy/setup.sh) and runs every test: unit tests (no
# server) and integration tests against a throwaway PostgreSQL that the test
# harness starts and removes; a headless Chromium loads the status page and
# the Debian package is built from build/. With CI=true a PostgreSQL or a
# Chromium that cannot start is a failure, never a skip.
#   deploy/test.sh                 all tests
#   deploy/test.sh -L unit         only one label (unit | integration)
set -euo pipefail
cd "$(dirname "$0")/.."
SLIPWAY_SETUP_TESTS=1 bash deploy/setup.sh
cd build
ctest --output-on-failure --timeout 900 -j 2 "$@"
