#!/usr/bin/env bash
# Installs what slipway needs from Debian's packages (idempotent) and builds
# it into build/. Works as root, or as a user with sudo.
#   deploy/setup.sh [TARGET...] install + build (everything, or only the named targets)
#   SLIPWAY_SKIP_INSTALL=1     only build
#   SLIPWAY_SKIP_BUILD=1       only install
#   SLIPWAY_SETUP_TESTS=1      also what the tests need (deploy/test.sh sets it):
#                              Chromium for the status page, dpkg-dev for the package
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

packages=(build-essential cmake pkg-config git
          libsqlite3-dev sqlite3 libpq-dev postgresql-client
          libasio-dev libspdlog-dev nlohmann-json3-dev libgtest-dev
          postgresql python3 dpkg-dev file)
if [[ "${SLIPWAY_SETUP_TESTS:-0}" == 1 ]]; then
  packages+=(chromium fonts-dejavu-core)
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi

if [[ "${SLIPWAY_SKIP_INSTALL:-0}" != 1 ]]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # The server binaries can exist without the "postgresql" metapackage.
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    kept=()
    for p in "${missing[@]}"; do [[ "$p" == postgresql ]] || kept+=("$p"); done
    missing=("${kept[@]}")
  fi
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "setup: apt-get update (package lists, about 10 s)" >&2
    "${sudo_cmd[@]}" apt-get update -qq
    # A fresh machine needs most of them: 1-3 minutes, Chromium another 1-2.
    echo "setup: installing ${#missing[@]} Debian packages (a few minutes on a fresh machine): ${missing[*]}" >&2
    # Each package is named as it is set up, so the wait is never silent.
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends \
      -o Dpkg::Progress-Fancy=0 "${missing[@]}" |
      while IFS= read -r line; do
        case "$line" in
          Get:*)
            if [[ "$line" =~ ^Get:([0-9]+) ]] && (( BASH_REMATCH[1] % 25 == 0 )); then
              echo "setup:   downloading (${BASH_REMATCH[1]} files so far, $((SECONDS - started)) s)" >&2
            fi ;;
          "Setting up "*) echo "setup:   ${line%% (*}" >&2 ;;
        esac
      done
    echo "setup: packages installed in $((SECONDS - started)) s" >&2
  else
    echo "setup: every Debian package needed is installed" >&2
  fi
fi

if [[ "${SLIPWAY_SKIP_BUILD:-0}" == 1 ]]; then exit 0; fi
jobs=$(nproc 2>/dev/null || echo 2)
echo "setup: building into build/ with $jobs jobs (a first build takes several minutes)" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE="${SLIPWAY_BUILD_TYPE:-RelWithDebInfo}" -DSLIPWAY_WERROR=ON >/dev/null
if [[ $# -gt 0 ]]; then
  cmake --build build -j "$jobs" --target "$@"
else
  cmake --build build -j "$jobs"
fi
echo "setup: built in build/ ($((SECONDS - started)) s in all); the binary is build/slipway" >&2
