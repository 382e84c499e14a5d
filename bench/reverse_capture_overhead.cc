// reverse_capture_overhead: what PostgreSQL's reverse capture (the statement
// triggers the cutover arms, replicator/pg_capture.*) costs the app's
// single-row write transactions after a cutover, in one run on this machine.
//
//   reverse_capture_overhead [--db FILE] [--rows N] [--tx N] [--blocks N] [--ops insert,update,delete]
//                            [--synchronous-commit on|off] [--port P] [--root DIR] [--out DIR]
//
// A throwaway PostgreSQL, `slipway snapshot` and `slipway cutover` of a fresh
// copy of the race-timing database (no app running). Then, per op, --tx
// transactions per arm on `results`, each one statement and COMMIT as the app
// sends them (prepared, BEGIN ... COMMIT; synchronous_commit as asked, on
// by default as an app has it; off takes the WAL flush out of each commit, so
// the wall-clock ratio shows the triggers' share of the work):
//   insert: INSERT of one finished result (existing race and participant);
//   update: UPDATE results SET laps = laps + 1, updated_at = $2 WHERE id = $1;
//   delete: DELETE FROM results WHERE id = $1 (distinct ids).
// Arms, on the same table: `with` = replicator::ArmPgCapture() as the cutover
// left it; `without` = the same table after DisarmPgCapture() (triggers
// dropped). The transactions run in --blocks blocks per arm, alternating
// arms as ABBA pairs, so a burst of load from elsewhere hits both alike; each
// pair gives one ratio. Parameters are drawn before the clock. The backend's
// CPU time (/proc/PID/stat of the server process) is read around each block:
// a 1-row commit waits for its WAL flush, which hides some of the trigger's
// cost in wall time but not in CPU.
// Prints a table (rate per arm, with/without ratio: median of the pairs and
// their range) and writes OUT/reverse_capture_overhead.json.

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_process.h"
#include "bench/bench_util.h"
#include "bench/reverse_fixture.h"
#include "cli/args.h"
#include "common/pg.h"
#include "replicator/pg_capture.h"

namespace slipway::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kGoal = 0.8;

struct Options {
  std::string db;
  int64_t rows = 200000;
  int64_t seed = 1;
  int64_t tx = 3000;  // per arm per op
  int64_t blocks = 10;  // per arm
  std::vector<std::string> ops = {"insert", "update", "delete"};
  bool synchronous_commit = true;
  int port = 0;
  std::string root = ".";
  std::string out = "bench/out";
  fs::path bin;
};

// Runs a prepared statement and COMMIT: one app transaction.
Status RunTx(PgConn& pg, const char* stmt, const std::vector<std::string>& params) {
  std::vector<const char*> v;
  for (const auto& p : params) v.push_back(p.c_str());
  PGresult* r = PQexecPrepared(pg.get(), stmt, static_cast<int>(v.size()), v.data(), nullptr, nullptr, 0);
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  const bool one = ok && std::string(PQcmdTuples(r)) == "1";
  std::string err = ok ? "" : PQresultErrorMessage(r);
  PQclear(r);
  if (!ok) return Internal(std::string(stmt) + ": " + err);
  if (!one) return Internal(std::string(stmt) + " touched no row");
  r = PQexec(pg.get(), "COMMIT");
  const bool committed = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!committed) return Internal("COMMIT failed: " + pg.ErrorMessage());
  r = PQexec(pg.get(), "BEGIN");
  PQclear(r);
  return Status::Ok();
}

struct Arm {
  double seconds = 0, cpu = 0;
  int64_t tx = 0;
};

struct OpResult {
  std::string op;
  Arm with, without;
  std::vector<double> pair_ratios;
  int64_t captured = 0;  // changelog rows the `with` blocks wrote
};

Status SetArmed(PgConn& admin, const CutOver& c, bool armed) {
  RETURN_IF_ERROR(admin.Run("BEGIN"));
  Status s = armed ? replicator::ArmPgCapture(admin, c.plan, c.tids) : replicator::DisarmPgCapture(admin, c.plan);
  if (!s.ok()) {
    (void)admin.Run("ROLLBACK");
    return s;
  }
  RETURN_IF_ERROR(admin.Run("COMMIT"));
  // The emptied changelog's dead rows are not left to the next blocks.
  return admin.Run("VACUUM slipway.changelog");
}

Result<OpResult> RunOp(const Options& o, const CutOver& c, PgConn& admin, const std::string& op, Rng& rng,
                       std::vector<int64_t>& delete_ids, const std::vector<int64_t>& update_ids,
                       const std::vector<int64_t>& races, const std::vector<int64_t>& people, int64_t& bib) {
  ASSIGN_OR_RETURN(PgConn app, PgConn::Connect(c.target));
  if (!o.synchronous_commit) RETURN_IF_ERROR(app.Run("SET synchronous_commit = off"));
  RETURN_IF_ERROR(app.Prepare("ins",
                              "INSERT INTO results (race_id, participant_id, bib, status, finish_seconds, laps, dnf, "
                              "splits, created_at) VALUES ($1, $2, $3, 'finished', $4, 0, $5, '[]', $6)",
                              6));
  RETURN_IF_ERROR(app.Prepare("upd", "UPDATE results SET laps = laps + 1, updated_at = $2 WHERE id = $1", 2));
  RETURN_IF_ERROR(app.Prepare("del", "DELETE FROM results WHERE id = $1", 1));
  ASSIGN_OR_RETURN(PgResult pid, app.Exec("SELECT pg_backend_pid()"));
  const pid_t backend = std::stoi(pid.Str(0, 0));
  RETURN_IF_ERROR(app.Run("BEGIN"));

  // Every transaction's parameters, drawn before the clock.
  const int64_t total = 2 * o.tx;
  std::vector<std::vector<std::string>> params;
  const std::string now = NowTimestamp();
  for (int64_t i = 0; i < total; ++i) {
    if (op == "insert") {
      params.push_back({std::to_string(races[rng.Next() % races.size()]),
                        std::to_string(people[rng.Next() % people.size()]), std::to_string(++bib),
                        std::to_string(3000 + rng.Range(0, 3000)), "0", now});
    } else if (op == "update") {
      params.push_back({std::to_string(update_ids[rng.Next() % update_ids.size()]), now});
    } else {
      if (delete_ids.empty()) return Internal("not enough rows to delete: lower --tx");
      params.push_back({std::to_string(delete_ids.back())});
      delete_ids.pop_back();
    }
  }
  const char* stmt = op == "insert" ? "ins" : op == "update" ? "upd" : "del";
  OpResult res;
  res.op = op;
  const int64_t per_block = std::max<int64_t>(1, o.tx / o.blocks);
  size_t next = 0;
  auto run_block = [&](bool armed, Arm& arm) -> Result<double> {
    RETURN_IF_ERROR(SetArmed(admin, c, armed));
    ASSIGN_OR_RETURN(PgResult before, admin.Exec("SELECT count(*) FROM slipway.changelog"));
    const double cpu0 = ProcessCpuSeconds(backend);
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < per_block && next < params.size(); ++i) RETURN_IF_ERROR(RunTx(app, stmt, params[next++]));
    const double secs = SecondsSince(t0);
    arm.cpu += ProcessCpuSeconds(backend) - cpu0;
    arm.seconds += secs;
    arm.tx += per_block;
    ASSIGN_OR_RETURN(PgResult after, admin.Exec("SELECT count(*) FROM slipway.changelog"));
    if (armed) res.captured += std::stoll(after.Str(0, 0)) - std::stoll(before.Str(0, 0));
    return static_cast<double>(per_block) / secs;
  };
  for (int64_t b = 0; b < o.blocks && !g_stop; ++b) {
    // ABBA: the arm that runs first alternates.
    double with_rate = 0, without_rate = 0;
    for (int k = 0; k < 2; ++k) {
      const bool armed = (b % 2 == 0) == (k == 0);
      ASSIGN_OR_RETURN(double rate, run_block(armed, armed ? res.with : res.without));
      (armed ? with_rate : without_rate) = rate;
    }
    res.pair_ratios.push_back(with_rate / without_rate);
  }
  (void)app.Run("ROLLBACK");
  if (g_stop) return Internal("interrupted");
  if (res.captured != res.with.tx) {
    return Internal(op + ": the armed blocks recorded " + std::to_string(res.captured) + " changes for " +
                    std::to_string(res.with.tx) + " transactions");
  }
  // The cutover left capture armed: so does the bench.
  RETURN_IF_ERROR(SetArmed(admin, c, true));
  return res;
}

Status Run(const Options& o) {
  RETURN_IF_ERROR(EnsureRaceDb(o.bin, o.db, o.rows, o.seed, "reverse_capture_overhead"));
  const ScopedWorkDir scoped(o.out + "/reverse_capture_overhead." + std::to_string(::getpid()));
  const std::string& work = scoped.dir;
  Server server;
  RETURN_IF_ERROR(server.Start(o.root, o.port ? o.port : 57000 + ::getpid() % 1000, "rcbench"));
  ASSIGN_OR_RETURN(CutOver c, PrepareCutOver(o.bin, server, o.db, work, "rc", "reverse_capture_overhead"));
  ASSIGN_OR_RETURN(PgConn admin, PgConn::Connect(c.target));
  ASSIGN_OR_RETURN(std::vector<int64_t> races, Ids(admin, "SELECT id FROM races ORDER BY id"));
  ASSIGN_OR_RETURN(std::vector<int64_t> people, Ids(admin, "SELECT id FROM participants ORDER BY id LIMIT 5000"));
  ASSIGN_OR_RETURN(std::vector<int64_t> all, Ids(admin, "SELECT id FROM results ORDER BY id"));
  ASSIGN_OR_RETURN(PgResult maxbib, admin.Exec("SELECT max(bib) FROM results"));
  int64_t bib = std::stoll(maxbib.Str(0, 0)) + 1;
  Rng rng(o.seed);
  // Deletes take ids from the first half (shuffled), updates the second.
  std::vector<int64_t> delete_ids(all.begin(), all.begin() + static_cast<long>(all.size() / 2));
  std::vector<int64_t> update_ids(all.begin() + static_cast<long>(all.size() / 2), all.end());
  for (size_t i = delete_ids.size(); i > 1; --i) std::swap(delete_ids[i - 1], delete_ids[rng.Next() % i]);

  std::vector<OpResult> results;
  for (const auto& op : o.ops) {
    std::fprintf(stderr, "[reverse_capture_overhead] %s: %lld transactions per arm\n", op.c_str(),
                 static_cast<long long>(o.tx));
    ASSIGN_OR_RETURN(OpResult r, RunOp(o, c, admin, op, rng, delete_ids, update_ids, races, people, bib));
    results.push_back(std::move(r));
  }

  const std::string load = LoadAverage();
  std::printf("reverse capture overhead: single-row transactions on `results` in PostgreSQL after a cutover,\n"
              "%lld per arm per op in %lld ABBA block pairs, synchronous_commit %s; %ld cores; load average at the "
              "end: %s\n",
              static_cast<long long>(o.tx), static_cast<long long>(o.blocks), o.synchronous_commit ? "on" : "off",
              ::sysconf(_SC_NPROCESSORS_ONLN), load.c_str());
  std::printf("%-7s %12s %12s %7s %12s  %-12s %10s %10s %9s\n", "op", "without tx/s", "with tx/s", "ratio",
              "(pair range)", "goal", "cpu us/tx", "with", "cpu ratio");
  nlohmann::json js = nlohmann::json::array();
  for (const auto& r : results) {
    const double without = static_cast<double>(r.without.tx) / r.without.seconds;
    const double with = static_cast<double>(r.with.tx) / r.with.seconds;
    const double ratio = MedianOf(r.pair_ratios);
    const double lo = *std::min_element(r.pair_ratios.begin(), r.pair_ratios.end());
    const double hi = *std::max_element(r.pair_ratios.begin(), r.pair_ratios.end());
    const double cpu_without = 1e6 * r.without.cpu / static_cast<double>(r.without.tx);
    const double cpu_with = 1e6 * r.with.cpu / static_cast<double>(r.with.tx);
    char range[32];
    std::snprintf(range, sizeof range, "%.2f-%.2f", lo, hi);
    std::printf("%-7s %12.0f %12.0f %7.2f %12s  %-6s %.2f %10.0f %10.0f %9.2f\n", r.op.c_str(), without, with, ratio,
                range, ratio >= kGoal ? "meets" : "MISSES", kGoal, cpu_without, cpu_with,
                cpu_with > 0 ? cpu_without / cpu_with : 0);
    js.push_back({{"op", r.op},
                  {"without_tx_per_s", without},
                  {"with_tx_per_s", with},
                  {"ratio_median", ratio},
                  {"pair_ratios", r.pair_ratios},
                  {"backend_cpu_us_per_tx", {{"without", cpu_without}, {"with", cpu_with}}}});
  }
  std::printf("ratio = median over the block pairs of with/without tx/s; cpu = the server backend's user+system time\n");
  nlohmann::json j = {{"bench", "reverse_capture_overhead"}, {"rows", o.rows}, {"tx_per_arm", o.tx},
                      {"blocks", o.blocks}, {"synchronous_commit", o.synchronous_commit}, {"loadavg_at_end", load}, {"ops", js}};
  std::ofstream(o.out + "/reverse_capture_overhead" + (o.synchronous_commit ? "" : "-async") + ".json") << j.dump(2) << "\n";
  return Status::Ok();
}

Status ParseOptions(int argc, char** argv, Options& o) {
  const std::vector<cli::OptionSpec> specs = {{"db", true, ""},   {"rows", true, ""}, {"seed", true, ""},
                                              {"tx", true, ""},   {"blocks", true, ""}, {"ops", true, ""},
                                              {"port", true, ""}, {"root", true, ""}, {"out", true, ""},
                                              {"synchronous-commit", true, ""}};
  ASSIGN_OR_RETURN(cli::Args args, cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc), specs));
  ASSIGN_OR_RETURN(o.rows, ParseInt64("rows", args.GetOr("rows", "200000")));
  ASSIGN_OR_RETURN(o.seed, ParseInt64("seed", args.GetOr("seed", "1")));
  const std::string sync = args.GetOr("synchronous-commit", "on");
  if (sync != "on" && sync != "off") return InvalidArgument("--synchronous-commit: on or off");
  o.synchronous_commit = sync == "on";
  ASSIGN_OR_RETURN(o.tx, ParseInt64("tx", args.GetOr("tx", "3000")));
  ASSIGN_OR_RETURN(o.blocks, ParseInt64("blocks", args.GetOr("blocks", "10")));
  ASSIGN_OR_RETURN(int64_t port, ParseInt64("port", args.GetOr("port", "0")));
  o.port = static_cast<int>(port);
  if (o.tx < 1 || o.blocks < 1 || o.blocks > o.tx) return InvalidArgument("--tx and --blocks must be positive, blocks <= tx");
  if (args.Has("ops")) {
    o.ops.clear();
    std::string text = *args.Get("ops");
    for (size_t p = 0; p <= text.size();) {
      size_t comma = std::min(text.find(',', p), text.size());
      std::string op = text.substr(p, comma - p);
      if (op != "insert" && op != "update" && op != "delete") return InvalidArgument("--ops: insert, update, delete");
      o.ops.push_back(op);
      p = comma + 1;
    }
  }
  o.root = args.GetOr("root", ".");
  o.out = args.GetOr("out", "bench/out");
  o.db = args.GetOr("db", o.out + "/racetiming-r" + std::to_string(o.rows) + "-s" + std::to_string(o.seed) + ".db");
  return ResolveBenchPaths(&o.bin, &o.out, &o.db);
}

}  // namespace
}  // namespace slipway::bench

int main(int argc, char** argv) {
  return slipway::bench::BenchMain<slipway::bench::Options>("reverse_capture_overhead", argc, argv,
                                                           slipway::bench::ParseOptions, slipway::bench::Run);
}
