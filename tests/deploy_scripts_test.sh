#!/usr/bin/env bash
# What a new user sees from the deploy scripts:
# - deploy/say.sh (the demo's headings): escape codes only on a terminal,
#   never with NO_COLOR or TERM=dumb, never into a file; its count groups
#   thousands as slipway does;
# - deploy/setup.sh names what it installs and how long it takes, and each
#   package as it is set up (apt-get and dpkg-query replaced by fakes on PATH;
#   nothing is installed or built).
#   tests/deploy_scripts_test.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: deploy_scripts_test.sh SOURCE_DIR}
fail() { echo "deploy_scripts_test: FAIL: $*" >&2; exit 1; }
scratch=$(mktemp -d /tmp/slipway-deploy-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
esc=$'\033'

heading="source '$src/deploy/say.sh'; say 1. a heading"
out=$(bash -c "$heading")
[[ "$out" == *"== 1. a heading"* && "$out" != *"$esc"* ]] || fail "into a pipe: $(printf %q "$out")"
bash -c "$heading" >"$scratch/file"
! grep -q "$esc" "$scratch/file" || fail "escape codes in a file"
command -v script >/dev/null || fail "script (util-linux) is needed to run on a terminal"
on_tty() { env "$@" script -qec "bash -c \"$heading\"" /dev/null; }
[[ "$(on_tty TERM=xterm)" == *"$esc[1m== 1. a heading"* ]] || fail "no bold on a terminal: $(printf %q "$(on_tty TERM=xterm)")"
[[ "$(on_tty TERM=xterm NO_COLOR=1)" != *"$esc"* ]] || fail "escape codes with NO_COLOR"
[[ "$(on_tty TERM=dumb)" != *"$esc"* ]] || fail "escape codes with TERM=dumb"

counted=$(bash -c "source '$src/deploy/say.sh'; for n in 7 999 1000 151974 1234567; do count \$n; echo; done" | tr '\n' ' ')
[[ "$counted" == "7 999 1,000 151,974 1,234,567 " ]] || fail "count groups thousands: $counted"

fake=$scratch/bin
mkdir -p "$fake"
cat >"$fake/dpkg-query" <<'FAKE'
#!/bin/sh
exit 1
FAKE
cat >"$fake/apt-get" <<'FAKE'
#!/bin/sh
[ "$1" = update ] && exit 0
i=1
for p in "$@"; do
  case "$p" in -*|install) continue ;; esac
  echo "Get:$i http://deb.debian.org/debian bookworm/main amd64 $p amd64 1.0 [10 kB]"
  i=$((i + 1))
done
for p in "$@"; do
  case "$p" in -*|install) continue ;; esac
  echo "Unpacking $p (1.0) ..."
  echo "Setting up $p (1.0) ..."
done
FAKE
cat >"$fake/sudo" <<'FAKE'
#!/bin/sh
exec "$@"
FAKE
chmod +x "$fake"/*
PATH=$fake:$PATH SLIPWAY_SKIP_BUILD=1 SLIPWAY_SETUP_TESTS=1 bash "$src/deploy/setup.sh" >"$scratch/out" 2>"$scratch/err" ||
  fail "setup.sh failed: $(cat "$scratch/err")"
err=$(cat "$scratch/err")
for want in "setup: apt-get update" "setup: installing " "a few minutes" "setup:   Setting up cmake" \
            "setup:   Setting up chromium" "setup:   Setting up dpkg-dev" "setup: packages installed in "; do
  [[ "$err" == *"$want"* ]] || fail "setup.sh did not say '$want':
$err"
done
[[ "$err" != *"Unpacking"* ]] || fail "setup.sh passes apt-get's every line through"
echo "deploy_scripts_test: ok"
