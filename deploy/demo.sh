#!/usr/bin/env bash
# The demo: a race-timing app database under live writes, moved to a
# throwaway local PostgreSQL that this script starts (and removes) itself.
#   deploy/demo.sh [--rows N]      (default 200000)
# Steps: setup + build, generate the database, start PostgreSQL, plan,
# snapshot while the app writes, stream and show the lag, verify, cut over
# live with app writers that follow the config file, let them write to
# PostgreSQL while the stream carries their changes back, roll back live, and
# print both freezes and whether every acknowledged write is in SQLite once.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=200000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    *) echo "usage: deploy/demo.sh [--rows N]" >&2; exit 2 ;;
  esac
done

bash deploy/setup.sh slipway gen_racetiming app_writer app_follower
B=$ROOT/build
SLIPWAY=$B/slipway
WORK=$(mktemp -d /tmp/slipway-demo.XXXXXX)
chmod 755 "$WORK"  # the postgres user must reach the cluster folder inside
PGDIR=$WORK/pg
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$ROOT/deploy/pg-throwaway.sh" stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
source deploy/say.sh

say "1. the app's SQLite database: race timing, $ROWS rows"
DB=$WORK/app.db
"$B/bench/gen_racetiming" --out "$DB" --rows "$ROWS" --seed 42
sqlite3 "$DB" "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
  CREATE TABLE events_log (id INTEGER PRIMARY KEY AUTOINCREMENT, writer INTEGER NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL);
  INSERT INTO counters VALUES (1, 0), (2, 0);"
ENV=$WORK/app.env
echo "DATABASE_URL=sqlite://$DB" > "$ENV"

say "2. a throwaway PostgreSQL (unix socket in $PGDIR)"
PORT=$((20000 + RANDOM % 20000))
TARGET=$("$ROOT/deploy/pg-throwaway.sh" start "$PGDIR" "$PORT")
echo "$TARGET"
# The URI reaches slipway through the environment and a file only we can
# read, never its command line (where any user could see a password).
export SLIPWAY_TARGET="$TARGET"
TARGET_FILE=$WORK/target.uri
(umask 077 && printf '%s\n' "$TARGET" > "$TARGET_FILE")

say "3. the app writes: 2 writers following $ENV (counters + log), 1 writer on results"
for id in 1 2; do
  "$B/bench/app_follower" --config "$ENV" --key DATABASE_URL --id "$id" --rate 100 --seconds 0 \
    --ack-log "$WORK/acks$id.log" > "$WORK/follower$id.out" 2>&1 &
  PIDS+=($!)
done
"$B/bench/app_writer" --db "$DB" --rate 200 --seconds 0 --rows-per-tx 1 > "$WORK/writer.out" 2>&1 &
WRITER=$!
PIDS+=($WRITER)
sleep 1

say "4. slipway plan"
"$SLIPWAY" plan --source "$DB" --target-file "$TARGET_FILE" --out "$WORK/plan.json" > "$WORK/plan.txt"
sed -n '/^TABLE results/,/^$/p' "$WORK/plan.txt"
sed -n '/^FINDINGS/,/^DDL/p' "$WORK/plan.txt" | grep -v '^DDL' || true
grep -E '^RESULT' "$WORK/plan.txt"

say "5. slipway snapshot (the app keeps writing)"
"$SLIPWAY" snapshot --source "$DB" --plan "$WORK/plan.json"

say "6. slipway stream (lag while the app writes)"
"$SLIPWAY" stream --source "$DB" --http 127.0.0.1:0 > "$WORK/stream.out" 2>&1 &
STREAM=$!
PIDS+=($STREAM)
for i in 1 2 3 4 5; do
  sleep 1
  "$SLIPWAY" status --source "$DB" --json |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print("lag {:,} changes, {:,.0f} ms; applied {}".format(j.get("lag_changes",0), j.get("lag_ms",0), j.get("applied_seq",0)))' 2>/dev/null ||
    "$SLIPWAY" status --source "$DB" | grep position
done

say "7. slipway verify (while streaming: keys changed after the target's position are 'pending')"
"$SLIPWAY" verify --source "$DB" --plan "$WORK/plan.json" > "$WORK/verify.txt" || true
sed -n '1,12p' "$WORK/verify.txt"

say "8. slipway cutover (live: the followers move to PostgreSQL)"
kill -TERM "$WRITER"; wait "$WRITER" 2>/dev/null || true
"$SLIPWAY" cutover --source "$DB" --flip-file "$ENV" --flip-key DATABASE_URL | tee "$WORK/cutover.txt"

say "9. the app writes to PostgreSQL; the same stream carries its changes back into SQLite"
for i in 1 2 3; do
  sleep 1
  "$SLIPWAY" status --source "$DB" | grep -E '^(phase|position)' | tr '\n' ' '; echo
done

say "10. slipway rollback (live: the followers move back to SQLite)"
"$SLIPWAY" rollback --source "$DB" --flip-file "$ENV" --flip-key DATABASE_URL | tee "$WORK/rollback.txt"
sleep 2
for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
PIDS=()

say "11. what the app saw"
for id in 1 2; do tail -1 "$WORK/follower$id.out"; done
echo "(fence_errors / guard_errors: writes refused by the database the app had just left, each retried on the"
echo " other one after re-reading the config: expected once per move; max_gap_ms: the longest wait between"
echo " two acknowledged writes; gap_at_ms: when it ended, in unix milliseconds)"
ACKED=$(cat "$WORK"/acks*.log | wc -l)
ON_PG=$(cat "$WORK"/acks*.log | awk '$4 == "pg"' | wc -l)
IN_SQLITE=$(sqlite3 "$DB" "select count(*) from (select distinct writer, seq from events_log)")
ROWS_SQLITE=$(sqlite3 "$DB" "select count(*) from events_log")
SUM_SQLITE=$(sqlite3 "$DB" "select sum(n) from counters")
echo "cutover freeze:  $(sed -n 's/^freeze: \([0-9.]* ms\).*/\1/p' "$WORK/cutover.txt")"
echo "rollback freeze: $(sed -n 's/^freeze: \([0-9.]* ms\).*/\1/p' "$WORK/rollback.txt")"
echo "acknowledged writes: $(count "$ACKED") ($(count "$ON_PG") of them on PostgreSQL); in SQLite now: $(count "$ROWS_SQLITE") rows, $(count "$IN_SQLITE") distinct; counters sum: $(count "$SUM_SQLITE")"
if [[ "$ACKED" == "$IN_SQLITE" && "$ACKED" == "$ROWS_SQLITE" && "$ACKED" == "$SUM_SQLITE" ]]; then
  echo "no acknowledged write lost or doubled across the cutover and the rollback ($(count "$ACKED") = $(count "$ROWS_SQLITE"))"
else
  echo "MISMATCH: acknowledged $(count "$ACKED"), SQLite holds $(count "$ROWS_SQLITE") rows ($(count "$IN_SQLITE") distinct), counters $(count "$SUM_SQLITE")"
  exit 1
fi
echo "config now: $(grep DATABASE_URL "$ENV" | sed 's/password=[^&]*/password=***/')"
