# say TEXT: a heading for the scripts' output. Bold only on a terminal that
# can show it, never with NO_COLOR set (https://no-color.org) or TERM=dumb:
# output to a file or a pipe is plain text.
if [[ -t 1 && -z "${NO_COLOR:-}" && "${TERM:-dumb}" != dumb ]]; then
  say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  say() { printf '\n== %s\n' "$*"; }
fi

# count N: N with thousands separators ("151974" -> "151,974"), as slipway
# prints counts for people (common/count_format.h).
count() { printf '%s' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }
