#!/usr/bin/env bash
# Installs what slipway needs from Debian's packages (idempotent) and builds
# it into build/. Works as root, or as a user with sudo.
#   deploy/setup.sh [TARGET...] install + build (everything, or only the named targets)
#   SLIPWAY_SKIP_INSTALL=1     only build
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config git
          libsqlite3-dev sqlite3 libpq-dev postgresql-client
          libasio-dev libspdlog-dev nlohmann-json3-dev libgtest-dev
          postgresql)

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
  echo "setup: apt-get update" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "setup: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE="${SLIPWAY_BUILD_TYPE:-RelWithDebInfo}" -DSLIPWAY_WERROR=ON >/dev/null
if [[ $# -gt 0 ]]; then
  cmake --build build -j "$jobs" --target "$@"
else
  cmake --build build -j "$jobs"
fi
echo "setup: built in build/" >&2
