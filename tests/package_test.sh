#!/usr/bin/env bash
# The Debian package (SLIPWAY_DEB=path, else tests/package_build.sh makes it
# from the build tree as deploy/package.sh does): unpacked with dpkg -x into a scratch root,
# its slipway runs, it holds a man page per command that lists every option
# of that command's --help, a bash completion that completes commands and
# options, and the unit naming the installed binary.
#   tests/package_test.sh BUILD_DIR
# Missing cpack or dpkg-deb: skipped (exit 77), a failure with CI=true.
set -euo pipefail
build=${1:?usage: package_test.sh BUILD_DIR}
source "$(dirname "$0")/package_tools.sh" package_test
scratch=$(mktemp -d /tmp/slipway-package-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

deb=${SLIPWAY_DEB:-}
if [[ -z "$deb" ]]; then
  bash "$(dirname "$0")/package_build.sh" "$build" "$scratch/out" >&2
  deb=$scratch/out/slipway.deb
fi
[[ -f "$deb" ]] || fail "no package at $deb"
deb=$(readlink -f "$deb")
dpkg-deb -I "$deb" >"$scratch/info"
grep -q '^ Package: slipway$' "$scratch/info" || fail "not the slipway package: $(cat "$scratch/info")"
grep -q '^ Depends:.*libpq5' "$scratch/info" || fail "no dependency on libpq5: $(cat "$scratch/info")"

root=$scratch/root
dpkg -x "$deb" "$root"
bin=$root/usr/bin/slipway
[[ -x "$bin" ]] || fail "no usr/bin/slipway in the package"
ext=$(find "$root/usr/lib" -name libslipway_capture.so | head -1)
[[ -n "$ext" ]] || fail "no libslipway_capture.so in the package"
[[ -f "$root/usr/include/slipway_capture.h" ]] || fail "no usr/include/slipway_capture.h in the package"
# The packaged extension loads into the sqlite3 shell and answers.
answer=$(sqlite3 :memory: ".load $ext" "SELECT slipway_capture()" 2>&1) || fail "the extension does not load: $answer"
[[ "$answer" == 0 ]] || fail "slipway_capture() outside a transaction answered '$answer'"
version=$("$bin" --version)
[[ "$version" == "slipway "* ]] || fail "slipway --version printed '$version'"

commands=$("$bin" help --commands)
[[ -n "$commands" ]] || fail "no commands listed"
[[ -f "$root/usr/share/man/man1/slipway.1.gz" ]] || fail "no slipway.1.gz"
for c in $commands; do
  page=$root/usr/share/man/man1/slipway-$c.1.gz
  [[ -f "$page" ]] || fail "no man page for $c"
  text=$(zcat "$page")
  for opt in $("$bin" "$c" --help | grep -oE '^  --[a-z0-9-]+' | sed 's/^  --//'); do
    grep -qF -- "\\fB\\-\\-${opt//-/\\-}\\fR" <<<"$text" || fail "slipway-$c.1 lacks --$opt"
  done
done
if command -v man >/dev/null; then
  MANWIDTH=80 man -l "$root/usr/share/man/man1/slipway-stream.1.gz" 2>/dev/null | grep -q -- '--until-caught-up' ||
    fail "man cannot render slipway-stream.1"
fi

completion=$root/usr/share/bash-completion/completions/slipway
[[ -f "$completion" ]] || fail "no bash completion"
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _slipway; echo "${COMPREPLY[*]}"' _ "$completion" "$@"
}
[[ " $(complete_words slipway str) " == *" stream "* ]] || fail "completion of 'str': $(complete_words slipway str)"
[[ " $(complete_words slipway stream --until) " == *" --until-caught-up "* ]] ||
  fail "completion of 'stream --until': $(complete_words slipway stream --until)"
status_opts=" $(complete_words slipway status --) "
[[ "$status_opts" == *" --json "* && "$status_opts" != *" --until-caught-up "* ]] ||
  fail "completion of 'status --': $status_opts"

unit=$root/usr/lib/systemd/system/slipway-stream@.service
[[ -f "$unit" ]] || fail "no unit at usr/lib/systemd/system"
grep -q '^ExecStart=/usr/bin/slipway stream ' "$unit" || fail "ExecStart does not name /usr/bin/slipway: $(grep ExecStart "$unit")"
[[ -f "$root/usr/share/doc/slipway/examples/slipway-stream.env.example" ]] || fail "no example env file"
echo "package_test: ok ($(basename "$deb"))"
