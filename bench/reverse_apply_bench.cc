// reverse_apply_bench: how fast `slipway stream` carries a backlog of
// PostgreSQL changes back into the app's SQLite file after a cutover, against
// a hand-written loop doing the same work, in one run on this machine.
//
//   reverse_apply_bench [--db FILE] [--rows N] [--changes N] [--rows-per-tx K] [--runs R]
//                       [--port P] [--root DIR] [--out DIR]
//
// 1. A throwaway PostgreSQL, `slipway snapshot` and `slipway cutover` of a
//    fresh copy of the race-timing database (no app running, no stream).
// 2. --changes single-row changes on `results` in PostgreSQL with reverse
//    capture armed (insert/update/delete 50/40/10, K per transaction;
//    updates on random older rows, deletes on distinct older rows), written
//    with synchronous_commit off (it is the backlog, not what is timed).
//    The cut-over SQLite file is kept as it is (the pristine copy).
// 3. Per run, in an order rotated every run, each from a fresh copy of the
//    pristine file (after `sync`):
//      slipway: `slipway stream --until-caught-up` (wall time of the process,
//        start-up included) on a database cloned from the backlog's
//        (CREATE DATABASE ... TEMPLATE: the stream prunes what it applied);
//      loop: the baseline. One COPY (SELECT ... FROM distinct changelog
//        keys LEFT JOIN results) TO STDOUT read row by row, each row written
//        with one prepared INSERT OR REPLACE (DELETE for a key whose row is
//        gone), 1,000 rows per transaction, values bound as text (booleans
//        selected as integers), on a connection with triggers off as
//        slipway's sink has.
//    Each result is checked against PostgreSQL (count, sum(laps),
//    total(finish_seconds) of results).
// 4. Where slipway's time goes, in-process on a fresh copy: the round's
//    phases through the same classes the stream uses (ReverseApplier over
//    PgChangelogSource and SqliteSink): the whole round, then the read side
//    alone (the window's tables, the keys, the Rows() query, which PQexec
//    loads whole, and draining its cursor, which decodes every text value),
//    the rest being the sink.
// Prints a table (changes/s, x loop) and writes OUT/reverse_apply_bench.json.

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_process.h"
#include "bench/bench_util.h"
#include "bench/reverse_fixture.h"
#include "cli/args.h"
#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/pg_source.h"
#include "replicator/reverse_applier.h"
#include "replicator/session.h"
#include "replicator/sqlite_sink.h"

namespace slipway::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kGoalRatio = 1.0;
constexpr double kGoalRate = 30000;
constexpr int64_t kLoopTx = 1000;

struct Options {
  std::string db;
  int64_t rows = 200000;
  int64_t seed = 1;
  int64_t changes = 200000;
  int64_t rows_per_tx = 10;
  int runs = 3;
  int port = 0;
  std::string root = ".";
  std::string out = "bench/out";
  fs::path bin;
};

// The backlog: see step 2 at the top.
Status WriteBacklog(const Options& o, const std::string& target) {
  ASSIGN_OR_RETURN(PgConn pg, PgConn::Connect(target));
  RETURN_IF_ERROR(pg.Run("SET synchronous_commit = off"));
  ASSIGN_OR_RETURN(std::vector<int64_t> races, Ids(pg, "SELECT id FROM races ORDER BY id"));
  ASSIGN_OR_RETURN(std::vector<int64_t> people, Ids(pg, "SELECT id FROM participants ORDER BY id LIMIT 5000"));
  ASSIGN_OR_RETURN(std::vector<int64_t> all, Ids(pg, "SELECT id FROM results ORDER BY id"));
  ASSIGN_OR_RETURN(PgResult maxbib, pg.Exec("SELECT max(bib) FROM results"));
  int64_t bib = std::stoll(maxbib.Str(0, 0)) + 1;
  Rng rng(static_cast<uint64_t>(o.seed));
  std::vector<int64_t> deletes(all.begin(), all.begin() + static_cast<long>(all.size() / 2));
  for (size_t i = deletes.size(); i > 1; --i) std::swap(deletes[i - 1], deletes[rng.Next() % i]);
  const std::vector<int64_t> updates(all.begin() + static_cast<long>(all.size() / 2), all.end());
  const std::string now = NowTimestamp();
  int64_t made = 0;
  while (made < o.changes) {
    std::string tx = "BEGIN;";
    for (int64_t i = 0; i < o.rows_per_tx && made < o.changes; ++i, ++made) {
      const int64_t dice = rng.Range(0, 99);
      if (dice < 50 || deletes.empty()) {
        tx += "INSERT INTO results (race_id, participant_id, bib, status, finish_seconds, laps, dnf, splits, "
              "created_at) VALUES (" + std::to_string(races[rng.Next() % races.size()]) + ", " +
              std::to_string(people[rng.Next() % people.size()]) + ", " + std::to_string(bib++) + ", 'finished', " +
              std::to_string(3000 + rng.Range(0, 3000)) + ".5, 0, '0', '[1.5,2.25]', '" + now + "');";
      } else if (dice < 90) {
        tx += "UPDATE results SET laps = laps + 1, updated_at = '" + now +
              "', finish_seconds = coalesce(finish_seconds, 3600) + 0.25 WHERE id = " +
              std::to_string(updates[rng.Next() % updates.size()]) + ";";
      } else {
        tx += "DELETE FROM results WHERE id = " + std::to_string(deletes.back()) + ";";
        deletes.pop_back();
      }
    }
    RETURN_IF_ERROR(pg.Run(tx + "COMMIT"));
  }
  ASSIGN_OR_RETURN(PgResult n, pg.Exec("SELECT count(*) FROM slipway.changelog"));
  if (std::stoll(n.Str(0, 0)) < o.changes) return Internal("the changelog holds " + n.Str(0, 0) + " changes");
  return Status::Ok();
}

struct Check {
  int64_t count = 0, laps = 0;
  double finish = 0;
  bool operator==(const Check& b) const {
    return count == b.count && laps == b.laps && std::abs(finish - b.finish) < 1e-3 * std::max(1.0, std::abs(finish));
  }
  std::string Text() const {
    return std::to_string(count) + " rows, sum(laps) " + std::to_string(laps) + ", total(finish_seconds) " +
           std::to_string(finish);
  }
};

Result<Check> SqliteCheck(const std::string& path) {
  ASSIGN_OR_RETURN(Db db, Db::Open(path, Db::Mode::kReadOnly));
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT count(*), sum(laps), total(finish_seconds) FROM results"));
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Internal("no row");
  return Check{st.Int(0), st.Int(1), st.Real(2)};
}

Result<Check> PgCheck(PgConn& pg) {
  ASSIGN_OR_RETURN(PgResult r, pg.Exec("SELECT count(*), sum(laps), coalesce(sum(finish_seconds), 0) FROM results"));
  return Check{std::stoll(r.Str(0, 0)), std::stoll(r.Str(0, 1)), std::stod(r.Str(0, 2))};
}

void FreshCopy(const std::string& from, const std::string& to) {
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(to + ext);
  fs::copy_file(from, to);
  ::sync();
}

// COPY text format field: \N is NULL; backslash escapes undone.
void Unescape(const char* p, size_t n, std::string& out) {
  out.clear();
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != '\\' || i + 1 == n) {
      out += p[i];
      continue;
    }
    const char c = p[++i];
    out += c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'v' ? '\v' : c;
  }
}

// The baseline loop: see step 3 at the top. Returns rows written.
Result<int64_t> Loop(const std::string& target, const std::string& path, int tid) {
  ASSIGN_OR_RETURN(PgConn pg, PgConn::Connect(target));
  ASSIGN_OR_RETURN(PgResult cols, pg.Exec("SELECT column_name, data_type FROM information_schema.columns WHERE "
                                          "table_schema = 'public' AND table_name = 'results' ORDER BY ordinal_position"));
  std::string select = "k.id", names, marks;
  for (int i = 0; i < cols.Rows(); ++i) {
    const std::string c = QuotePgIdent(cols.Str(i, 0));
    select += ", r." + c + (cols.Str(i, 1) == "boolean" ? "::int" : "");
    names += (i ? ", " : "") + c;
    marks += (i ? ", ?" : "?") + std::to_string(i + 1);
  }
  ASSIGN_OR_RETURN(Db db, replicator::OpenReverseSinkDb(path));
  ASSIGN_OR_RETURN(Stmt upsert, db.Prepare("INSERT OR REPLACE INTO results (" + names + ") VALUES (" + marks + ")"));
  ASSIGN_OR_RETURN(Stmt del, db.Prepare("DELETE FROM results WHERE id = ?1"));
  const std::string copy = "COPY (SELECT " + select + " FROM (SELECT DISTINCT k1::bigint AS id FROM slipway.changelog "
                           "WHERE tid = " + std::to_string(tid) + ") k LEFT JOIN public.results r ON r.id = k.id) TO STDOUT";
  PGresult* res = PQexec(pg.get(), copy.c_str());
  const bool copying = PQresultStatus(res) == PGRES_COPY_OUT;
  PQclear(res);
  if (!copying) return Internal("COPY failed: " + pg.ErrorMessage());
  const int ncols = cols.Rows();
  int64_t written = 0, in_tx = 0;
  std::vector<std::string> fields(static_cast<size_t>(ncols) + 1);
  std::vector<bool> nulls(fields.size());
  char* buf = nullptr;
  int len;
  RETURN_IF_ERROR(db.Exec("BEGIN"));
  while ((len = PQgetCopyData(pg.get(), &buf, 0)) > 0) {
    size_t f = 0, start = 0;
    const size_t n = static_cast<size_t>(len) - 1;  // without the newline
    for (size_t i = 0; i <= n && f < fields.size(); ++i) {
      if (i == n || buf[i] == '\t') {
        nulls[f] = i - start == 2 && buf[start] == '\\' && buf[start + 1] == 'N';
        if (!nulls[f]) Unescape(buf + start, i - start, fields[f]);
        ++f;
        start = i + 1;
      }
    }
    PQfreemem(buf);
    if (nulls[1]) {  // the row is gone
      del.Bind(1, std::string_view(fields[0]));
      RETURN_IF_ERROR(del.Step().status());
      RETURN_IF_ERROR(del.Reset());
    } else {
      for (int c = 0; c < ncols; ++c) {
        if (nulls[static_cast<size_t>(c) + 1]) {
          upsert.BindNull(c + 1);
        } else {
          upsert.Bind(c + 1, std::string_view(fields[static_cast<size_t>(c) + 1]));
        }
      }
      RETURN_IF_ERROR(upsert.Step().status());
      RETURN_IF_ERROR(upsert.Reset());
    }
    ++written;
    if (++in_tx == kLoopTx) {
      RETURN_IF_ERROR(db.Exec("COMMIT; BEGIN"));
      in_tx = 0;
    }
  }
  RETURN_IF_ERROR(db.Exec("COMMIT"));
  if (len == -2) return Internal("COPY read failed: " + pg.ErrorMessage());
  res = PQgetResult(pg.get());
  const bool done = PQresultStatus(res) == PGRES_COMMAND_OK;
  PQclear(res);
  while ((res = PQgetResult(pg.get())) != nullptr) PQclear(res);
  if (!done) return Internal("COPY did not finish: " + pg.ErrorMessage());
  return written;
}

struct Phases {
  double round = 0, touched = 0, keys_read = 0, query = 0, decode = 0;
  int64_t changes = 0, keys = 0, rows = 0;
};

// Where the round's time goes: see step 4 at the top.
Result<Phases> Profile(const CutOver& c, const std::string& target, const std::string& path) {
  Phases ph;
  ASSIGN_OR_RETURN(PgConn pg, PgConn::Connect(target));
  RETURN_IF_ERROR(replicator::SetupSession(pg, replicator::SessionRole::kApplier));
  ASSIGN_OR_RETURN(PgResult m, pg.Exec("SELECT reverse_cycle, pg_snapshot_xmax(reverse_start::pg_snapshot)::text, "
                                       "reverse_start FROM slipway.migration"));
  const int cycle = std::stoi(m.Str(0, 0));
  const replicator::Position from{std::stoll(m.Str(0, 1)), m.Str(0, 2)};
  {
    ASSIGN_OR_RETURN(Db sink, replicator::OpenReverseSinkDb(path));
    replicator::ReverseApplier applier(pg, sink, c.plan, c.tids, cycle);
    replicator::RoundStats rs;
    const auto t0 = Clock::now();
    ASSIGN_OR_RETURN(replicator::Position to, applier.Round(from, &rs, /*max_changes=*/0));
    ph.round = SecondsSince(t0);
    ph.changes = rs.changes;
    ph.keys = rs.keys;
    (void)to;
  }
  replicator::PgChangelogSource source(pg, c.plan, c.tids);
  ASSIGN_OR_RETURN(replicator::Position to, source.BeginRead());
  auto t0 = Clock::now();
  ASSIGN_OR_RETURN(auto touched, source.Touched(from, to));
  ph.touched = SecondsSince(t0);
  for (const auto& t : touched) {
    t0 = Clock::now();
    ASSIGN_OR_RETURN(auto keys, source.Keys(t.tid, from, to));
    while (true) {
      ASSIGN_OR_RETURN(bool more, keys->Next());
      if (!more) break;
    }
    ph.keys_read += SecondsSince(t0);
    t0 = Clock::now();
    ASSIGN_OR_RETURN(auto rows, source.Rows(t.tid, from, to));
    ph.query += SecondsSince(t0);
    t0 = Clock::now();
    while (true) {
      ASSIGN_OR_RETURN(bool more, rows->Next());
      if (!more) break;
      ++ph.rows;
    }
    ph.decode += SecondsSince(t0);
  }
  source.EndRead();
  return ph;
}

Status Run(const Options& o) {
  RETURN_IF_ERROR(EnsureRaceDb(o.bin, o.db, o.rows, o.seed, "reverse_apply_bench"));
  const ScopedWorkDir scoped(o.out + "/reverse_apply_bench." + std::to_string(::getpid()));
  const std::string& work = scoped.dir;
  Server server;
  RETURN_IF_ERROR(server.Start(o.root, o.port ? o.port : 59000 + ::getpid() % 1000, "rabench"));
  ASSIGN_OR_RETURN(CutOver c, PrepareCutOver(o.bin, server, o.db, work, "backlog", "reverse_apply_bench"));
  std::fprintf(stderr, "[reverse_apply_bench] backlog: %lld changes, %lld per transaction\n",
               static_cast<long long>(o.changes), static_cast<long long>(o.rows_per_tx));
  RETURN_IF_ERROR(WriteBacklog(o, c.target));
  const std::string pristine = work + "/pristine.db";
  {
    ASSIGN_OR_RETURN(Db d, Db::Open(c.source, Db::Mode::kReadWrite));
    RETURN_IF_ERROR(d.Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }
  fs::copy_file(c.source, pristine);
  const int tid = c.tids.at("results");
  Check want;
  {
    ASSIGN_OR_RETURN(PgConn pg, PgConn::Connect(c.target));
    ASSIGN_OR_RETURN(want, PgCheck(pg));
  }
  ASSIGN_OR_RETURN(PgConn admin, PgConn::Connect(server.Uri("postgres")));
  const std::string slipway = (o.bin / "../slipway").lexically_normal().string();
  const std::string loop_path = work + "/loop.db";
  std::map<std::string, std::vector<double>> secs;
  for (int run = 0; run < o.runs && !g_stop; ++run) {
    for (int k = 0; k < 2; ++k) {
      const bool slip = (run + k) % 2 == 0;
      if (slip) {
        const std::string clone = "run" + std::to_string(run);
        RETURN_IF_ERROR(admin.Run("CREATE DATABASE " + clone + " TEMPLATE backlog"));
        RETURN_IF_ERROR(admin.Run("CHECKPOINT"));
        FreshCopy(pristine, c.source);
        const auto t0 = Clock::now();
        if (RunProcess({slipway, "stream", "--source", c.source, "--target", server.Uri(clone), "--until-caught-up"},
                       work + "/stream.log") != 0) {
          return Internal("slipway stream failed: " + ReadFile(work + "/stream.log"));
        }
        secs["slipway"].push_back(SecondsSince(t0));
        ASSIGN_OR_RETURN(Check got, SqliteCheck(c.source));
        if (!(got == want)) return Internal("slipway's result differs: " + got.Text() + " vs " + want.Text());
        RETURN_IF_ERROR(admin.Run("DROP DATABASE " + clone));
      } else {
        RETURN_IF_ERROR(admin.Run("CHECKPOINT"));
        FreshCopy(pristine, loop_path);
        const auto t0 = Clock::now();
        ASSIGN_OR_RETURN(int64_t n, Loop(c.target, loop_path, tid));
        secs["loop"].push_back(SecondsSince(t0));
        ASSIGN_OR_RETURN(Check got, SqliteCheck(loop_path));
        if (!(got == want)) return Internal("the loop's result differs: " + got.Text() + " vs " + want.Text());
        (void)n;
      }
      std::fprintf(stderr, "[reverse_apply_bench] run %d %s: %.2f s\n", run + 1, slip ? "slipway" : "loop",
                   slip ? secs["slipway"].back() : secs["loop"].back());
    }
  }
  if (g_stop) return Internal("interrupted");
  FreshCopy(pristine, c.source);
  ASSIGN_OR_RETURN(Phases ph, Profile(c, c.target, c.source));

  const std::string load = LoadAverage();
  const double changes = static_cast<double>(o.changes);
  const double loop_med = MedianOf(secs["loop"]);
  std::printf("reverse apply: a %lld-change backlog on `results` in PostgreSQL (insert/update/delete 50/40/10,\n"
              "%lld per transaction) applied into the SQLite file, %d runs; %ld cores; load average at the end: %s\n",
              static_cast<long long>(o.changes), static_cast<long long>(o.rows_per_tx), o.runs,
              ::sysconf(_SC_NPROCESSORS_ONLN), load.c_str());
  std::printf("%-34s %9s %10s %8s %15s  %s\n", "method", "seconds", "changes/s", "x loop", "runs (min-max)", "goal");
  nlohmann::json js;
  for (const char* m : {"loop", "slipway"}) {
    const auto& v = secs[m];
    const double med = MedianOf(v);
    char range[48];
    std::snprintf(range, sizeof range, "%.2f-%.2f", *std::min_element(v.begin(), v.end()),
                  *std::max_element(v.begin(), v.end()));
    const double rate = changes / med;
    std::string goal;
    if (std::string(m) == "slipway") {
      goal = std::string(loop_med / med >= kGoalRatio ? "meets" : "MISSES") + " 1.0x, " +
             (rate >= kGoalRate ? "meets" : "MISSES") + " 30000/s";
    }
    std::printf("%-34s %9.2f %10.0f %8.2f %15s  %s\n",
                std::string(m) == "loop" ? "loop: COPY + INSERT OR REPLACE" : "slipway stream --until-caught-up", med,
                rate, loop_med / med, range, goal.c_str());
    js[m] = {{"seconds", v}, {"median_seconds", med}, {"changes_per_s", rate}, {"x_loop", loop_med / med}};
  }
  std::printf("slipway's round in-process: %.2f s for %lld changes, %lld keys; of it, reading PostgreSQL: the "
              "window's tables %.2f s, the keys %.2f s, the Rows() query (PQexec, whole result in memory) %.2f s, "
              "decoding %lld rows %.2f s; the rest (SQLite: deletes, inserts, commit) %.2f s\n",
              ph.round, static_cast<long long>(ph.changes), static_cast<long long>(ph.keys), ph.touched, ph.keys_read,
              ph.query, static_cast<long long>(ph.rows), ph.decode,
              ph.round - ph.touched - ph.keys_read - ph.query - ph.decode);
  nlohmann::json j = {{"bench", "reverse_apply_bench"},
                      {"rows", o.rows},
                      {"changes", o.changes},
                      {"rows_per_tx", o.rows_per_tx},
                      {"loadavg_at_end", load},
                      {"methods", js},
                      {"profile", {{"round_s", ph.round}, {"touched_s", ph.touched}, {"keys_s", ph.keys_read}, {"rows_query_s", ph.query}, {"decode_s", ph.decode},
                                   {"changes", ph.changes}, {"keys", ph.keys}, {"rows", ph.rows}}}};
  std::ofstream(o.out + "/reverse_apply_bench.json") << j.dump(2) << "\n";
  return Status::Ok();
}

Status ParseOptions(int argc, char** argv, Options& o) {
  const std::vector<cli::OptionSpec> specs = {{"db", true, ""},   {"rows", true, ""},        {"seed", true, ""},
                                              {"changes", true, ""}, {"rows-per-tx", true, ""}, {"runs", true, ""},
                                              {"port", true, ""}, {"root", true, ""},        {"out", true, ""}};
  ASSIGN_OR_RETURN(cli::Args args, cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc), specs));
  ASSIGN_OR_RETURN(o.rows, ParseInt64("rows", args.GetOr("rows", "200000")));
  ASSIGN_OR_RETURN(o.seed, ParseInt64("seed", args.GetOr("seed", "1")));
  ASSIGN_OR_RETURN(o.changes, ParseInt64("changes", args.GetOr("changes", "200000")));
  ASSIGN_OR_RETURN(o.rows_per_tx, ParseInt64("rows-per-tx", args.GetOr("rows-per-tx", "10")));
  ASSIGN_OR_RETURN(int64_t runs, ParseInt64("runs", args.GetOr("runs", "3")));
  ASSIGN_OR_RETURN(int64_t port, ParseInt64("port", args.GetOr("port", "0")));
  o.runs = static_cast<int>(runs);
  o.port = static_cast<int>(port);
  if (o.changes < 1 || o.rows_per_tx < 1 || o.runs < 1) return InvalidArgument("--changes, --rows-per-tx, --runs must be positive");
  o.root = args.GetOr("root", ".");
  o.out = args.GetOr("out", "bench/out");
  o.db = args.GetOr("db", o.out + "/racetiming-r" + std::to_string(o.rows) + "-s" + std::to_string(o.seed) + ".db");
  return ResolveBenchPaths(&o.bin, &o.out, &o.db);
}

}  // namespace
}  // namespace slipway::bench

int main(int argc, char** argv) {
  return slipway::bench::BenchMain<slipway::bench::Options>("reverse_apply_bench", argc, argv,
                                                           slipway::bench::ParseOptions, slipway::bench::Run);
}
