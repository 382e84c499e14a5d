# say TEXT: a heading for the scripts' output. Bold only on a terminal that
# can show it, never with NO_COLOR set (https://no-color.org) or TERM=dumb:
# output to a file or a pipe is plain text.
if [[ -t 1 && -z "${NO_COLOR:-}" && "${TERM:-dumb}" != dumb ]]; then
  say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  say() { printf '\n== %s\n' "$*"; }
fi
