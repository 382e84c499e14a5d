#!/usr/bin/env bash
# Cutover figures: the race-timing database (default 1M rows) with the app
# writing ~500 transactions/s from 4 follower processes (bench/app_follower:
# they follow the config file across the move), N cutovers (default 10), each
# from the same snapshotted state (SQLite file copied, PostgreSQL database
# cloned from a template). Prints, per cutover and in total: freeze measured
# by slipway, largest gap between two acknowledged writes seen by each app
# process (includes its reconnect), acknowledged writes lost, and writes
# SQLite accepted after the fence.
#   SLIPWAY_BUILD=build bench/cutover_bench.sh [--rows N] [--runs N] [--rate TPS-per-writer]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=${SLIPWAY_BUILD:-build}
[[ "$B" = /* ]] || B="$ROOT/$B"
ROWS=1000000 RUNS=10 RATE=125 WRITERS=4
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    *) echo "usage: bench/cutover_bench.sh [--rows N] [--runs N] [--rate TPS]" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/slipway-cutbench.XXXXXX)
chmod 755 "$WORK"
PGDIR=$WORK/pg
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$ROOT/deploy/pg-throwaway.sh" stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$ROOT/bench/out"

PORT=$((20000 + RANDOM % 20000))
ADMIN=$("$ROOT/deploy/pg-throwaway.sh" start "$PGDIR" "$PORT")
uri() { echo "postgresql:///$1?host=$PGDIR&port=$PORT&user=postgres"; }

echo "preparing: $ROWS rows, snapshot into a template database" >&2
# The generated database is cached (as snapshot_bench.sh and rollback_bench.sh
# do); the runs work on copies with the followers' tables added.
CACHE=$ROOT/bench/out/racetiming-r$ROWS-s1.db
if [[ ! -f $CACHE ]]; then
  echo "generating $CACHE" >&2
  "$B/bench/gen_racetiming" --out "$CACHE" --rows "$ROWS" --seed 1 >/dev/null
fi
BASE=$WORK/base.db
cp "$CACHE" "$BASE"
sqlite3 "$BASE" "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
  CREATE TABLE events_log (id INTEGER PRIMARY KEY AUTOINCREMENT, writer INTEGER NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL);
  INSERT INTO counters VALUES (1,0),(2,0),(3,0),(4,0);"
psql "$ADMIN" -qc "CREATE DATABASE snap"
# The snapshot's log and run 1's stream and cutover logs are kept in bench/out.
t0=$(date +%s.%N)
"$B/slipway" snapshot --source "$BASE" --target "$(uri snap)" > "$ROOT/bench/out/cutover_bench.snapshot.log" 2>&1
echo "snapshot: $(echo "$(date +%s.%N) - $t0" | bc) s" >&2
sqlite3 "$BASE" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null

results=()
for run in $(seq 1 "$RUNS"); do
  DB=$WORK/run$run.db
  cp "$BASE" "$DB"
  psql "$ADMIN" -qc "CREATE DATABASE run$run TEMPLATE snap"
  TARGET=$(uri "run$run")
  ENV=$WORK/run$run.env
  echo "DATABASE_URL=sqlite://$DB" > "$ENV"
  "$B/slipway" stream --source "$DB" --target "$TARGET" > "$WORK/stream$run.log" 2>&1 &
  STREAM=$!
  FOLLOWERS=()
  for id in $(seq 1 $WRITERS); do
    "$B/bench/app_follower" --config "$ENV" --key DATABASE_URL --id "$id" --rate "$RATE" --seconds 0 \
      --ack-log "$WORK/acks$run-$id.log" > "$WORK/follower$run-$id.out" 2>"$WORK/follower$run-$id.err" &
    FOLLOWERS+=($!)
  done
  PIDS=("$STREAM" "${FOLLOWERS[@]}")
  sleep 3
  # A stream hands over to the cutover and then streams back (PostgreSQL
  # into SQLite); it is stopped first, so SQLite holds only what the app
  # wrote there. The cutover catches up what the stream had not applied.
  kill -TERM "$STREAM"
  wait "$STREAM" || true
  t0=$(date +%s.%N)
  CUT=$("$B/slipway" cutover --source "$DB" --target "$TARGET" --flip-file "$ENV" --flip-key DATABASE_URL --json \
    2> "$WORK/cutover$run.log") || { cat "$WORK/cutover$run.log" >&2; exit 1; }
  cut_s=$(echo "$(date +%s.%N) - $t0" | bc)
  if [[ $run == 1 ]]; then
    cp "$WORK/cutover$run.log" "$ROOT/bench/out/cutover_bench.cutover1.log"
    echo "$CUT" >> "$ROOT/bench/out/cutover_bench.cutover1.log"
  fi
  sleep 2
  for p in "${FOLLOWERS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${FOLLOWERS[@]}"; do wait "$p" || true; done
  PIDS=()
  freeze=$(echo "$CUT" | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["freeze_ms"])')
  gap=0
  for id in $(seq 1 $WRITERS); do
    g=$(grep -o 'max_gap_ms=[0-9]*' "$WORK/follower$run-$id.out" | cut -d= -f2)
    (( g > gap )) && gap=$g
  done
  acked=$(cat "$WORK"/acks$run-*.log | wc -l)
  in_pg=$(psql "$TARGET" -Atc "select count(*) from events_log")
  # Lost: acknowledged (writer, seq) pairs that PostgreSQL does not hold.
  lost=0
  for id in $(seq 1 $WRITERS); do
    n=$(wc -l < "$WORK/acks$run-$id.log")
    have=$(psql "$TARGET" -Atc "select count(distinct seq) from events_log where writer = $id and seq between 1 and $n")
    lost=$((lost + n - have))
  done
  sqlite_acked=$(cat "$WORK"/acks$run-*.log | awk '$4=="sqlite"' | wc -l)
  in_sqlite=$(sqlite3 "$DB" "select count(*) from events_log")
  after_fence=$((in_sqlite - sqlite_acked))
  [[ $run == 1 ]] && cp "$WORK/stream$run.log" "$ROOT/bench/out/cutover_bench.stream1.log"
  echo "run $run: cutover command ${cut_s} s, freeze ${freeze} ms, app gap ${gap} ms, acked $acked, in PostgreSQL $in_pg, lost $lost, SQLite after fence $after_fence" >&2
  results+=("$freeze $gap $acked $lost $after_fence")
  psql "$ADMIN" -qc "DROP DATABASE run$run"
  rm -f "$DB" "$DB-wal" "$DB-shm"
done

printf '%s\n' "${results[@]}" | python3 -c '
import json, statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
fr = [r[0] for r in rows]; gp = [r[1] for r in rows]
out = {"runs": len(rows), "freeze_ms": fr, "app_gap_ms": gp,
       "freeze_median_ms": statistics.median(fr), "freeze_worst_ms": max(fr),
       "app_gap_worst_ms": max(gp), "acked": int(sum(r[2] for r in rows)),
       "lost": int(sum(r[3] for r in rows)), "sqlite_after_fence": int(sum(r[4] for r in rows))}
print("cutover bench: %d cutovers, %d writers following the config" % (len(rows), 4))
print("%-44s %10s %8s" % ("figure", "measured", "goal"))
print("%-44s %10.1f %8s" % ("freeze, median (ms)", out["freeze_median_ms"], "<= 200"))
print("%-44s %10.1f %8s" % ("freeze, worst (ms)", out["freeze_worst_ms"], "<= 1000"))
print("%-44s %10.0f %8s" % ("largest gap between acknowledged writes (ms)", out["app_gap_worst_ms"], "<= 1500"))
print("%-44s %10d %8s" % ("acknowledged writes (all runs)", out["acked"], ""))
print("%-44s %10d %8s" % ("acknowledged writes lost", out["lost"], "0"))
print("%-44s %10d %8s" % ("writes SQLite accepted after the fence", out["sqlite_after_fence"], "0"))
json.dump(out, open(sys.argv[1], "w"), indent=2)
' "$ROOT/bench/out/cutover_bench.json"
