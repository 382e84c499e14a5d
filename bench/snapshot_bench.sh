#!/usr/bin/env bash
# snapshot_bench.sh: how fast is `slipway snapshot` (and `slipway verify`)
# compared with the plain ways of loading the same rows into PostgreSQL, on
# this machine, in one run. See bench/README.md.
#
#   bench/snapshot_bench.sh [--rows N] [--seed S] [--runs R] [--jobs J]
#                           [--port P] [--skip-wal]
#
# Environment: SLIPWAY_BUILD  build folder (default "build", relative to the
#              repository root unless absolute)
#              SLIPWAY_BENCH_OUT  work folder (default bench/out, git-ignored)
#
# Every timed step runs R times (default 3) and the median is reported. The
# generated SQLite database is cached in the work folder by rows+seed; the
# CSV and binary files are made once per run and removed at the end. The
# table is printed and written to $SLIPWAY_BENCH_OUT/snapshot_bench.json.
# Figures are reported, not asserted: the exit status is non-zero only when a
# step fails.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SLIPWAY_BUILD:-build}
[[ $build == /* ]] || build=$root/$build
out=${SLIPWAY_BENCH_OUT:-$root/bench/out}

rows=1000000
seed=1
runs=3
jobs=""
port=$((54000 + $$ % 1000))
skip_wal=0
writer_rate=200
writer_rows_per_tx=10
big_chunk=100000000

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --jobs) jobs=${2:?}; shift 2 ;;
    --port) port=${2:?}; shift 2 ;;
    --skip-wal) skip_wal=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "snapshot_bench: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $rows =~ ^[0-9]+$ && $rows -gt 0 ]] || { echo "snapshot_bench: --rows must be a positive integer" >&2; exit 2; }
[[ $runs =~ ^[0-9]+$ && $runs -gt 0 ]] || { echo "snapshot_bench: --runs must be a positive integer" >&2; exit 2; }

slipway=$build/slipway
gen=$build/bench/gen_racetiming
writer=$build/bench/app_writer
for b in "$slipway" "$gen" "$writer"; do
  [[ -x $b ]] || { echo "snapshot_bench: $b not built (cmake --build ${build#"$root"/})" >&2; exit 1; }
done
for t in sqlite3 psql jq /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "snapshot_bench: needs $t" >&2; exit 1; }
done
jobs_args=()
[[ -n $jobs ]] && jobs_args=(--jobs "$jobs")

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { echo "snapshot_bench: $*" >&2; exit 1; }

# ---------------------------------------------------------------- clean-up
mkdir -p "$out"
work=$(mktemp -d "$out/run.XXXXXX")
pgdir=$(mktemp -d /tmp/slipway-sbench-pg.XXXXXX)  # the server writes the binary files here
writer_pid=""
sampler_pid=""
pg_started=0
cleanup() {
  local rc=$?
  set +e
  [[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null && wait "$sampler_pid" 2>/dev/null
  if [[ -n $writer_pid ]]; then
    kill -TERM "$writer_pid" 2>/dev/null
    wait "$writer_pid" 2>/dev/null
  fi
  if [[ $pg_started -eq 1 ]]; then
    "$root/deploy/pg-throwaway.sh" stop "$pgdir"
  else
    rm -rf "$pgdir"
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mb() { awk -v k="$1" -v d="$2" 'BEGIN { printf "%.1f", k / d }'; }  # mb VALUE DIVISOR

uri_for() { echo "${base_uri/\/\/\/postgres\?/\/\/\/$1?}"; }
pq() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }
admin() { pq "$base_uri" -At -c "$1"; }
fresh_db() { admin "DROP DATABASE IF EXISTS $1" >/dev/null; admin "CREATE DATABASE $1" >/dev/null; }
drop_db() { admin "DROP DATABASE IF EXISTS $1" >/dev/null; }
settle() { admin "CHECKPOINT" >/dev/null; sync; }  # start each timed step from the same place

# A fresh copy of the cached database at a fixed path (the snapshot installs
# capture triggers in its source, and the plan names its source path).
fresh_source() {  # fresh_source DEST
  rm -f "$1" "$1-wal" "$1-shm"
  cp "$db" "$1"
}

# ---------------------------------------------------------------- 1. data
db=$out/racetiming-r$rows-s$seed.db
if [[ ! -f $db ]]; then
  log "generating $db ($rows rows, seed $seed)"
  t0=$(now)
  "$gen" --out "$db" --rows "$rows" --seed "$seed" >&2
  log "generated in $(since "$t0") s"
else
  log "using cached $db"
fi
# A cached file must be a complete, checkpointed database (cp copies one
# file; closing the last connection checkpoints and removes the -wal file).
[[ $(sqlite3 -init /dev/null -batch "$db" 'PRAGMA journal_mode') == wal ]] || die "$db is not in WAL mode"
[[ ! -s $db-wal ]] || die "$db-wal is not empty (is something using $db?)"
db_mb=$(mb "$(stat -c %s "$db")" 1048576)

log "starting PostgreSQL in $pgdir (port $port)"
base_uri=$("$root/deploy/pg-throwaway.sh" start "$pgdir" "$port")
pg_started=1
pg_version=$(admin "SHOW server_version")
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

src=$work/source.db
fresh_source "$src"
plan=$work/plan.json
"$slipway" plan --source "$src" --out "$plan" >/dev/null 2>"$work/plan.err" || { cat "$work/plan.err" >&2; die "slipway plan failed"; }
"$slipway" plan --source "$src" --ddl >"$work/ddl.sql" 2>>"$work/plan.err" || { cat "$work/plan.err" >&2; die "slipway plan --ddl failed"; }

# The DDL for the baselines: every statement of the "before the data" part,
# and the primary keys of the "after the data" part.
awk '
  /^-- before the data/ { part = 1; next }
  /^-- after the data/  { part = 2; next }
  stmt == "" && /^--/   { next }
  { stmt = stmt $0 "\n" }
  /;[[:space:]]*$/ {
    if (part == 1) print stmt > "/dev/stdout"
    else if (part == 2 && stmt ~ /PRIMARY KEY/) print stmt > "/dev/stderr"
    stmt = ""
  }' "$work/ddl.sql" >"$work/pre.sql" 2>"$work/pk.sql"
grep -q 'CREATE TABLE' "$work/pre.sql" || die "no CREATE TABLE in the plan's DDL"
sed 's/CREATE TABLE/CREATE UNLOGGED TABLE/' "$work/pre.sql" >"$work/pre_unlogged.sql"

pg_schema=$(jq -r '.options.pg_schema // "public"' "$plan")
mapfile -t src_tables < <(jq -r '.tables[].source' "$plan")
mapfile -t dst_tables < <(jq -r '.tables[].target' "$plan")
[[ ${#src_tables[@]} -gt 0 ]] || die "the plan has no tables"
qi() { printf '"%s"' "${1//\"/\"\"}"; }
# Column lists (target order, and the source columns they come from).
declare -A src_cols dst_cols
for i in "${!src_tables[@]}"; do
  s=${src_tables[$i]}
  src_cols[$s]=$(jq -r --arg t "$s" '.tables[] | select(.source == $t) | [.columns[] | "\"" + (.source | gsub("\""; "\"\"")) + "\""] | join(", ")' "$plan")
  dst_cols[$s]=$(jq -r --arg t "$s" '.tables[] | select(.source == $t) | [.columns[] | "\"" + (.target | gsub("\""; "\"\"")) + "\""] | join(", ")' "$plan")
done
qt() { echo "$(qi "$pg_schema").$(qi "$1")"; }

csv_select() {  # csv_select INDEX: the SELECT that feeds table INDEX
  local s=${src_tables[$1]}
  echo "SELECT ${src_cols[$s]} FROM $(qi "$s")"
}
sqlite_csv() { sqlite3 -init /dev/null -batch -bail -readonly -csv "$src" "$1"; }

# ---------------------------------------------------------------- 2-6. timed steps
log "exporting CSV files (not timed)"
for i in "${!src_tables[@]}"; do sqlite_csv "$(csv_select "$i")" >"$work/t$i.csv"; done
csv_mb=$(mb "$(du -cb "$work"/t*.csv | tail -1 | cut -f1)" 1048576)

create_tables() {  # create_tables DB pre.sql [pk]
  pq "$(uri_for "$1")" -f "$2" >/dev/null
  [[ ${3:-} == pk ]] && pq "$(uri_for "$1")" -f "$work/pk.sql" >/dev/null
  return 0
}

copy_cols() { echo "$(qt "${dst_tables[$1]}") (${dst_cols[${src_tables[$1]}]})"; }

# Binary files for C, written by the server from an untimed load of the CSVs.
log "loading once to write the binary files (not timed)"
fresh_db bench_bin; create_tables bench_bin "$work/pre.sql"
for i in "${!src_tables[@]}"; do
  pq "$(uri_for bench_bin)" -c "\\copy $(copy_cols "$i") FROM '$work/t$i.csv' WITH (FORMAT csv)"
  pq "$(uri_for bench_bin)" -c "COPY $(copy_cols "$i") TO '$pgdir/t$i.bin' (FORMAT binary)"
done
drop_db bench_bin

step_a() {  # A: COPY csv files into tables with their primary keys
  local d=bench_a$1 t0
  fresh_db "$d"; create_tables "$d" "$work/pre.sql" pk; settle
  t0=$(now)
  for i in "${!src_tables[@]}"; do
    pq "$(uri_for "$d")" -c "\\copy $(copy_cols "$i") FROM '$work/t$i.csv' WITH (FORMAT csv)"
  done
  t_a+=("$(since "$t0")")
  drop_db "$d"
}

step_b() {  # B: sqlite3 -csv | psql \copy, same tables
  local d=bench_b$1 t0
  fresh_db "$d"; create_tables "$d" "$work/pre.sql" pk; settle
  t0=$(now)
  for i in "${!src_tables[@]}"; do
    sqlite_csv "$(csv_select "$i")" | pq "$(uri_for "$d")" -c "\\copy $(copy_cols "$i") FROM STDIN WITH (FORMAT csv)"
  done
  t_b+=("$(since "$t0")")
  drop_db "$d"
}

step_c() {  # C: binary COPY from server-side files into UNLOGGED tables without indexes
  local d=bench_c$1 t0
  fresh_db "$d"; create_tables "$d" "$work/pre_unlogged.sql"; settle
  t0=$(now)
  for i in "${!src_tables[@]}"; do
    pq "$(uri_for "$d")" -c "COPY $(copy_cols "$i") FROM '$pgdir/t$i.bin' (FORMAT binary)"
  done
  t_c+=("$(since "$t0")")
  drop_db "$d"
}

run_snapshot() {  # run_snapshot DB TIMES_VAR MEM_VAR INNER_VAR [args...]: one timed snapshot
  local d=$1 tv=$2 mv=$3 iv=$4
  shift 4
  fresh_source "$src"
  fresh_db "$d"; settle
  local t0 secs kb cpu_u cpu_s
  t0=$(now)
  /usr/bin/time -f '%M %U %S' -o "$work/time.out" \
    "$slipway" snapshot --source "$src" --target "$(uri_for "$d")" --json "${jobs_args[@]}" "$@" \
    >"$work/snapshot.out" 2>"$work/snapshot.err" || { cat "$work/snapshot.err" >&2; die "slipway snapshot failed"; }
  secs=$(since "$t0")
  read -r kb cpu_u cpu_s < <(tail -1 "$work/time.out")
  eval "$tv+=(\"$secs\")"
  eval "$mv+=(\"$kb\")"
  eval "${tv}_cpu+=(\"$(awk -v u="$cpu_u" -v s="$cpu_s" 'BEGIN { printf "%.2f", u + s }')\")"
  if [[ -n $iv ]]; then
    local inner
    inner=$(jq -r 'select(.event == "snapshot_done") | .seconds' "$work/snapshot.out" | tail -1)
    eval "$iv+=(\"${inner:-0}\")"
  fi
}

verify_state=ok
verify_note=""
if "$slipway" verify --help >/dev/null 2>"$work/verify.err"; then
  :
elif grep -q "unknown command" "$work/verify.err"; then
  verify_state=missing
  verify_note="slipway verify does not exist in this build (unknown command): skipped"
  log "$verify_note"
else
  verify_state=error
  verify_note="slipway verify --help failed: $(tail -1 "$work/verify.err")"
  echo "snapshot_bench: $verify_note" >&2
fi

step_verify() {  # slipway verify on DB (loaded from $src), then read both sides
  local d=$1 t0 vrc a b
  if [[ $verify_state == ok ]]; then
    settle
    t0=$(now)
    set +e
    "$slipway" verify --source "$src" --target "$(uri_for "$d")" --plan "$plan" >"$work/verify.out" 2>"$work/verify.err"
    vrc=$?
    set -e
    t_verify+=("$(since "$t0")")
    cat "$work/verify.err" "$work/verify.out" >"$out/snapshot_bench.verify.log"
    if [[ $vrc -eq 1 ]]; then
      verify_note="verify reported differences (exit 1) right after the snapshot"
    elif [[ $vrc -ne 0 ]]; then
      verify_state=error
      verify_note="slipway verify failed (exit $vrc): $(tail -1 "$work/verify.err")"
      echo "snapshot_bench: $verify_note" >&2
    fi
  fi
  settle
  t0=$(now)
  for i in "${!src_tables[@]}"; do
    sqlite3 -init /dev/null -batch -bail -readonly "$src" "select * from $(qi "${src_tables[$i]}")" >/dev/null
  done
  a=$(since "$t0")
  t0=$(now)
  for i in "${!src_tables[@]}"; do
    pq "$(uri_for "$d")" -c "\\copy (SELECT * FROM $(qt "${dst_tables[$i]}")) TO '/dev/null'"
  done
  b=$(since "$t0")
  t_read_sqlite+=("$a"); t_read_pg+=("$b")
  t_read+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a + b }')")
}

# The runs are interleaved (round r runs every step once), so a burst of load
# on this shared machine spreads over the steps instead of hitting one.
declare -a t_a t_b t_c t_snap t_snap_self t_snap_inner m_snap m_snap_self t_verify t_read t_snap_cpu t_snap_self_cpu
declare -a t_read_sqlite t_read_pg
for r in $(seq "$runs"); do
  log "round $r/$runs: A COPY csv with PK"
  step_a "$r"
  log "round $r/$runs: B sqlite3 -csv | psql \\copy"
  step_b "$r"
  log "round $r/$runs: C binary COPY into UNLOGGED tables without indexes"
  step_c "$r"
  log "round $r/$runs: slipway snapshot (plans itself)"
  run_snapshot bench_p$r t_snap_self m_snap_self ""
  drop_db bench_p$r
  log "round $r/$runs: slipway snapshot --plan"
  run_snapshot bench_s$r t_snap m_snap t_snap_inner --plan "$plan"
  snap_rows=$(jq -r 'select(.event == "snapshot_done") | .rows' "$work/snapshot.out" | tail -1)
  log "round $r/$runs: slipway verify, read both sides"
  step_verify bench_s$r
  drop_db bench_s$r
done
rm -f "$work"/t*.csv "$pgdir"/t*.bin

# ---------------------------------------------------------------- 7. WAL growth
# The app writer commits during the snapshot; a checkpoint cannot move past
# the oldest open read transaction, so the WAL grows for as long as one lasts.
wal_src=$work/wal.db
# Set by wal_run (printf -v) for the two runs: walc_* chunked, walb_* one big chunk.
walc_mb="" walc_seconds="" walc_samples="" walc_writer=""
walb_mb="" walb_seconds="" walb_samples="" walb_writer=""
wal_plan=$work/wal-plan.json
wal_run() {  # wal_run DB RESULT_PREFIX [snapshot args...]
  local d=$1 pfx=$2
  shift 2
  fresh_source "$wal_src"
  [[ -f $wal_plan ]] || "$slipway" plan --source "$wal_src" --out "$wal_plan" >/dev/null 2>"$work/plan.err" ||
    { cat "$work/plan.err" >&2; die "slipway plan (WAL source) failed"; }
  fresh_db "$d"; settle
  "$writer" --db "$wal_src" --rate "$writer_rate" --seconds 0 --rows-per-tx "$writer_rows_per_tx" >"$work/writer.out" 2>"$work/writer.err" &
  writer_pid=$!
  sleep 1  # the writer is running before the copy starts
  kill -0 "$writer_pid" 2>/dev/null || { cat "$work/writer.err" >&2; die "app_writer did not start"; }
  (
    trap 'exit 0' TERM
    while :; do
      stat -c %s "$wal_src-wal" 2>/dev/null || echo 0
      sleep 0.1
    done
  ) >"$work/wal.samples" &
  sampler_pid=$!
  local t0 secs
  t0=$(now)
  "$slipway" snapshot --source "$wal_src" --target "$(uri_for "$d")" --plan "$wal_plan" --json "${jobs_args[@]}" "$@" \
    >"$work/snapshot.out" 2>"$work/snapshot.err" || { cat "$work/snapshot.err" >&2; die "slipway snapshot (with writer) failed"; }
  secs=$(since "$t0")
  kill "$sampler_pid"; wait "$sampler_pid" 2>/dev/null || true
  sampler_pid=""
  kill -TERM "$writer_pid"
  local wrc=0
  wait "$writer_pid" || wrc=$?
  writer_pid=""
  [[ $wrc -eq 0 ]] || { cat "$work/writer.err" >&2; die "app_writer failed (exit $wrc)"; }
  local max_bytes
  max_bytes=$(sort -g "$work/wal.samples" | tail -1)
  printf -v "${pfx}_mb" '%s' "$(mb "${max_bytes:-0}" 1048576)"
  printf -v "${pfx}_seconds" '%s' "$secs"
  printf -v "${pfx}_samples" '%s' "$(wc -l <"$work/wal.samples")"
  printf -v "${pfx}_writer" '%s' "$(tail -1 "$work/writer.out")"
  drop_db "$d"
}
if [[ $skip_wal -eq 0 ]]; then
  log "WAL growth with app_writer at $writer_rate tps x $writer_rows_per_tx rows: default chunks"
  wal_run bench_w1 walc
  log "WAL growth: --chunk-rows $big_chunk (one read transaction per table)"
  wal_run bench_w2 walb --chunk-rows "$big_chunk"
fi

# ---------------------------------------------------------------- report
A=$(median "${t_a[@]}"); B=$(median "${t_b[@]}"); C=$(median "${t_c[@]}")
S=$(median "${t_snap[@]}"); SP=$(median "${t_snap_self[@]}"); SI=$(median "${t_snap_inner[@]}")
MS=$(median "${m_snap[@]}"); MSP=$(median "${m_snap_self[@]}")
R=$(median "${t_read[@]}"); RS=$(median "${t_read_sqlite[@]}"); RP=$(median "${t_read_pg[@]}")
V=""
[[ ${#t_verify[@]} -gt 0 && $verify_state == ok ]] && V=$(median "${t_verify[@]}")
range() { printf '%s-%s' "$(printf '%s\n' "$@" | sort -g | head -1)" "$(maxof "$@")"; }

jobs_used=${jobs:-$(nproc)}
{
  printf 'slipway snapshot bench: %s rows (seed %s, %s MB SQLite), PostgreSQL %s, %s cores, --jobs %s, median of %s runs\n' \
    "$rows" "$seed" "$db_mb" "$pg_version" "$(nproc)" "$jobs_used" "$runs"
  printf 'load average (1/5/15 min) at the start: %s, at the end: %s\n\n' "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-36s %8s %8s   %s\n' step seconds "x COPY" "runs (min-max)"
  row() { printf '%-36s %8.2f %8s   %s\n' "$1" "$2" "$(ratio "$2" "$A")" "$3"; }
  row "COPY csv with PK (reference)" "$A" "$(range "${t_a[@]}")"
  row "sqlite3 -csv | psql \\copy" "$B" "$(range "${t_b[@]}")"
  row "binary COPY unlogged, no index" "$C" "$(range "${t_c[@]}")"
  row "slipway snapshot --plan" "$S" "$(range "${t_snap[@]}")"
  row "slipway snapshot (plans itself)" "$SP" "$(range "${t_snap_self[@]}")"
  if [[ -n $V ]]; then
    printf '%-36s %8.2f   (read both sides %.2f: %sx)   %s\n' "slipway verify" "$V" "$R" "$(ratio "$V" "$R")" "$(range "${t_verify[@]}")"
  else
    printf '%-36s %8s   (read both sides %.2f)   %s\n' "slipway verify" "n/a" "$R" "$verify_note"
  fi
  printf '%-36s %5s MB   (plans itself: %s MB)\n' "peak memory snapshot" "$(mb "$MS" 1024)" "$(mb "$MSP" 1024)"
  if [[ $skip_wal -eq 0 ]]; then
    printf '%-36s %5s MB   (one read tx per table: %s MB)\n' "max WAL during snapshot (chunked)" "$walc_mb" "$walb_mb"
  fi
  printf '\nnotes: "seconds" is wall time of the whole step (slipway: the process; its own figure, --plan: %.2f s).\n' "$SI"
  printf '       slipway CPU (user+sys, median): --plan %.2f s, plans itself %.2f s.\n' "$(median "${t_snap_cpu[@]}")" "$(median "${t_snap_self_cpu[@]}")"
  printf '       read both sides = sqlite3 select * (%.2f s) + psql \\copy to /dev/null (%.2f s).\n' "$RS" "$RP"
  if [[ $skip_wal -eq 0 ]]; then
    printf '       WAL runs: snapshot %.2f s chunked, %.2f s one tx per table; writer: %s\n' "$walc_seconds" "$walb_seconds" "${walb_writer#app_writer: }"
  fi
  [[ -z $verify_note ]] || printf '       %s\n' "$verify_note"
} | tee "$work/table.txt"

arr() { printf '%s\n' "$@" | jq -R 'tonumber' | jq -s .; }
jq -n \
  --argjson rows "$rows" --argjson seed "$seed" --argjson runs "$runs" --argjson jobs "$jobs_used" \
  --argjson cores "$(nproc)" --arg pg_version "$pg_version" --argjson sqlite_mb "$db_mb" --argjson csv_mb "$csv_mb" \
  --arg loadavg "$(cut -d' ' -f1-3 /proc/loadavg)" --arg load_start "$load_start" \
  --argjson scpu "$(arr "${t_snap_cpu[@]}")" --argjson spcpu "$(arr "${t_snap_self_cpu[@]}")" \
  --argjson a "$(arr "${t_a[@]}")" --argjson b "$(arr "${t_b[@]}")" --argjson c "$(arr "${t_c[@]}")" \
  --argjson s "$(arr "${t_snap[@]}")" --argjson si "$(arr "${t_snap_inner[@]}")" --argjson sp "$(arr "${t_snap_self[@]}")" \
  --argjson ms "$(arr "${m_snap[@]}")" --argjson msp "$(arr "${m_snap_self[@]}")" \
  --argjson v "$(if [[ -n $V ]]; then arr "${t_verify[@]}"; else echo null; fi)" \
  --arg verify_state "$verify_state" --arg verify_note "$verify_note" \
  --argjson rd "$(arr "${t_read[@]}")" --argjson rds "$(arr "${t_read_sqlite[@]}")" --argjson rdp "$(arr "${t_read_pg[@]}")" \
  --argjson snap_rows "${snap_rows:-null}" \
  --argjson wal "$(if [[ $skip_wal -eq 0 ]]; then
      jq -n --argjson c "$walc_mb" --argjson b "$walb_mb" --argjson cs "$walc_seconds" --argjson bs "$walb_seconds" \
        --argjson chunk "$big_chunk" --argjson rate "$writer_rate" --argjson rpt "$writer_rows_per_tx" \
        --arg wc "$walc_writer" --arg wb "$walb_writer" --argjson cn "$walc_samples" --argjson bn "$walb_samples" \
        '{writer_tps: $rate, writer_rows_per_tx: $rpt,
          chunked: {max_wal_mb: $c, snapshot_seconds: $cs, samples: $cn, writer: $wc},
          one_read_tx_per_table: {chunk_rows: $chunk, max_wal_mb: $b, snapshot_seconds: $bs, samples: $bn, writer: $wb}}'
    else echo null; fi)" '
  def med: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def step($x): {median_seconds: ($x | med), runs: $x, x_copy: (($x | med) / ($a | med))};
  {rows: $rows, seed: $seed, runs: $runs, jobs: $jobs, cores: $cores, postgresql: $pg_version,
   sqlite_mb: $sqlite_mb, csv_mb: $csv_mb, loadavg_at_start: $load_start, loadavg_at_end: $loadavg, rows_copied: $snap_rows,
   steps: {
     copy_csv_with_pk: step($a),
     sqlite3_csv_pipe_psql_copy: step($b),
     binary_copy_unlogged_no_index: step($c),
     slipway_snapshot_plan: (step($s) + {reported_seconds: $si, cpu_seconds: $scpu}),
     slipway_snapshot_plans_itself: (step($sp) + {cpu_seconds: $spcpu})},
   verify: {state: $verify_state, note: $verify_note,
            verify: (if $v == null then null else {median_seconds: ($v | med), runs: $v} end),
            read_both_sides: {median_seconds: ($rd | med), runs: $rd, sqlite_runs: $rds, psql_runs: $rdp},
            x_read_both_sides: (if $v == null then null else ($v | med) / ($rd | med) end)},
   peak_memory_mb: {snapshot_plan: (($ms | med) / 1024), snapshot_plans_itself: (($msp | med) / 1024),
                    runs_kb: {snapshot_plan: $ms, snapshot_plans_itself: $msp}},
   wal: $wal}' >"$out/snapshot_bench.json"
log "wrote $out/snapshot_bench.json"
[[ $verify_state != error ]] || exit 1
