#!/usr/bin/env bash
# Rollback figures: the race-timing database (default 1M rows) with the app
# writing ~500 transactions/s from 4 follower processes (bench/app_follower:
# they follow the config file across cutover AND rollback), one `slipway
# stream` running throughout (forward, then back, then forward again), and N
# cutover/rollback cycles in a row (default 10) on the same file and target.
# Prints, for cutovers and rollbacks separately: freeze measured by slipway
# (median, range, worst), the largest gap between two acknowledged writes
# that overlaps a move of that kind, writes the fenced side accepted after
# its fence; and, at the end (the writers end on SQLite), acknowledged
# writes lost or doubled in SQLite.
#   SLIPWAY_BUILD=build bench/rollback_bench.sh [--rows N] [--cycles N] [--rate TPS-per-writer]
#                                               [--dwell S]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=${SLIPWAY_BUILD:-build}
[[ "$B" = /* ]] || B="$ROOT/$B"
ROWS=1000000 CYCLES=10 RATE=125 WRITERS=4 DWELL=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    --cycles) CYCLES=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --dwell) DWELL=$2; shift 2 ;;
    *) echo "usage: bench/rollback_bench.sh [--rows N] [--cycles N] [--rate TPS] [--dwell S]" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/slipway-rbbench.XXXXXX)
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
now_ms() { date +%s%3N; }

PORT=$((20000 + RANDOM % 20000))
ADMIN=$("$ROOT/deploy/pg-throwaway.sh" start "$PGDIR" "$PORT")
TARGET="postgresql:///rb?host=$PGDIR&port=$PORT&user=postgres"

# The generated database is cached (as snapshot_bench.sh does); the run
# works on a copy with the followers' tables added.
CACHE=$ROOT/bench/out/racetiming-r$ROWS-s1.db
if [[ ! -f $CACHE ]]; then
  echo "generating $CACHE" >&2
  "$B/bench/gen_racetiming" --out "$CACHE" --rows "$ROWS" --seed 1 >/dev/null
fi
DB=$WORK/app.db
cp "$CACHE" "$DB"
sqlite3 "$DB" "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
  CREATE TABLE events_log (id INTEGER PRIMARY KEY AUTOINCREMENT, writer INTEGER NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL);
  INSERT INTO counters VALUES (1,0),(2,0),(3,0),(4,0),(99,0);" >/dev/null
echo "preparing: $ROWS rows, slipway snapshot" >&2
psql "$ADMIN" -qc "CREATE DATABASE rb"
"$B/slipway" snapshot --source "$DB" --target "$TARGET" > "$WORK/snapshot.log" 2>&1 ||
  { cat "$WORK/snapshot.log" >&2; exit 1; }
sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
# The load leaves autovacuum a VACUUM ANALYZE of every big table to do; on
# results at 10M rows it outlasts the first cutover's full verify, and the
# fence's CREATE TRIGGER waits behind it past the freeze budget (autovacuum
# yields only after deadlock_timeout, 1 s, the budget). Done here, untimed.
echo "preparing: VACUUM ANALYZE of the target" >&2
t0=$(date +%s.%N)
psql "$TARGET" -qc "VACUUM (ANALYZE)"
echo "VACUUM ANALYZE: $(echo "$(date +%s.%N) - $t0" | bc) s" >&2
ENV=$WORK/app.env
echo "DATABASE_URL=sqlite://$DB" > "$ENV"

# Whether the fenced side refuses a write right now (1: accepted, 0: refused).
sqlite_accepts() { sqlite3 -cmd ".timeout 2000" "$DB" "UPDATE counters SET n = n WHERE id = 99" >/dev/null 2>&1 && echo 1 || echo 0; }
pg_accepts() { psql "$TARGET" -qc "UPDATE counters SET n = n WHERE id = 99" >/dev/null 2>&1 && echo 1 || echo 0; }

"$B/slipway" stream --source "$DB" --target "$TARGET" > "$WORK/stream.log" 2>&1 &
STREAM=$!
FOLLOWERS=()
for id in $(seq 1 $WRITERS); do
  "$B/bench/app_follower" --config "$ENV" --key DATABASE_URL --id "$id" --rate "$RATE" --seconds 0 \
    --ack-log "$WORK/acks-$id.log" > "$WORK/follower-$id.out" 2>"$WORK/follower-$id.err" &
  FOLLOWERS+=($!)
done
PIDS=("$STREAM" "${FOLLOWERS[@]}")
MOVES=$WORK/moves.txt
: > "$MOVES"
move() {  # move KIND: runs it, appends "kind start_ms end_ms freeze_ms fenced_accepts" to $MOVES
  local kind=$1 t0 t1 out freeze accepted
  t0=$(now_ms)
  if ! out=$("$B/slipway" "$kind" --source "$DB" --target "$TARGET" --flip-file "$ENV" --flip-key DATABASE_URL --json 2>"$WORK/$kind.err"); then
    echo "slipway $kind failed: $out $(cat "$WORK/$kind.err")" >&2; exit 1
  fi
  t1=$(now_ms)
  freeze=$(echo "$out" | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["freeze_ms"])')
  if [[ $kind == cutover ]]; then accepted=$(sqlite_accepts); else accepted=$(pg_accepts); fi
  echo "$kind $t0 $t1 $freeze $accepted" >> "$MOVES"
  echo "$out" >> "$WORK/reports.jsonl"
  echo "  $kind: freeze $freeze ms, fenced side accepted a probe write: $accepted" >&2
}
sleep 3
for c in $(seq 1 "$CYCLES"); do
  echo "cycle $c" >&2
  move cutover
  sleep "$DWELL"
  # Just before the next move the fenced side still refuses.
  [[ $(sqlite_accepts) == 0 ]] || echo "cutover probe-late 1" >> "$MOVES"
  move rollback
  sleep "$DWELL"
  [[ $(pg_accepts) == 0 ]] || echo "rollback probe-late 1" >> "$MOVES"
done
sleep 1
for p in "${FOLLOWERS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${FOLLOWERS[@]}"; do wait "$p" || true; done
kill -TERM "$STREAM" 2>/dev/null || true
wait "$STREAM" || true
PIDS=()

# Per writer: acks, and what SQLite holds of its acknowledged seqs.
CHECK=$WORK/check.txt
: > "$CHECK"
for id in $(seq 1 $WRITERS); do
  n=$(wc -l < "$WORK/acks-$id.log")
  read -r rows distinct inrange < <(sqlite3 -separator ' ' "$DB" \
    "select count(*), count(distinct seq), count(distinct case when seq between 1 and $n then seq end) from events_log where writer = $id")
  counter=$(sqlite3 "$DB" "select n from counters where id = $id")
  gap=$(grep -o 'max_gap_ms=[0-9]*' "$WORK/follower-$id.out" | cut -d= -f2)
  last=$(tail -1 "$WORK/acks-$id.log" | awk '{print $4}')
  echo "$id $n $rows $distinct $inrange $counter ${gap:-0} $last" >> "$CHECK"
done
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$MOVES" "$CHECK" "$WORK" "$WRITERS" "$ROOT/bench/out/rollback_bench.json" "$LOAD" "$ROWS" <<'PY'
import json, statistics, sys
moves_path, check_path, work, writers, out_path, load, rows = sys.argv[1:8]
writers = int(writers)
moves, late = [], {"cutover": 0, "rollback": 0}
reports = [json.loads(l) for l in open(work + "/reports.jsonl") if l.strip()]
for l in open(moves_path):
    f = l.split()
    if f[1] == "probe-late":
        late[f[0]] += int(f[2])
    else:
        moves.append({"kind": f[0], "start": int(f[1]), "end": int(f[2]), "freeze": float(f[3]), "probe": int(f[4])})
for m, r in zip(moves, reports):
    m["steps"] = r.get("steps", [])
    m["attempts"] = r.get("attempts", 1)
# Every gap between two consecutive acks of a writer, with the side each
# ack was written to; a gap is charged to the move whose run overlaps it.
acks = {}
for w in range(1, writers + 1):
    acks[w] = [(int(l.split()[2]), l.split()[3]) for l in open("%s/acks-%d.log" % (work, w)) if l.strip()]
def gaps_of(kind):
    best = 0
    for m in (m for m in moves if m["kind"] == kind):
        for a in acks.values():
            for (t0, _), (t1, _) in zip(a, a[1:]):
                if t1 >= m["start"] and t0 <= m["end"]:
                    best = max(best, t1 - t0)
    return best
# Acks on the side a move fenced, stamped after the move returned (the fence
# was in place before it returned).
old = {"cutover": "sqlite", "rollback": "pg"}
def after_fence(kind):
    n = 0
    for i, m in enumerate(moves):
        if m["kind"] != kind: continue
        nxt = moves[i + 1]["start"] if i + 1 < len(moves) else float("inf")
        for a in acks.values():
            n += sum(1 for t, db in a if db == old[kind] and m["end"] < t < nxt)
    return n + sum(m["probe"] for m in moves if m["kind"] == kind) + late[kind]
check = [list(l.split()) for l in open(check_path)]
acked = sum(int(c[1]) for c in check)
lost = sum(int(c[1]) - int(c[4]) for c in check)
doubled = sum(int(c[2]) - int(c[3]) for c in check) + sum(int(c[3]) - int(c[4]) for c in check)
counter_off = sum(abs(int(c[5]) - int(c[1])) for c in check)
ended_sqlite = all(c[7] == "sqlite" for c in check)
follower_gap = max(int(c[6]) for c in check)
out = {"rows": int(rows), "cycles": sum(1 for m in moves if m["kind"] == "rollback"), "writers": writers,
       "loadavg_at_end": load, "acked": acked, "lost": lost, "doubled_or_unacked": doubled,
       "counter_mismatch": counter_off, "writers_ended_on_sqlite": ended_sqlite,
       "follower_max_gap_ms": follower_gap, "moves": moves}
print("rollback bench: %d rows, %d cutover/rollback cycles, %d writers following the config, one stream throughout"
      % (int(rows), out["cycles"], writers))
print("load average at the end: %s" % load)
print("%-10s %9s %15s %10s %10s %14s" % ("move", "freeze p50", "range (ms)", "worst ms", "app gap ms", "after fence"))
for kind in ("cutover", "rollback"):
    fr = [m["freeze"] for m in moves if m["kind"] == kind]
    g = gaps_of(kind); af = after_fence(kind)
    out[kind] = {"freeze_ms": fr, "freeze_median_ms": statistics.median(fr), "freeze_worst_ms": max(fr),
                 "app_gap_worst_ms": g, "accepted_after_fence": af}
    print("%-10s %9.1f %15s %10.1f %10d %14d" % (kind, statistics.median(fr), "%.1f-%.1f" % (min(fr), max(fr)),
                                                  max(fr), g, af))
for kind in ("cutover", "rollback"):
    steps = {}
    for m in (m for m in moves if m["kind"] == kind):
        for st in m["steps"]:
            steps.setdefault(st["step"], []).append(st["ms"])
    print("%s freeze by step, median (max) ms: %s" % (kind, ", ".join(
        "%s %.1f (%.1f)" % (k, statistics.median(v), max(v)) for k, v in steps.items())))
    out[kind]["steps_median_ms"] = {k: statistics.median(v) for k, v in steps.items()}
for kind in ("cutover", "rollback"):
    worst = max((m for m in moves if m["kind"] == kind), key=lambda m: m["freeze"])
    print("worst %s freeze %.1f ms (attempt %s): %s" % (kind, worst["freeze"], worst["attempts"],
          ", ".join("%s %.1f" % (st["step"], st["ms"]) for st in worst["steps"])))
r = out["rollback"]
print("goals (rollback): freeze median %.1f <= 200 ms %s; worst %.1f <= 1000 ms %s; gap %d <= 1500 ms %s" % (
    r["freeze_median_ms"], "meets" if r["freeze_median_ms"] <= 200 else "MISSES",
    r["freeze_worst_ms"], "meets" if r["freeze_worst_ms"] <= 1000 else "MISSES",
    r["app_gap_worst_ms"], "meets" if r["app_gap_worst_ms"] <= 1500 else "MISSES"))
print("acknowledged writes %d; lost %d (goal 0); doubled or unacknowledged rows in SQLite %d; counters off by %d;"
      " writers ended on SQLite: %s; largest gap any follower saw %d ms"
      % (acked, lost, doubled, counter_off, "yes" if ended_sqlite else "NO", follower_gap))
json.dump(out, open(out_path, "w"), indent=2)
PY
