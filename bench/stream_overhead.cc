// stream_overhead: what the app's writes see while slipway streams. Runs
// 1-row write transactions on the race-timing `results` table at full speed
// (the statements and settings of capture_overhead, plus a 5 s busy timeout
// as apps set) in four arms, each on its own fresh copy of a generated
// database:
//   off              no slipway at all (the reference of every ratio)
//   capture          capture triggers installed by `slipway snapshot`, no stream
//   stream           capture and a `slipway stream` (default options) running
//   stream_app_ckpt  the same with --wal-checkpoint-pages 0 (the app's commits
//                    run every checkpoint, as before the stream ran them)
//   session          session capture (`slipway snapshot --capture session`):
//                    the app's connection loads slipway's SQLite extension and
//                    runs SELECT slipway_capture() before each COMMIT; no stream
//   stream_session   the same with a `slipway stream` running
// The session arms' goal: at least 0.90 of `off` for 100-row transactions,
// and at least the matching trigger arm's ratio (capture, stream) in the same
// run for 1-row ones.
//
//   stream_overhead [--db FILE] [--rows N] [--seed S] [--runs R] [--tx N] [--rows-per-tx K]
//                   [--blocks B] [--ops insert,update,delete] [--arms off,...]
//                   [--port P] [--root DIR] [--out DIR]
//
// One throwaway PostgreSQL (deploy/pg-throwaway.sh) and one snapshot, taken
// into a template database; each stream arm gets a copy of the snapshotted
// file and a database made from the template (CREATE DATABASE ... TEMPLATE).
// Per run and op every arm runs the same transactions in B blocks,
// round-robin over the arms (starting with a different one each block), so
// load from elsewhere on the machine hits every arm alike. After each block
// of a stream arm, untimed, the bench waits until that stream has applied
// everything, so no stream works through its backlog during another arm's
// block. The app's connection counts what its commits do: the WAL
// checkpoints they run (the autocheckpoint at 1000 frames, done by a WAL
// hook that does exactly what SQLite's default one does, timed), the WAL
// restarts (the frame count at commit going down) and the waits in the busy
// handler (SQLite's default busy handler, counted: the stream's prune holds
// the write lock). Prints a table and writes OUT/stream_overhead.json.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/app_workload.h"
#include "bench/bench_process.h"
#include "bench/bench_util.h"
#include "cli/args.h"
#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/changeset_keys.h"

namespace slipway::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kAutocheckpointFrames = 1000;  // SQLite's default wal_autocheckpoint
constexpr int kBusyTimeoutMs = 5000;


struct Options {
  std::string db;
  int64_t rows = 200000;
  int64_t seed = 1;
  int runs = 3;
  int64_t tx = 16000;  // transactions per arm, run and op
  int64_t rows_per_tx = 1;
  int64_t blocks = 20;
  std::vector<Op> ops = {Op::kInsert, Op::kUpdate, Op::kDelete};
  std::vector<std::string> arms;
  bool foreign_keys = true;
  int port = 0;
  std::string root = ".";
  std::string out = "bench/out";
  fs::path bin;
};

struct Arm {
  std::string name;
  std::string what;
  bool capture = false;
  bool stream = false;
  std::vector<std::string> stream_args;
  bool session = false;
};

std::vector<Arm> AllArms() {
  return {{"off", "no slipway: no triggers, no stream (the reference of every ratio)", false, false, {}},
          {"capture", "capture triggers installed by `slipway snapshot`, no stream running", true, false, {}},
          {"stream", "capture + `slipway stream` with default options running", true, true, {}},
          {"stream_app_ckpt", "capture + `slipway stream --wal-checkpoint-pages 0` (the app's commits checkpoint)",
           true, true, {"--wal-checkpoint-pages", "0"}},
          {"session", "session capture: slipway's SQLite extension in the app, slipway_capture() before COMMIT; no stream",
           true, false, {}, true},
          {"stream_session", "session capture + `slipway stream` with default options running", true, true, {}, true}};
}

// What the app's connection saw, filled in by its WAL hook and busy handler.
struct AppCounters {
  int64_t checkpoints = 0;       // autocheckpoints that ran (SQLITE_OK)
  int64_t checkpoint_busy = 0;   // autocheckpoints skipped: another checkpoint ran
  double checkpoint_seconds = 0;
  int64_t restarts = 0;          // commits whose frame count was below the previous one's
  int64_t max_frames = 0;
  int last_frames = 0;
  int64_t busy_waits = 0;
  int64_t busy_ms = 0;
};

// SQLite's default WAL hook (sqlite3WalDefaultHook at 1000 frames), counted
// and timed.
int WalHook(void* arg, sqlite3* db, const char* name, int frames) {
  auto* c = static_cast<AppCounters*>(arg);
  if (frames < c->last_frames) ++c->restarts;
  c->last_frames = frames;
  c->max_frames = std::max<int64_t>(c->max_frames, frames);
  if (frames >= kAutocheckpointFrames) {
    const auto t0 = Clock::now();
    const int rc = sqlite3_wal_checkpoint(db, name);
    c->checkpoint_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    if (rc == SQLITE_OK) ++c->checkpoints;
    else ++c->checkpoint_busy;
  }
  return SQLITE_OK;
}

// SQLite's default busy handler (sqliteDefaultBusyCallback) for a
// kBusyTimeoutMs timeout, counted.
int BusyHandler(void* arg, int count) {
  static constexpr int kDelays[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
  static constexpr int kTotals[] = {0, 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228};
  constexpr int kN = static_cast<int>(sizeof kDelays / sizeof kDelays[0]);
  auto* c = static_cast<AppCounters*>(arg);
  int delay = 0, prior = 0;
  if (count < kN) {
    delay = kDelays[count];
    prior = kTotals[count];
  } else {
    delay = kDelays[kN - 1];
    prior = kTotals[kN - 1] + delay * (count - (kN - 1));
  }
  if (prior + delay > kBusyTimeoutMs) {
    delay = kBusyTimeoutMs - prior;
    if (delay <= 0) return 0;
  }
  ++c->busy_waits;
  c->busy_ms += delay;
  sqlite3_sleep(delay);
  return 1;
}

// One arm's copy of the database in one cell: the app's connection, and the
// stream writing to its own database when the arm has one.
struct Subject {
  const Arm* arm = nullptr;
  std::string path, dbname, stream_log;
  Db db;
  AppStatements st;
  AppCounters counters;
  pid_t stream = 0;
  std::optional<PgConn> pg;
  double seconds = 0, cpu_seconds = 0, stream_cpu_seconds = 0, catchup_seconds = 0;
  int64_t stream_checkpoints = -1, stream_frames = -1;  // from the stream's last line
};

// What one arm measured in one cell.
struct Measure {
  double rate = 0;
  double cpu_us_tx = 0;
  double app_ckpt_per_ktx = 0;
  double app_ckpt_us_tx = 0;
  double restarts_per_ktx = 0;
  double busy_per_ktx = 0;
  double busy_us_tx = 0;
  double max_frames = 0;
  double stream_cpu = 0;  // share of one core during the timed blocks
  double stream_ckpt_per_ktx = 0;
  double catchup_ms = 0;  // per block
};

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

Result<int64_t> AppliedSeq(PgConn& pg) {
  ASSIGN_OR_RETURN(PgResult r, pg.Exec("SELECT applied_seq FROM slipway.migration"));
  return std::stoll(r.Str(0, 0));
}

// Untimed: until the stream has applied every change the app committed.
Status WaitCaughtUp(Subject& s) {
  ASSIGN_OR_RETURN(auto newest, s.db.QueryInt("SELECT max(seq) FROM _slipway_changelog"));
  const auto t0 = Clock::now();
  while (!g_stop) {
    ASSIGN_OR_RETURN(int64_t applied, AppliedSeq(*s.pg));
    if (applied >= newest.value_or(0)) break;
    if (Seconds(t0) > 120) return Internal(s.arm->name + ": the stream did not catch up in 120 s");
    if (::waitpid(s.stream, nullptr, WNOHANG) == s.stream) {
      s.stream = 0;
      return Internal(s.arm->name + ": slipway stream exited: " + ReadFile(s.stream_log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  s.catchup_seconds += Seconds(t0);
  return Status::Ok();
}

Status StartStream(Server& server, const std::string& slipway, Subject& s) {
  s.stream_log = s.path + ".stream.log";
  std::vector<std::string> argv = {slipway, "stream", "--source", s.path, "--target", server.Uri(s.dbname)};
  argv.insert(argv.end(), s.arm->stream_args.begin(), s.arm->stream_args.end());
  s.stream = SpawnProcess(argv, s.stream_log);
  ASSIGN_OR_RETURN(PgConn pg, PgConn::Connect(server.Uri(s.dbname)));
  s.pg = std::move(pg);
  const auto t0 = Clock::now();
  while (true) {
    if (::waitpid(s.stream, nullptr, WNOHANG) == s.stream) {
      s.stream = 0;
      return Internal("slipway stream exited: " + ReadFile(s.stream_log));
    }
    ASSIGN_OR_RETURN(PgResult r, s.pg->Exec("SELECT phase, stream_pid FROM slipway.migration"));
    if (r.Str(0, 0) == "streaming" && !r.IsNull(0, 1) && r.Str(0, 1) == std::to_string(s.stream)) break;
    if (Seconds(t0) > 30 || g_stop) return Internal("slipway stream did not start: " + ReadFile(s.stream_log));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Its start-up work (foreign keys were validated by the snapshot) is done.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return Status::Ok();
}

// SIGTERM (the stream finishes its round and exits 0), then its summary line.
Status StopStream(Subject& s) {
  if (s.stream == 0) return Status::Ok();
  ::kill(s.stream, SIGTERM);
  const int rc = WaitProcess(s.stream);
  s.stream = 0;
  const std::string raw = ReadFile(s.stream_log);
  if (rc != 0) return Internal(s.arm->name + ": slipway stream exited " + std::to_string(rc) + ": " + raw);
  const std::string log = WithoutDigitGroups(raw);
  const size_t p = log.rfind("stream stopped:");
  long long ckpts = -1, frames = -1;
  if (p != std::string::npos) {
    const size_t q = log.find(" WAL checkpoints", p);
    const size_t start = q == std::string::npos ? q : log.rfind(", ", q);
    if (start != std::string::npos) std::sscanf(log.c_str() + start, ", %lld WAL checkpoints (%lld frames)", &ckpts, &frames);
  }
  s.stream_checkpoints = ckpts;
  s.stream_frames = frames;
  return Status::Ok();
}

Status KillStream(Subject& s) {
  if (s.stream != 0) {
    ::kill(s.stream, SIGKILL);
    WaitProcess(s.stream);
    s.stream = 0;
  }
  return Status::Ok();
}

// The session arms' copy of the captured file and template database.
std::string SessionCopy(const std::string& captured) { return captured + ".session"; }

Status OpenSubject(const Options& o, Server& server, PgConn& admin, const std::string& captured,
                   const std::string& slipway, Subject& s) {
  const std::string from = !s.arm->capture ? o.db : s.arm->session ? SessionCopy(captured) : captured;
  RETURN_IF_ERROR(FreshCopy(from, s.path));
  if (s.arm->stream) {
    RETURN_IF_ERROR(admin.Run("DROP DATABASE IF EXISTS " + s.dbname));
    RETURN_IF_ERROR(admin.Run("CREATE DATABASE " + s.dbname + " TEMPLATE " + (s.arm->session ? "tmpl_session" : "tmpl")));
  }
  ASSIGN_OR_RETURN(s.db, Db::Open(s.path, Db::Mode::kReadWrite, kBusyTimeoutMs));
  RETURN_IF_ERROR(AppPragmas(s.db, o.foreign_keys));
  RETURN_IF_ERROR(s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  sqlite3_wal_hook(s.db.get(), WalHook, &s.counters);
  sqlite3_busy_handler(s.db.get(), BusyHandler, &s.counters);
  ASSIGN_OR_RETURN(s.st, AppStatements::Prepare(s.db));
  if (s.arm->session) RETURN_IF_ERROR(s.st.UseSession(s.db, CaptureExtensionPath(o.bin)));
  if (s.arm->stream) RETURN_IF_ERROR(StartStream(server, slipway, s));
  return Status::Ok();
}

// Every change arrived: the target's `results` has SQLite's row count.
Status CheckApplied(Subject& s) {
  ASSIGN_OR_RETURN(auto n, s.db.QueryInt("SELECT count(*) FROM results"));
  ASSIGN_OR_RETURN(PgResult r, s.pg->Exec("SELECT count(*) FROM results"));
  if (std::stoll(r.Str(0, 0)) != n.value_or(-1)) {
    return Internal(s.arm->name + ": the target has " + r.Str(0, 0) + " results rows, SQLite " +
                    std::to_string(n.value_or(-1)));
  }
  return Status::Ok();
}

Result<std::vector<Measure>> RunCell(const Options& o, const std::vector<const Arm*>& arms, Server& server,
                                    PgConn& admin, const std::string& captured, const std::string& slipway,
                                    const std::string& work, const Workload& w, Op op, uint64_t seed) {
  ASSIGN_OR_RETURN(Params p, DrawParams(w, op, static_cast<size_t>(o.tx * o.rows_per_tx), seed));
  std::vector<std::unique_ptr<Subject>> subjects;
  struct Reap {
    std::vector<std::unique_ptr<Subject>>& v;
    ~Reap() {
      for (auto& s : v) {
        (void)KillStream(*s);
        s->db = Db();
        RemoveDbFiles(s->path);
        std::error_code ec;
        fs::remove(s->path + ".stream.log", ec);
      }
    }
  } reap{subjects};
  for (size_t i = 0; i < arms.size(); ++i) {
    auto s = std::make_unique<Subject>();
    s->arm = arms[i];
    s->path = work + "/cell." + std::to_string(i) + ".db";
    s->dbname = "arm" + std::to_string(i);
    subjects.push_back(std::move(s));
    RETURN_IF_ERROR(OpenSubject(o, server, admin, captured, slipway, *subjects.back()));
  }
  const std::string now = NowTimestamp();
  const int64_t per_block = std::max<int64_t>(1, o.tx / o.blocks);
  int64_t block = 0;
  for (int64_t first = 0; first < o.tx; first += per_block, ++block) {
    const int64_t last = std::min(o.tx, first + per_block);
    for (size_t k = 0; k < subjects.size(); ++k) {
      if (g_stop) return Internal("interrupted");
      Subject& s = *subjects[(k + static_cast<size_t>(block)) % subjects.size()];
      const double sc0 = s.stream ? ProcessCpuSeconds(s.stream) : 0;
      const auto t0 = Clock::now();
      const double c0 = CpuNow();
      RETURN_IF_ERROR(RunTransactions(s.db, s.st, op, o.rows_per_tx, p, first, last, now));
      s.seconds += Seconds(t0);
      s.cpu_seconds += CpuNow() - c0;
      if (s.stream) {
        s.stream_cpu_seconds += ProcessCpuSeconds(s.stream) - sc0;
        RETURN_IF_ERROR(WaitCaughtUp(s));
      }
    }
  }
  std::vector<Measure> out;
  const double n = static_cast<double>(o.tx);
  for (auto& sp : subjects) {
    Subject& s = *sp;
    if (s.arm->stream) {
      RETURN_IF_ERROR(StopStream(s));
      RETURN_IF_ERROR(CheckApplied(s));
    } else if (s.arm->session) {
      // One changeset per transaction, holding every row (a key changed
      // twice in one transaction is one change: the changeset is the net
      // change per key).
      ASSIGN_OR_RETURN(auto sets, s.db.QueryInt("SELECT count(*) FROM _slipway_changelog WHERE tid = 0"));
      ASSIGN_OR_RETURN(auto rows, s.db.QueryInt("SELECT count(*) FROM _slipway_changelog WHERE tid <> 0"));
      ASSIGN_OR_RETURN(replicator::DecodedKeys keys, replicator::LoadChangesetKeys(s.db, 0, std::numeric_limits<int64_t>::max()));
      int64_t changes = rows.value_or(0);
      for (const auto& [tid, k] : keys.changes) changes += k;
      int64_t expected = 0;
      for (int64_t tx = 0; tx < o.tx; ++tx) {
        std::set<int64_t> keys;
        for (int64_t r = 0; r < o.rows_per_tx; ++r) keys.insert(p.keys[static_cast<size_t>(tx * o.rows_per_tx + r)]);
        expected += op == Op::kInsert ? o.rows_per_tx : static_cast<int64_t>(keys.size());
      }
      if (sets.value_or(0) < o.tx || changes < expected) {
        return Internal("session capture recorded " + std::to_string(sets.value_or(0)) + " changesets and " +
                        std::to_string(changes) + " changes of " + std::to_string(expected));
      }
    } else if (s.arm->capture) {
      // Capture that records nothing would look free: check it recorded.
      ASSIGN_OR_RETURN(auto logged, s.db.QueryInt("SELECT count(*) FROM _slipway_changelog"));
      if (logged.value_or(0) < o.tx * o.rows_per_tx) return Internal("capture recorded " + std::to_string(logged.value_or(0)) + " changes");
    }
    const AppCounters& c = s.counters;
    Measure m;
    m.rate = n / s.seconds;
    m.cpu_us_tx = 1e6 * s.cpu_seconds / n;
    m.app_ckpt_per_ktx = 1000.0 * static_cast<double>(c.checkpoints) / n;
    m.app_ckpt_us_tx = 1e6 * c.checkpoint_seconds / n;
    m.restarts_per_ktx = 1000.0 * static_cast<double>(c.restarts) / n;
    m.busy_per_ktx = 1000.0 * static_cast<double>(c.busy_waits) / n;
    m.busy_us_tx = 1000.0 * static_cast<double>(c.busy_ms) / n;
    m.max_frames = static_cast<double>(c.max_frames);
    m.stream_cpu = s.arm->stream ? s.stream_cpu_seconds / s.seconds : 0;
    m.stream_ckpt_per_ktx = s.stream_checkpoints >= 0 ? 1000.0 * static_cast<double>(s.stream_checkpoints) / n : 0;
    m.catchup_ms = 1000.0 * s.catchup_seconds / static_cast<double>(block);
    out.push_back(m);
  }
  if (!admin.Run("SELECT 1").ok()) return Internal("lost the admin connection");
  for (auto& s : subjects) {
    s->pg.reset();
    if (s->arm->stream) RETURN_IF_ERROR(admin.Run("DROP DATABASE IF EXISTS " + s->dbname));
  }
  return out;
}

struct Series {
  const Arm* arm;
  Op op;
  std::vector<Measure> runs;
  std::vector<double> ratio;
};

template <typename F>
double Med(const std::vector<Measure>& v, F f) {
  std::vector<double> x;
  for (const Measure& m : v) x.push_back(f(m));
  return MedianOf(x);
}

Status Run(const Options& o) {
  RETURN_IF_ERROR(EnsureRaceTiming(o.db, o.rows, o.seed, "stream_overhead"));
  const std::string slipway = (o.bin / "../slipway").lexically_normal().string();
  std::vector<Arm> all = AllArms();
  std::vector<const Arm*> arms;
  for (const Arm& a : all) {
    if (a.name == "off" || o.arms.empty() || std::find(o.arms.begin(), o.arms.end(), a.name) != o.arms.end()) {
      arms.push_back(&a);
    }
  }
  const std::string work = o.out + "/stream_overhead." + std::to_string(::getpid());
  fs::create_directories(work);
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{work};
  Server server;
  RETURN_IF_ERROR(server.Start(o.root, o.port ? o.port : 57000 + ::getpid() % 1000, "sobench"));
  ASSIGN_OR_RETURN(PgConn admin, PgConn::Connect(server.Uri("postgres")));
  RETURN_IF_ERROR(admin.Run("CREATE DATABASE tmpl"));
  // One snapshot, into the template database; its foreign keys validated
  // now so that no stream validates them while it is measured.
  const std::string captured = work + "/captured.db";
  RETURN_IF_ERROR(FreshCopy(o.db, captured));
  std::fprintf(stderr, "[stream_overhead] slipway snapshot\n");
  if (RunProcess({slipway, "snapshot", "--source", captured, "--target", server.Uri("tmpl"), "--validate-fks"},
                 work + "/snapshot.log") != 0) {
    return Internal("slipway snapshot failed: " + ReadFile(work + "/snapshot.log"));
  }
  {
    ASSIGN_OR_RETURN(Db db, Db::Open(captured, Db::Mode::kReadWrite));
    RETURN_IF_ERROR(db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }
  RETURN_IF_ERROR(SyncFile(captured));
  bool session = false;
  for (const Arm* a : arms) session = session || a->session;
  if (session) {
    // The same snapshot switched to session capture, in a template of its own.
    RETURN_IF_ERROR(admin.Run("CREATE DATABASE tmpl_session TEMPLATE tmpl"));
    RETURN_IF_ERROR(FreshCopy(captured, SessionCopy(captured)));
    if (RunProcess({slipway, "snapshot", "--source", SessionCopy(captured), "--target", server.Uri("tmpl_session"),
                    "--capture", "session"},
                   work + "/snapshot-session.log") != 0) {
      return Internal("slipway snapshot --capture session failed: " + ReadFile(work + "/snapshot-session.log"));
    }
    ASSIGN_OR_RETURN(Db db, Db::Open(SessionCopy(captured), Db::Mode::kReadWrite));
    RETURN_IF_ERROR(db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    db = Db();
    RETURN_IF_ERROR(SyncFile(SessionCopy(captured)));
  }
  ASSIGN_OR_RETURN(Workload w, LoadWorkload(o.db));

  std::vector<Series> series;
  for (Op op : o.ops) {
    for (const Arm* a : arms) series.push_back({a, op, {}, {}});
  }
  for (int r = 0; r < o.runs; ++r) {
    for (size_t oi = 0; oi < o.ops.size(); ++oi) {
      const Op op = o.ops[oi];
      const uint64_t seed = static_cast<uint64_t>(o.seed) * 1000003 + oi * 101 + static_cast<uint64_t>(r);
      ASSIGN_OR_RETURN(std::vector<Measure> m, RunCell(o, arms, server, admin, captured, slipway, work, w, op, seed));
      std::string line;
      for (size_t ai = 0; ai < arms.size(); ++ai) {
        Series& s = series[oi * arms.size() + ai];
        s.runs.push_back(m[ai]);
        s.ratio.push_back(m[ai].rate / m[0].rate);
        char buf[96];
        std::snprintf(buf, sizeof buf, "%s %.0f tx/s (%.2f)  ", arms[ai]->name.c_str(), m[ai].rate, m[ai].rate / m[0].rate);
        line += buf;
      }
      std::fprintf(stderr, "[run %d/%d] %s: %s\n", r + 1, o.runs, OpName(op), line.c_str());
    }
  }

  const std::string loadavg = LoadAverage();
  std::printf("what the app's %lld-row write transactions on `results` see while slipway streams (%s, %lld rows generated),\n",
              static_cast<long long>(o.rows_per_tx), o.db.c_str(), static_cast<long long>(o.rows));
  std::printf("WAL + synchronous=NORMAL, foreign_keys=%s, busy timeout %d ms; SQLite %s, %ld cores; %d runs x %lld tx per arm "
              "and op in %lld blocks (medians)\n",
              o.foreign_keys ? "on" : "off", kBusyTimeoutMs, sqlite3_libversion(), ::sysconf(_SC_NPROCESSORS_ONLN), o.runs,
              static_cast<long long>(o.tx), static_cast<long long>(o.blocks));
  std::printf("load average at the end: %s\n", loadavg.c_str());
  std::printf("%-16s %-6s %8s %6s  %-9s  %-12s %9s %9s %9s %9s %8s %9s %9s %8s %9s %9s\n", "arm", "op", "tx/s", "ratio",
              "(min-max)", "goal", "cpu us/tx", "ckpt/ktx", "ckpt us/tx", "rst/ktx", "maxframe", "busy/ktx", "busy us/tx",
              "stream%", "s.ckpt/ktx", "catchup ms");
  nlohmann::json js = nlohmann::json::array();
  // A session arm's goal: 0.90 for 100-row transactions; for smaller ones the
  // ratio of the trigger arm it stands beside, in the same run.
  auto goal_of = [&](const Series& s) {
    if (!s.arm->session) return GoalFor(s.op);
    if (o.rows_per_tx >= 100) return 0.90;
    const std::string beside = s.arm->stream ? "stream" : "capture";
    for (const Series& t : series) {
      if (t.op == s.op && t.arm->name == beside) return MedianOf(t.ratio);
    }
    return GoalFor(s.op);
  };
  for (const Series& s : series) {
    const double ratio = MedianOf(s.ratio);
    const auto [lo, hi] = std::minmax_element(s.ratio.begin(), s.ratio.end());
    const bool reference = s.arm->name == "off";
    char goal[32] = "";
    const double g = goal_of(s);
    if (!reference) std::snprintf(goal, sizeof goal, "%-6s %.2f", ratio >= g ? "meets" : "MISSES", g);
    auto med = [&](auto f) { return Med(s.runs, f); };
    std::printf("%-16s %-6s %8.0f %6.2f  %.2f-%.2f  %-12s %9.1f %9.2f %9.1f %9.2f %8.0f %9.2f %9.1f %7.0f%% %9.2f %9.1f\n",
                s.arm->name.c_str(), OpName(s.op), med([](const Measure& m) { return m.rate; }), ratio, *lo, *hi, goal,
                med([](const Measure& m) { return m.cpu_us_tx; }), med([](const Measure& m) { return m.app_ckpt_per_ktx; }),
                med([](const Measure& m) { return m.app_ckpt_us_tx; }), med([](const Measure& m) { return m.restarts_per_ktx; }),
                med([](const Measure& m) { return m.max_frames; }), med([](const Measure& m) { return m.busy_per_ktx; }),
                med([](const Measure& m) { return m.busy_us_tx; }), 100 * med([](const Measure& m) { return m.stream_cpu; }),
                med([](const Measure& m) { return m.stream_ckpt_per_ktx; }), med([](const Measure& m) { return m.catchup_ms; }));
    nlohmann::json runs = nlohmann::json::array();
    for (const Measure& m : s.runs) {
      runs.push_back({{"rate_tx_s", m.rate},
                      {"cpu_us_per_tx", m.cpu_us_tx},
                      {"app_checkpoints_per_ktx", m.app_ckpt_per_ktx},
                      {"app_checkpoint_us_per_tx", m.app_ckpt_us_tx},
                      {"wal_restarts_per_ktx", m.restarts_per_ktx},
                      {"max_wal_frames", m.max_frames},
                      {"busy_waits_per_ktx", m.busy_per_ktx},
                      {"busy_us_per_tx", m.busy_us_tx},
                      {"stream_cpu_share", m.stream_cpu},
                      {"stream_checkpoints_per_ktx", m.stream_ckpt_per_ktx},
                      {"catchup_ms_per_block", m.catchup_ms}});
    }
    js.push_back({{"arm", s.arm->name},
                  {"op", OpName(s.op)},
                  {"rate_tx_s", med([](const Measure& m) { return m.rate; })},
                  {"ratio", ratio},
                  {"goal", g},
                  {"meets_goal", reference || ratio >= g},
                  {"ratios", s.ratio},
                  {"runs", runs}});
  }
  // What taking the checkpoints off the app is worth: stream against
  // stream_app_ckpt, per run.
  for (Op op : o.ops) {
    const Series* with = nullptr;
    const Series* without = nullptr;
    for (const Series& s : series) {
      if (s.op != op) continue;
      if (s.arm->name == "stream") with = &s;
      if (s.arm->name == "stream_app_ckpt") without = &s;
    }
    if (with == nullptr || without == nullptr) continue;
    std::vector<double> gain;
    for (size_t r = 0; r < with->runs.size(); ++r) gain.push_back(with->runs[r].rate / without->runs[r].rate);
    const auto [lo, hi] = std::minmax_element(gain.begin(), gain.end());
    std::printf("%s: stream / stream_app_ckpt = %.2f (%.2f-%.2f per run)\n", OpName(op), MedianOf(gain), *lo, *hi);
  }
  std::printf("\nratio: median of the per-run arm/off rate ratios; cpu us/tx: the app's CPU (user + system) per transaction;\n"
              "ckpt/ktx, ckpt us/tx: WAL checkpoints the app's commits ran (autocheckpoint at 1000 frames) per 1000 tx, and the\n"
              "app's time in them per tx; rst/ktx: WAL restarts per 1000 tx; maxframe: largest WAL frame count at an app commit;\n"
              "busy/ktx, busy us/tx: the app's waits for the write lock (the stream's prune) per 1000 tx and time per tx;\n"
              "stream%%: slipway stream's CPU during the arm's blocks in share of one core; s.ckpt/ktx: checkpoints the stream\n"
              "ran per 1000 tx; catchup ms: untimed wait per block until the stream had applied everything\n");
  std::printf("\narms:\n");
  nlohmann::json jarms = nlohmann::json::array();
  for (const Arm* a : arms) {
    std::printf("  %-16s %s\n", a->name.c_str(), a->what.c_str());
    jarms.push_back({{"name", a->name}, {"what", a->what}});
  }
  nlohmann::json j = {{"bench", "stream_overhead"}, {"db", o.db},        {"rows", o.rows},
                      {"runs", o.runs},             {"tx", o.tx},        {"rows_per_tx", o.rows_per_tx}, {"blocks", o.blocks},
                      {"foreign_keys", o.foreign_keys}, {"sqlite", sqlite3_libversion()},
                      {"loadavg_at_end", loadavg},  {"arms", jarms},     {"series", js}};
  std::ofstream(o.out + "/stream_overhead.json") << j.dump(2) << "\n";
  std::fprintf(stderr, "[stream_overhead] wrote %s/stream_overhead.json\n", o.out.c_str());
  return Status::Ok();
}

Status ParseOptions(int argc, char** argv, Options& o) {
  const std::vector<cli::OptionSpec> specs = {{"db", true, ""},     {"rows", true, ""},  {"seed", true, ""},
                                              {"runs", true, ""},   {"tx", true, ""},    {"blocks", true, ""},
                                              {"ops", true, ""},    {"arms", true, ""},  {"foreign-keys", true, ""},
                                              {"port", true, ""},   {"root", true, ""},  {"out", true, ""},
                                              {"rows-per-tx", true, ""}};
  ASSIGN_OR_RETURN(cli::Args args, cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc), specs));
  ASSIGN_OR_RETURN(o.rows, ParseInt64("rows", args.GetOr("rows", "200000")));
  ASSIGN_OR_RETURN(o.seed, ParseInt64("seed", args.GetOr("seed", "1")));
  ASSIGN_OR_RETURN(int64_t runs, ParseInt64("runs", args.GetOr("runs", "3")));
  ASSIGN_OR_RETURN(o.tx, ParseInt64("tx", args.GetOr("tx", "16000")));
  ASSIGN_OR_RETURN(o.blocks, ParseInt64("blocks", args.GetOr("blocks", "20")));
  ASSIGN_OR_RETURN(o.rows_per_tx, ParseInt64("rows-per-tx", args.GetOr("rows-per-tx", "1")));
  ASSIGN_OR_RETURN(int64_t port, ParseInt64("port", args.GetOr("port", "0")));
  o.runs = static_cast<int>(runs);
  o.port = static_cast<int>(port);
  if (args.Has("ops")) {
    ASSIGN_OR_RETURN(o.ops, ParseOps(*args.Get("ops")));
  }
  if (args.Has("arms")) {
    const std::string text = *args.Get("arms");
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t comma = text.find(',', pos);
      o.arms.push_back(text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
      pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
    }
    for (const std::string& a : o.arms) {
      bool known = false;
      for (const Arm& x : AllArms()) known = known || x.name == a;
      if (!known) return InvalidArgument("--arms: unknown arm '" + a + "'");
    }
  }
  const std::string fk = args.GetOr("foreign-keys", "on");
  if (fk != "on" && fk != "off") return InvalidArgument("--foreign-keys must be on or off");
  o.foreign_keys = fk == "on";
  if (o.runs < 1 || o.tx < 1 || o.blocks < 1 || o.rows < 1 || o.rows_per_tx < 1 || o.blocks > o.tx) {
    return InvalidArgument("--runs, --tx, --blocks, --rows and --rows-per-tx must be positive, --blocks at most --tx");
  }
  o.root = args.GetOr("root", ".");
  o.out = args.GetOr("out", "bench/out");
  o.db = args.GetOr("db", o.out + "/racetiming-r" + std::to_string(o.rows) + "-s" + std::to_string(o.seed) + ".db");
  return ResolveBenchPaths(&o.bin, &o.out, &o.db);
}

}  // namespace
}  // namespace slipway::bench

int main(int argc, char** argv) {
  return slipway::bench::BenchMain<slipway::bench::Options>("stream_overhead", argc, argv, slipway::bench::ParseOptions,
                                                           slipway::bench::Run);
}
