// reverse_lag_bench: after a cutover, how long a write committed in
// PostgreSQL takes to be visible in the app's SQLite file through a running
// `slipway stream` (which polls PostgreSQL's changelog every ~10 ms).
//
//   reverse_lag_bench [--db FILE] [--rows N] [--rate TPS] [--seconds S] [--writers W]
//                     [--port P] [--root DIR] [--out DIR]
//
// A throwaway PostgreSQL, `slipway snapshot` and `slipway cutover` of a fresh
// copy of the race-timing database, then `slipway stream` (streaming back).
// W writer threads, each its own connection, send paced single-row
// transactions on `results` (together --rate per second; insert/update/
// delete 50/40/10; updates and deletes on rows that existed before). Every
// insert is measured: the writer notes the time it sends COMMIT and the time
// COMMIT returns, with the new id; a probe thread on its own read-only SQLite
// connection asks every 1 ms for the ids above the lowest committed one it
// has not seen yet and notes when each appears. Lag = seen - COMMIT sent
// (upper bound: includes the commit's own flush) and seen - COMMIT returned
// (what a reader that started after the app's COMMIT returned could wait),
// both to within the 1 ms probe interval. Prints p50/p99/max of both and the
// achieved rate, and writes OUT/reverse_lag_bench.json.

#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_process.h"
#include "bench/bench_util.h"
#include "bench/reverse_fixture.h"
#include "cli/args.h"
#include "common/pg.h"
#include "common/sqlite.h"

namespace slipway::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kGoalP99Ms = 50;

struct Options {
  std::string db;
  int64_t rows = 200000;
  int64_t seed = 1;
  int64_t rate = 1000;
  double seconds = 30;
  int writers = 4;
  int port = 0;
  std::string root = ".";
  std::string out = "bench/out";
  fs::path bin;
};

double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

struct Commit {
  Clock::time_point sent, returned;
};

// What the writers and the probe share.
struct Shared {
  std::mutex mu;
  std::map<int64_t, Commit> unseen;    // committed inserts the probe has not matched yet
  std::map<int64_t, Clock::time_point> seen_early;  // seen before their writer noted the commit
  std::vector<double> lag_sent_ms, lag_returned_ms;
  std::atomic<bool> writers_done{false};
  std::atomic<int64_t> committed{0}, failed{0};
  std::string error;
  std::string first_failure;  // the first failed transaction's message
};

Status Exec1(PGconn* c, const char* sql) {
  PGresult* r = PQexec(c, sql);
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  return ok ? Status::Ok() : Internal(std::string(sql) + ": " + PQerrorMessage(c));
}

void NoteFailure(Shared& sh, const std::string& message) {
  ++sh.failed;
  std::lock_guard<std::mutex> l(sh.mu);
  if (sh.first_failure.empty()) sh.first_failure = message;
}

void Writer(const Options& o, const CutOver& c, int w, const std::vector<int64_t>& races,
            const std::vector<int64_t>& people, std::vector<int64_t> delete_ids, const std::vector<int64_t>& update_ids,
            int64_t bib0, Shared& sh) {
  auto conn = PgConn::Connect(c.target);
  if (!conn.ok()) {
    std::lock_guard<std::mutex> l(sh.mu);
    sh.error = conn.status().ToString();
    return;
  }
  PGconn* pg = conn->get();
  Rng rng(static_cast<uint64_t>(o.seed * 100 + w));
  const auto interval = std::chrono::duration<double>(static_cast<double>(o.writers) / static_cast<double>(o.rate));
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  auto next = t0 + std::chrono::duration_cast<Clock::duration>(interval * (static_cast<double>(w) / o.writers));
  int64_t bib = bib0;
  const std::string now = NowTimestamp();
  while (!g_stop && Clock::now() < end) {
    std::this_thread::sleep_until(next);
    next += std::chrono::duration_cast<Clock::duration>(interval);
    // A writer this far behind drops the slots it missed, as an app would.
    if (Clock::now() - next > std::chrono::milliseconds(100)) next = Clock::now();
    const int64_t dice = rng.Range(0, 99);
    std::string sql;
    bool insert = false;
    if (dice < 50 || (dice >= 90 && delete_ids.empty())) {
      insert = true;
      sql = "INSERT INTO results (race_id, participant_id, bib, status, finish_seconds, laps, dnf, splits, created_at) "
            "VALUES (" + std::to_string(races[rng.Next() % races.size()]) + ", " +
            std::to_string(people[rng.Next() % people.size()]) + ", " + std::to_string(bib++) + ", 'finished', " +
            std::to_string(3000 + rng.Range(0, 3000)) + ", 0, '0', '[]', '" + now + "') RETURNING id";
    } else if (dice < 90) {
      sql = "UPDATE results SET laps = laps + 1, updated_at = '" + now + "' WHERE id = " +
            std::to_string(update_ids[rng.Next() % update_ids.size()]);
    } else {
      sql = "DELETE FROM results WHERE id = " + std::to_string(delete_ids.back());
      delete_ids.pop_back();
    }
    if (Status b = Exec1(pg, "BEGIN"); !b.ok()) {
      NoteFailure(sh, b.message());
      continue;
    }
    PGresult* r = PQexec(pg, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK;
    const int64_t id = ok && insert && PQntuples(r) == 1 ? std::stoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (!ok) {
      NoteFailure(sh, PQerrorMessage(pg));
      (void)Exec1(pg, "ROLLBACK");
      continue;
    }
    Commit cm;
    cm.sent = Clock::now();
    if (Status e = Exec1(pg, "COMMIT"); !e.ok()) {
      NoteFailure(sh, e.message());
      continue;
    }
    cm.returned = Clock::now();
    ++sh.committed;
    if (insert) {
      std::lock_guard<std::mutex> l(sh.mu);
      auto it = sh.seen_early.find(id);
      if (it != sh.seen_early.end()) {
        sh.lag_sent_ms.push_back(std::max(0.0, Ms(cm.sent, it->second)));
        sh.lag_returned_ms.push_back(std::max(0.0, Ms(cm.returned, it->second)));
        sh.seen_early.erase(it);
      } else {
        sh.unseen[id] = cm;
      }
    }
  }
}

// Notes when committed inserts appear in SQLite: see the comment at the top.
Status Probe(const std::string& source, int64_t start_id, Shared& sh) {
  ASSIGN_OR_RETURN(Db db, Db::Open(source, Db::Mode::kReadOnly));
  ASSIGN_OR_RETURN(Stmt q, db.Prepare("SELECT id FROM results WHERE id > ?1 ORDER BY id LIMIT 2000"));
  int64_t max_seen = start_id;
  const auto give_up = std::chrono::seconds(20);
  Clock::time_point done_at{};
  while (!g_stop) {
    int64_t base;
    {
      std::lock_guard<std::mutex> l(sh.mu);
      base = sh.unseen.empty() ? max_seen : std::min(max_seen, sh.unseen.begin()->first - 1);
      if (sh.writers_done && sh.unseen.empty()) break;
    }
    if (sh.writers_done) {
      if (done_at == Clock::time_point{}) done_at = Clock::now();
      if (Clock::now() - done_at > give_up) return Internal("inserts never appeared in SQLite");
    }
    q.Bind(1, base);
    std::vector<int64_t> ids;
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ids.push_back(q.Int(0));
    }
    RETURN_IF_ERROR(q.Reset());
    const auto now = Clock::now();
    {
      std::lock_guard<std::mutex> l(sh.mu);
      for (int64_t id : ids) {
        max_seen = std::max(max_seen, id);
        auto it = sh.unseen.find(id);
        if (it != sh.unseen.end()) {
          sh.lag_sent_ms.push_back(Ms(it->second.sent, now));
          sh.lag_returned_ms.push_back(std::max(0.0, Ms(it->second.returned, now)));
          sh.unseen.erase(it);
        } else if (id > start_id) {
          sh.seen_early.emplace(id, now);
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Ok();
}

Status Run(const Options& o) {
  RETURN_IF_ERROR(EnsureRaceDb(o.bin, o.db, o.rows, o.seed, "reverse_lag_bench"));
  const ScopedWorkDir scoped(o.out + "/reverse_lag_bench." + std::to_string(::getpid()));
  const std::string& work = scoped.dir;
  Server server;
  RETURN_IF_ERROR(server.Start(o.root, o.port ? o.port : 58000 + ::getpid() % 1000, "rlbench"));
  ASSIGN_OR_RETURN(CutOver c, PrepareCutOver(o.bin, server, o.db, work, "rl", "reverse_lag_bench"));
  ASSIGN_OR_RETURN(PgConn admin, PgConn::Connect(c.target));
  ASSIGN_OR_RETURN(std::vector<int64_t> races, Ids(admin, "SELECT id FROM races ORDER BY id"));
  ASSIGN_OR_RETURN(std::vector<int64_t> people, Ids(admin, "SELECT id FROM participants ORDER BY id LIMIT 5000"));
  ASSIGN_OR_RETURN(std::vector<int64_t> all, Ids(admin, "SELECT id FROM results ORDER BY id"));
  ASSIGN_OR_RETURN(PgResult maxbib, admin.Exec("SELECT max(bib) FROM results"));
  const int64_t bib0 = std::stoll(maxbib.Str(0, 0)) + 1;
  const int64_t start_id = all.back();

  const std::string slipway = (o.bin / "../slipway").lexically_normal().string();
  pid_t stream = SpawnProcess({slipway, "stream", "--source", c.source, "--target", c.target}, work + "/stream.log");
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGTERM);
      WaitProcess(pid);
    }
  } reap{stream};
  std::this_thread::sleep_for(std::chrono::seconds(1));
  if (::waitpid(stream, nullptr, WNOHANG) == stream) return Internal("slipway stream exited: " + ReadFile(work + "/stream.log"));

  std::fprintf(stderr, "[reverse_lag_bench] %lld tx/s from %d writers for %.0f s\n", static_cast<long long>(o.rate),
               o.writers, o.seconds);
  Shared sh;
  Status probe_status;
  std::thread probe([&] { probe_status = Probe(c.source, start_id, sh); });
  const double cpu0 = ProcessCpuSeconds(stream);
  const auto t0 = Clock::now();
  std::vector<std::thread> writers;
  // Each writer deletes from its own slice of the older rows.
  const size_t slice = all.size() / 2 / static_cast<size_t>(o.writers);
  std::vector<int64_t> update_ids(all.begin() + static_cast<long>(all.size() / 2), all.end());
  for (int w = 0; w < o.writers; ++w) {
    std::vector<int64_t> del(all.begin() + static_cast<long>(slice * static_cast<size_t>(w)),
                             all.begin() + static_cast<long>(slice * static_cast<size_t>(w + 1)));
    writers.emplace_back(Writer, std::cref(o), std::cref(c), w, std::cref(races), std::cref(people), std::move(del),
                         std::cref(update_ids), bib0 + 1000000LL * w, std::ref(sh));
  }
  for (auto& t : writers) t.join();
  const double wall = SecondsSince(t0);
  const double stream_cpu = (ProcessCpuSeconds(stream) - cpu0) / wall;
  sh.writers_done = true;
  probe.join();
  if (!sh.error.empty()) return Internal("writer: " + sh.error);
  RETURN_IF_ERROR(probe_status);
  if (::waitpid(stream, nullptr, WNOHANG) == stream) return Internal("slipway stream exited: " + ReadFile(work + "/stream.log"));

  const double achieved = static_cast<double>(sh.committed) / wall;
  const std::string load = LoadAverage();
  const double p50 = PercentileOf(sh.lag_sent_ms, 0.5), p99 = PercentileOf(sh.lag_sent_ms, 0.99),
               mx = PercentileOf(sh.lag_sent_ms, 1.0);
  const double r50 = PercentileOf(sh.lag_returned_ms, 0.5), r99 = PercentileOf(sh.lag_returned_ms, 0.99),
               rmx = PercentileOf(sh.lag_returned_ms, 1.0);
  std::printf("reverse lag: PostgreSQL COMMIT -> row visible in SQLite through `slipway stream`, %d writers,\n"
              "%lld tx/s asked, %.0f achieved (%lld committed, %lld failed) over %.0f s; %zu inserts measured;\n"
              "%ld cores; load average at the end: %s; stream CPU %.0f%% of a core\n",
              o.writers, static_cast<long long>(o.rate), achieved, static_cast<long long>(sh.committed.load()),
              static_cast<long long>(sh.failed.load()), wall, sh.lag_sent_ms.size(), ::sysconf(_SC_NPROCESSORS_ONLN),
              load.c_str(), 100 * stream_cpu);
  if (!sh.first_failure.empty()) std::printf("first failed transaction: %s\n", sh.first_failure.c_str());
  std::printf("%-24s %8s %8s %8s  %s\n", "lag from", "p50 ms", "p99 ms", "max ms", "goal p99 <= 50 ms");
  std::printf("%-24s %8.1f %8.1f %8.1f  %s\n", "COMMIT sent", p50, p99, mx, p99 <= kGoalP99Ms ? "meets" : "MISSES");
  std::printf("%-24s %8.1f %8.1f %8.1f\n", "COMMIT returned", r50, r99, rmx);
  nlohmann::json j = {{"bench", "reverse_lag_bench"},
                      {"rows", o.rows},
                      {"rate", o.rate},
                      {"achieved_rate", achieved},
                      {"writers", o.writers},
                      {"seconds", wall},
                      {"inserts_measured", sh.lag_sent_ms.size()},
                      {"loadavg_at_end", load},
                      {"stream_cpu_share", stream_cpu},
                      {"lag_from_commit_sent_ms", {{"p50", p50}, {"p99", p99}, {"max", mx}}},
                      {"lag_from_commit_returned_ms", {{"p50", r50}, {"p99", r99}, {"max", rmx}}}};
  std::ofstream(o.out + "/reverse_lag_bench.json") << j.dump(2) << "\n";
  return Status::Ok();
}

Status ParseOptions(int argc, char** argv, Options& o) {
  const std::vector<cli::OptionSpec> specs = {{"db", true, ""},      {"rows", true, ""}, {"seed", true, ""},
                                              {"rate", true, ""},    {"seconds", true, ""}, {"writers", true, ""},
                                              {"port", true, ""},    {"root", true, ""}, {"out", true, ""}};
  ASSIGN_OR_RETURN(cli::Args args, cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc), specs));
  ASSIGN_OR_RETURN(o.rows, ParseInt64("rows", args.GetOr("rows", "200000")));
  ASSIGN_OR_RETURN(o.seed, ParseInt64("seed", args.GetOr("seed", "1")));
  ASSIGN_OR_RETURN(o.rate, ParseInt64("rate", args.GetOr("rate", "1000")));
  ASSIGN_OR_RETURN(o.seconds, ParseDouble("seconds", args.GetOr("seconds", "30")));
  ASSIGN_OR_RETURN(int64_t writers, ParseInt64("writers", args.GetOr("writers", "4")));
  ASSIGN_OR_RETURN(int64_t port, ParseInt64("port", args.GetOr("port", "0")));
  o.writers = static_cast<int>(writers);
  o.port = static_cast<int>(port);
  if (o.rate < 1 || !(o.seconds > 0) || o.writers < 1 || o.writers > 32) {
    return InvalidArgument("--rate and --seconds must be positive, --writers 1-32");
  }
  o.root = args.GetOr("root", ".");
  o.out = args.GetOr("out", "bench/out");
  o.db = args.GetOr("db", o.out + "/racetiming-r" + std::to_string(o.rows) + "-s" + std::to_string(o.seed) + ".db");
  return ResolveBenchPaths(&o.bin, &o.out, &o.db);
}

}  // namespace
}  // namespace slipway::bench

int main(int argc, char** argv) {
  return slipway::bench::BenchMain<slipway::bench::Options>("reverse_lag_bench", argc, argv,
                                                           slipway::bench::ParseOptions, slipway::bench::Run);
}
