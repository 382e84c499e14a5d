// app_writer: an application-like writer against a race-timing database (see
// bench/racetiming_schema.h). It runs paced write transactions on `results`
// (inserts with valid foreign keys, updates that bump `laps`, deletes) so a
// migration can be exercised while the source is live.
//
// Acknowledgement contract (what tests rely on): a transaction is
// acknowledged only after its COMMIT has returned SQLITE_OK; then one line per
// changed row is appended to --ack-log and the log is flushed before the next
// transaction starts:
//   op<TAB>id<TAB>laps_after<TAB>tx
// op is insert|update|delete; laps_after is the row's laps after the change
// (for delete: the value it had when deleted); tx numbers this process's
// committed transactions from 1. Since every update adds exactly 1 to laps, a
// target that applied each acknowledged change exactly once holds, for every
// id whose last line is not a delete, laps equal to its last laps_after.
// A change whose commit was not acknowledged (killed between COMMIT and the
// log write) may still be in the database: the acknowledged changes are a subset of the committed
// ones.

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "cli/args.h"
#include "common/sqlite.h"

namespace slipway::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxAttempts = 10;  // per transaction, then it counts as failed
constexpr auto kMaxSleepSlice = std::chrono::milliseconds(100);  // signal latency bound
constexpr auto kBusyPoll = std::chrono::microseconds(200);       // lock retry interval
// How far behind schedule the writer may run and still catch up (by skipping
// the sleep); beyond it, missed slots are dropped rather than burst.
constexpr auto kMaxLag = std::chrono::milliseconds(100);

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

enum class Op { kInsert, kUpdate, kDelete };
const char* OpName(Op op) {
  switch (op) {
    case Op::kInsert: return "insert";
    case Op::kUpdate: return "update";
    case Op::kDelete: return "delete";
  }
  return "?";
}

struct Change {
  Op op;
  int64_t id;
  int64_t laps;
};

struct Options {
  std::string db;
  double rate = 0;
  double seconds = 0;  // 0: until SIGTERM/SIGINT
  int64_t rows_per_tx = 1;
  int64_t mix[3] = {50, 40, 10};  // insert, update, delete weights
  int busy_timeout_ms = 5000;
  std::string ack_log;
  uint64_t seed = 1;
  std::string session_extension;  // load it and call slipway_capture() before each COMMIT
};

// One connection and its prepared statements. Not thread-safe.
class Writer {
 public:
  // Use Open(); public only for make_unique.
  explicit Writer(const Options& opt) : opt_(opt), rng_(opt.seed) {}

  static Result<std::unique_ptr<Writer>> Open(const Options& opt) {
    auto w = std::make_unique<Writer>(opt);
    ASSIGN_OR_RETURN(w->db_, Db::Open(opt.db, Db::Mode::kReadWrite, opt.busy_timeout_ms));
    ASSIGN_OR_RETURN(auto mode, w->db_.QueryText("PRAGMA journal_mode=WAL"));
    if (mode.value_or("") != "wal") return Internal(opt.db + ": cannot switch to WAL");
    RETURN_IF_ERROR(w->db_.Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON"));
    // Replaces SQLite's busy_timeout handler, whose 1..100 ms sleeps make two
    // writers at a few hundred tps fall behind; same timeout, finer polling.
    // `w` is heap-allocated, so the pointer stays valid for the connection.
    sqlite3_busy_handler(w->db_.get(), &Writer::OnBusy, w.get());
    if (!opt.session_extension.empty()) {
      RETURN_IF_ERROR(LoadCaptureExtension(w->db_.get(), opt.session_extension));
      ASSIGN_OR_RETURN(w->capture_, w->db_.Prepare("SELECT slipway_capture()"));
    }
    ASSIGN_OR_RETURN(w->races_, w->IdRange("races"));
    ASSIGN_OR_RETURN(w->participants_, w->IdRange("participants"));
    // The next existing row at or after a random id: holes left by deletes
    // are skipped. ?1 is the lower bound.
    ASSIGN_OR_RETURN(
        w->insert_,
        w->db_.Prepare(
            "INSERT INTO results (race_id, participant_id, bib, status, finish_seconds, laps, dnf, "
            "splits, created_at, updated_at) VALUES ("
            "(SELECT id FROM races WHERE id >= ?1 ORDER BY id LIMIT 1), "
            "(SELECT id FROM participants WHERE id >= ?2 ORDER BY id LIMIT 1), "
            "(SELECT coalesce(max(bib), 0) + 1 FROM results WHERE race_id = "
            "(SELECT id FROM races WHERE id >= ?1 ORDER BY id LIMIT 1)), "
            "'finished', ?3, 0, 0, ?4, ?5, NULL) RETURNING id, laps"));
    ASSIGN_OR_RETURN(
        w->update_,
        w->db_.Prepare("UPDATE results SET laps = laps + 1, updated_at = ?2, "
                       "finish_seconds = round(coalesce(finish_seconds, 3600.0) + ?3, 3) "
                       "WHERE id = (SELECT id FROM results WHERE id >= ?1 ORDER BY id LIMIT 1) "
                       "RETURNING id, laps"));
    ASSIGN_OR_RETURN(w->delete_, w->db_.Prepare("DELETE FROM results WHERE id = (SELECT id FROM "
                                                "results WHERE id >= ?1 ORDER BY id LIMIT 1) "
                                                "RETURNING id, laps"));
    return w;
  }

  // Runs one transaction of rows_per_tx changes. On success `out` holds the
  // committed changes. A kRetryable status means it was rolled back whole.
  Status RunTransaction(std::vector<Change>& out) {
    out.clear();
    // IMMEDIATE takes the write lock up front, so contention shows up here,
    // under the busy timeout, instead of as an unretryable lock upgrade.
    Status s = db_.Exec("BEGIN IMMEDIATE");
    if (s.ok()) s = Body(out);
    if (s.ok() && !opt_.session_extension.empty()) {
      s = capture_.Run();
      (void)capture_.Reset();
    }
    if (s.ok()) s = db_.Exec("COMMIT");
    if (!s.ok()) {
      if (!sqlite3_get_autocommit(db_.get())) (void)db_.Exec("ROLLBACK");
      out.clear();
    }
    return s;
  }

 private:
  struct Range {
    int64_t lo = 0, hi = 0;
  };

  Result<Range> IdRange(const std::string& table) {
    ASSIGN_OR_RETURN(auto lo, db_.QueryInt("SELECT min(id) FROM " + table));
    ASSIGN_OR_RETURN(auto hi, db_.QueryInt("SELECT max(id) FROM " + table));
    if (!lo || !hi)
      return Status(Code::kInvalidArgument, table + " is empty: generate the database first");
    return Range{*lo, *hi};
  }

  static int OnBusy(void* self, int count) {
    auto* w = static_cast<Writer*>(self);
    const auto now = Clock::now();
    if (count == 0) w->busy_since_ = now;
    if (now - w->busy_since_ >= std::chrono::milliseconds(w->opt_.busy_timeout_ms)) return 0;
    std::this_thread::sleep_for(kBusyPoll);
    return 1;
  }

  Op PickOp() {
    int64_t r = rng_.Range(0, opt_.mix[0] + opt_.mix[1] + opt_.mix[2] - 1);
    if (r < opt_.mix[0]) return Op::kInsert;
    return r < opt_.mix[0] + opt_.mix[1] ? Op::kUpdate : Op::kDelete;
  }

  // Steps a RETURNING statement once; nullopt when it touched no row.
  static Result<std::optional<Change>> StepOne(Stmt& st, Op op) {
    auto row = st.Step();
    std::optional<Change> c;
    if (row.ok() && *row) c = Change{op, st.Int(0), st.Int(1)};
    Status s = row.ok() ? st.Run() : row.status();  // RETURNING: finish before reset
    Status r = st.Reset();
    if (!s.ok()) return s;
    if (!r.ok()) return r;
    return c;
  }

  Status Body(std::vector<Change>& out) {
    const std::string now = NowTimestamp();
    int64_t max_result = 0;
    for (int64_t i = 0; i < opt_.rows_per_tx; ++i) {
      Op op = PickOp();
      std::optional<Change> c;
      if (op == Op::kInsert) {
        insert_.Bind(1, rng_.Range(races_.lo, races_.hi))
            .Bind(2, rng_.Range(participants_.lo, participants_.hi));
        insert_.Bind(3, static_cast<double>(rng_.Range(900000, 21600000)) / 1000.0);
        std::string splits = "[" + std::to_string(rng_.Range(300, 3000)) + "." +
                             std::to_string(rng_.Range(0, 9)) + "]";
        insert_.Bind(4, splits).Bind(5, now);
        ASSIGN_OR_RETURN(c, StepOne(insert_, op));
      } else {
        if (max_result == 0) {
          ASSIGN_OR_RETURN(auto hi, db_.QueryInt("SELECT max(id) FROM results"));
          max_result = hi.value_or(0);
          if (max_result == 0) continue;  // nothing to update or delete
        }
        Stmt& st = op == Op::kUpdate ? update_ : delete_;
        // Try from a random id, then wrap around to the first row.
        for (int64_t from : {rng_.Range(1, max_result), int64_t{0}}) {
          st.Bind(1, from);
          if (op == Op::kUpdate) {
            st.Bind(2, now).Bind(3, static_cast<double>(rng_.Range(-5000, 5000)) / 1000.0);
          }
          ASSIGN_OR_RETURN(c, StepOne(st, op));
          if (c) break;
        }
      }
      if (c) out.push_back(*c);
    }
    return Status::Ok();
  }

  Options opt_;
  Rng rng_;
  Db db_;
  Range races_, participants_;
  Stmt insert_, update_, delete_;
  Stmt capture_;  // SELECT slipway_capture(), with --session-extension
  Clock::time_point busy_since_;
};

// Owns the ack log; appends and flushes one transaction at a time.
class AckLog {
 public:
  Status Open(const std::string& path) {
    if (path.empty()) return Status::Ok();
    file_.reset(std::fopen(path.c_str(), "a"));
    if (!file_) return IoError("cannot open ack log " + path + ": " + std::strerror(errno));
    return Status::Ok();
  }
  Status Append(const std::vector<Change>& changes, int64_t tx) {
    if (!file_) return Status::Ok();
    for (const Change& c : changes) {
      std::fprintf(file_.get(), "%s\t%lld\t%lld\t%lld\n", OpName(c.op),
                   static_cast<long long>(c.id), static_cast<long long>(c.laps),
                   static_cast<long long>(tx));
    }
    if (std::fflush(file_.get()) != 0)
      return IoError(std::string("ack log write: ") + std::strerror(errno));
    return Status::Ok();
  }

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> file_;
};

// Sleeps until `t` in short slices so a signal is noticed promptly.
void SleepUntil(Clock::time_point t) {
  while (!g_stop && Clock::now() < t) {
    std::this_thread::sleep_for(std::min<Clock::duration>(t - Clock::now(), kMaxSleepSlice));
  }
}

struct Totals {
  int64_t committed = 0, failed = 0, retries = 0, skipped_slots = 0;
  int64_t ops[3] = {0, 0, 0};
};

Status Run(const Options& opt, Totals& totals, double& elapsed) {
  ASSIGN_OR_RETURN(auto writer, Writer::Open(opt));
  AckLog ack;
  RETURN_IF_ERROR(ack.Open(opt.ack_log));
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / opt.rate));
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(opt.seconds));
  Rng jitter(opt.seed ^ 0x5EEDULL);
  std::vector<Change> changes;
  auto slot = start;
  while (!g_stop && (opt.seconds <= 0 || Clock::now() < deadline)) {
    SleepUntil(opt.seconds > 0 ? std::min(slot, deadline) : slot);
    if (g_stop || (opt.seconds > 0 && Clock::now() >= deadline)) break;
    bool done = false;
    for (int attempt = 1; attempt <= kMaxAttempts && !done; ++attempt) {
      Status s = writer->RunTransaction(changes);
      if (s.ok()) {
        done = true;
      } else if (IsRetryable(s.code())) {
        ++totals.retries;
        std::this_thread::sleep_for(std::chrono::microseconds(jitter.Range(500, 2000 * attempt)));
      } else {
        return s.Annotate("transaction");
      }
    }
    if (!done) {
      ++totals.failed;
    } else {
      ++totals.committed;
      for (const Change& c : changes) ++totals.ops[static_cast<int>(c.op)];
      // Only now, with COMMIT returned, is the transaction acknowledged.
      RETURN_IF_ERROR(ack.Append(changes, totals.committed));
    }
    // Paced, not bursty: sleep overshoot and short stalls are absorbed
    // within kMaxLag; slots missed beyond it are dropped, not caught up.
    slot += interval;
    const auto now = Clock::now();
    if (now - slot > kMaxLag) {
      const auto missed = (now - kMaxLag - slot) / interval + 1;
      totals.skipped_slots += missed;
      slot += missed * interval;
    }
  }
  elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return Status::Ok();
}

constexpr const char* kUsage =
    "usage: app_writer --db FILE --rate TPS --seconds S [--rows-per-tx K]\n"
    "                  [--mix insert=50,update=40,delete=10] [--busy-timeout-ms 5000]\n"
    "                  [--ack-log FILE] [--seed S] [--table results]\n"
    "  --seconds 0 runs until SIGTERM/SIGINT; either signal ends after the current transaction.\n";

Status ParseMix(const std::string& text, int64_t (&mix)[3]) {
  const char* const kNames[] = {"insert", "update", "delete"};
  for (auto& m : mix) m = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    std::string item =
        text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() : comma + 1;
    size_t eq = item.find('=');
    int which = -1;
    for (int i = 0; i < 3; ++i) {
      if (eq != std::string::npos && item.substr(0, eq) == kNames[i]) which = i;
    }
    if (which < 0)
      return InvalidArgument("--mix: expected insert=N,update=N,delete=N, got '" + item + "'");
    ASSIGN_OR_RETURN(mix[which], ParseInt64("mix", item.substr(eq + 1)));
    if (mix[which] < 0) return InvalidArgument("--mix: weights must not be negative");
  }
  if (mix[0] + mix[1] + mix[2] <= 0) return InvalidArgument("--mix: weights sum to zero");
  return Status::Ok();
}

Status ParseOptions(int argc, char** argv, Options& opt) {
  const std::vector<cli::OptionSpec> specs = {
      {"db", true, ""},          {"rate", true, ""}, {"seconds", true, ""},
      {"rows-per-tx", true, ""}, {"mix", true, ""},  {"busy-timeout-ms", true, ""},
      {"ack-log", true, ""},     {"seed", true, ""}, {"table", true, ""},
      {"session-extension", true, ""}};
  ASSIGN_OR_RETURN(cli::Args args,
                   cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc), specs));
  ASSIGN_OR_RETURN(opt.db, args.Require("db"));
  ASSIGN_OR_RETURN(std::string rate, args.Require("rate"));
  ASSIGN_OR_RETURN(opt.rate, ParseDouble("rate", rate));
  ASSIGN_OR_RETURN(std::string seconds, args.Require("seconds"));
  ASSIGN_OR_RETURN(opt.seconds, ParseDouble("seconds", seconds));
  ASSIGN_OR_RETURN(opt.rows_per_tx, ParseInt64("rows-per-tx", args.GetOr("rows-per-tx", "1")));
  ASSIGN_OR_RETURN(int64_t busy,
                   ParseInt64("busy-timeout-ms", args.GetOr("busy-timeout-ms", "5000")));
  ASSIGN_OR_RETURN(int64_t seed, ParseInt64("seed", args.GetOr("seed", "1")));
  if (args.Has("mix")) RETURN_IF_ERROR(ParseMix(*args.Get("mix"), opt.mix));
  opt.ack_log = args.GetOr("ack-log", "");
  opt.session_extension = args.GetOr("session-extension", "");
  opt.busy_timeout_ms = static_cast<int>(busy);
  opt.seed = static_cast<uint64_t>(seed);
  if (!(opt.rate > 0)) return InvalidArgument("--rate must be above 0");
  if (!(opt.seconds >= 0)) return InvalidArgument("--seconds must not be negative");
  if (opt.rows_per_tx < 1) return InvalidArgument("--rows-per-tx must be at least 1");
  if (busy < 0 || busy > 3600000) return InvalidArgument("--busy-timeout-ms must be 0..3600000");
  if (args.GetOr("table", "results") != "results")
    return InvalidArgument("--table: only 'results' is supported");
  return Status::Ok();
}

int Main(int argc, char** argv) {
  Options opt;
  if (Status s = ParseOptions(argc, argv, opt); !s.ok()) {
    std::cerr << "app_writer: " << s.message() << "\n" << kUsage;
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  Totals t;
  double elapsed = 0;
  Status s = Run(opt, t, elapsed);
  if (s.ok() || t.committed + t.failed > 0) {
    std::printf(
        "app_writer: committed=%lld failed=%lld retries=%lld inserts=%lld updates=%lld "
        "deletes=%lld "
        "skipped_slots=%lld seconds=%.2f rate=%.1f target_rate=%.1f%s\n",
        static_cast<long long>(t.committed), static_cast<long long>(t.failed),
        static_cast<long long>(t.retries), static_cast<long long>(t.ops[0]),
        static_cast<long long>(t.ops[1]), static_cast<long long>(t.ops[2]),
        static_cast<long long>(t.skipped_slots), elapsed, elapsed > 0 ? t.committed / elapsed : 0.0,
        opt.rate, g_stop ? " stopped_by_signal=1" : "");
  }
  if (!s.ok()) {
    std::cerr << "app_writer: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace slipway::bench

int main(int argc, char** argv) { return slipway::bench::Main(argc, argv); }
