// app_follower: an application-like writer that follows a cutover. It reads
// its database URL from the app's config file (as a real app would), writes
// paced transactions, and when the move happens — the SQLite source is fenced
// and the config file is rewritten to point at PostgreSQL — it switches over
// and carries on, so a test can measure what the application saw.
//
//   app_follower --config FILE --key KEY --id N --rate TPS --seconds S --ack-log FILE
//                [--busy-timeout-ms 5000] [--poll-config-ms 50]
//
// Config file: `.env` lines (KEY=value, value optionally quoted with ' or ",
// optional `export `; the last KEY line wins, as when a shell sources it) or a
// JSON object (detected by a leading `{`; KEY is a member or a dotted path). The value
// is `sqlite:///ABS/PATH` (also `sqlite:////ABS/PATH`), `postgresql://...`,
// `postgres://...`, or a libpq `key=value` conninfo.
//
// Schema (created by the test, never by this tool):
//   counters(id INTEGER PRIMARY KEY, n INTEGER NOT NULL)  -- row id=N exists
//   events_log(id INTEGER PRIMARY KEY AUTOINCREMENT, writer INTEGER NOT NULL,
//              seq INTEGER NOT NULL, at TEXT NOT NULL)
//
// Transaction number `seq` (1, 2, 3, ... per run): in ONE transaction, add 1
// to counters.n for id=N and insert events_log(writer=N, seq, at); the id
// comes from the database. After COMMIT returns OK it is acknowledged:
//   seq<TAB>counter_after<TAB>unix_ms<TAB>db      (db: sqlite|pg)
// is appended to --ack-log and flushed before the next transaction starts.
//
// Contract the tests rely on: seqs in the ack log are 1..K without gaps or
// repeats; a failed attempt (busy, fence trigger, guard trigger, lost
// connection, anything else) is rolled back and the SAME seq is retried after
// re-reading the config, so every acknowledged seq is committed exactly once.
// When a COMMIT was sent but its outcome is unknown (connection lost), the
// next attempt first looks for (writer, seq) in events_log and acknowledges it
// instead of writing it again. Hence, on the database the writer ends on,
// counters.n grows by exactly the number of acks and events_log holds one row
// per acked seq. A transaction abandoned at the end (deadline or signal) was
// not committed, or was committed and is acknowledged by that same lookup.
//
// Summary on stdout: max_gap_ms is the longest time between two consecutive
// acknowledgements (steady clock, rounded); gap_at_ms the unix ms of the ack
// that ended it. Diagnostics (switches, retry streaks) go to stderr; database
// URLs are always redacted.
//
// Thread-safety: single-threaded; the signal handler only sets a flag and, while
// a PostgreSQL statement other than COMMIT runs, sends a cancel request.

#include <libpq-fe.h>
#include <signal.h>
#include <strings.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/follower_config.h"
#include "cli/args.h"
#include "common/redact.h"
#include "common/sqlite.h"

namespace slipway::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using follow::ConfigWatcher;
using follow::Kind;
using follow::ParseTarget;
using follow::Target;

constexpr auto kRetryPause = milliseconds(5);               // between attempts of one seq
constexpr auto kBusyPoll = std::chrono::microseconds(200);  // SQLite lock retry interval
constexpr auto kMaxSleepSlice = milliseconds(100);          // signal latency bound
// Paced, not bursty: a writer this far behind schedule drops missed slots.
constexpr auto kMaxLag = milliseconds(100);
// Errors that are neither a lock, a fence/guard nor a lost connection are
// retried too (a cutover may surface odd errors briefly), but not forever.
constexpr auto kOtherErrorBudget = std::chrono::seconds(10);
constexpr const char* kFenceMarker = "moved to PostgreSQL";
constexpr const char* kGuardMarker = "slipway";

volatile std::sig_atomic_t g_stop = 0;
// Set only while a cancellable PostgreSQL statement runs (never COMMIT).
std::atomic<PGcancel*> g_cancel{nullptr};
static_assert(std::atomic<PGcancel*>::is_always_lock_free);

void OnSignal(int) {
  g_stop = 1;
  // PQcancel is documented as safe in a signal handler with a local buffer.
  if (PGcancel* c = g_cancel.load()) {
    char err[256];
    (void)PQcancel(c, err, sizeof err);
  }
}

bool ContainsCI(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (strncasecmp(hay.data() + i, needle.data(), needle.size()) == 0) return true;
  }
  return false;
}

int64_t UnixMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NowWithMs() {
  const int64_t ms = UnixMs();
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms % 1000));
  return FormatTimestamp(ms / 1000) + frac;
}

// ---- backends --------------------------------------------------------------

// Why an attempt failed; decides what the retry loop does.
enum class Fail {
  kNone,
  kBusy,        // lock not obtained in time (SQLite busy, PG lock/serialization)
  kFence,       // SQLite fence trigger: the app moved to PostgreSQL
  kGuard,       // PostgreSQL guard trigger (message mentions slipway)
  kConnection,  // lost or refused connection: reconnect
  kCancelled,   // stop requested
  kFatal,       // the setup is wrong (no counter row): retrying cannot help
  kOther,
};

struct Attempt {
  Status status;  // OK: committed
  Fail fail = Fail::kNone;
  int64_t counter_after = 0;
  bool commit_sent = false;  // COMMIT was issued: its outcome may be unknown
};

// One open connection to the app's database. Not thread-safe.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* Name() const = 0;
  // Runs transaction `seq` of writer `id`. On failure it has been rolled back
  // (or the connection is gone).
  virtual Attempt Write(int64_t id, int64_t seq, const std::string& at) = 0;
  // counters.n when events_log holds (writer=id, seq), else nullopt. Used to
  // settle a COMMIT whose answer was lost; the row's presence is the proof.
  virtual Result<std::optional<int64_t>> FindCommitted(int64_t id, int64_t seq) = 0;
};

class SqliteBackend : public Backend {
 public:
  // `give_up` is asked while waiting for the write lock (at most every
  // poll interval); true ends the wait early, e.g. because the URL changed.
  // With `session_extension` the connection loads slipway's capture
  // extension and calls slipway_capture() before each COMMIT.
  static Result<std::unique_ptr<SqliteBackend>> Open(const std::string& path, int busy_timeout_ms,
                                                     std::function<bool()> give_up,
                                                     const std::string& session_extension) {
    auto b = std::unique_ptr<SqliteBackend>(new SqliteBackend(busy_timeout_ms, std::move(give_up)));
    ASSIGN_OR_RETURN(b->db_, Db::Open(path, Db::Mode::kReadWrite, busy_timeout_ms));
    if (!session_extension.empty()) {
      RETURN_IF_ERROR(LoadCaptureExtension(b->db_.get(), session_extension));
      b->session_ = true;
    }
    // SQLite's own busy_timeout sleeps up to 100 ms between tries, which would
    // show up as gap after the lock is released; poll finely instead. `b` is
    // heap-allocated, so the pointer stays valid for the connection.
    sqlite3_busy_handler(b->db_.get(), &SqliteBackend::OnBusy, b.get());
    // As app frameworks configure WAL (Rails, app_writer): a commit survives an
    // app crash without an fsync each; the journal mode is the app's, untouched.
    RETURN_IF_ERROR(b->db_.Exec("PRAGMA synchronous=NORMAL"));
    ASSIGN_OR_RETURN(b->update_,
                     b->db_.Prepare("UPDATE counters SET n = n + 1 WHERE id = ?1 RETURNING n"));
    ASSIGN_OR_RETURN(
        b->insert_, b->db_.Prepare("INSERT INTO events_log (writer, seq, at) VALUES (?1, ?2, ?3)"));
    return b;
  }

  const char* Name() const override { return "sqlite"; }

  Attempt Write(int64_t id, int64_t seq, const std::string& at) override {
    Attempt a;
    // IMMEDIATE takes the write lock up front, under the busy handler,
    // instead of failing on an unretryable lock upgrade later.
    a.status = db_.Exec("BEGIN IMMEDIATE");
    if (a.status.ok()) {
      update_.Bind(1, id);
      auto row = update_.Step();
      if (!row.ok()) {
        a.status = row.status();
      } else if (!*row) {
        a.status = InvalidArgument("counters has no row id=" + std::to_string(id));
        a.fail = Fail::kFatal;
      } else {
        a.counter_after = update_.Int(0);
        a.status = update_.Run();  // RETURNING: step to the end before reset
      }
      (void)update_.Reset();  // repeats the step's error, already taken
    }
    if (a.status.ok()) {
      insert_.Bind(1, id).Bind(2, seq).Bind(3, at);
      a.status = insert_.Run();
      (void)insert_.Reset();
    }
    if (a.status.ok() && session_) a.status = db_.Exec("SELECT slipway_capture()");
    if (a.status.ok()) {
      a.commit_sent = true;
      a.status = db_.Exec("COMMIT");
    }
    if (!a.status.ok()) {
      if (!sqlite3_get_autocommit(db_.get())) (void)db_.Exec("ROLLBACK");
      if (a.fail == Fail::kNone) a.fail = Classify(a.status);
    }
    return a;
  }

  Result<std::optional<int64_t>> FindCommitted(int64_t id, int64_t seq) override {
    ASSIGN_OR_RETURN(Stmt st,
                     db_.Prepare("SELECT (SELECT count(*) FROM events_log WHERE writer = ?1 "
                                 "AND seq = ?2), (SELECT n FROM counters WHERE id = ?1)"));
    st.Bind(1, id).Bind(2, seq);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || st.Int(0) == 0) return std::optional<int64_t>();
    return std::optional<int64_t>(st.Int(1));
  }

 private:
  SqliteBackend(int busy_timeout_ms, std::function<bool()> give_up)
      : busy_timeout_(milliseconds(busy_timeout_ms)), give_up_(std::move(give_up)) {}
  bool session_ = false;

  static Fail Classify(const Status& s) {
    if (ContainsCI(s.message(), kFenceMarker)) return Fail::kFence;
    if (g_stop) return Fail::kCancelled;
    if (IsRetryable(s.code())) return Fail::kBusy;
    if (s.code() == Code::kNotFound) return Fail::kConnection;
    return Fail::kOther;
  }

  static int OnBusy(void* self, int count) {
    auto* b = static_cast<SqliteBackend*>(self);
    const auto now = Clock::now();
    if (count == 0) b->busy_since_ = now;
    if (g_stop || now - b->busy_since_ >= b->busy_timeout_) return 0;
    if (b->give_up_ && b->give_up_()) return 0;
    std::this_thread::sleep_for(kBusyPoll);
    return 1;
  }

  Clock::duration busy_timeout_;
  std::function<bool()> give_up_;
  Clock::time_point busy_since_;
  Db db_;
  Stmt update_, insert_;
};

// Raw libpq rather than PgConn: the follower is "the application", so it must
// not present itself as application_name=slipway, which a guard may exempt.
class PgBackend : public Backend {
 public:
  static Result<std::unique_ptr<PgBackend>> Open(const std::string& url) {
    // Keywords are applied in order, so a value in the URL overrides these.
    const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname", nullptr};
    const char* vals[] = {"5", "app_follower", url.c_str(), nullptr};
    auto b = std::unique_ptr<PgBackend>(new PgBackend());
    b->conn_.reset(PQconnectdbParams(keys, vals, /*expand_dbname=*/1));
    if (b->conn_ == nullptr) return Internal("out of memory connecting to PostgreSQL");
    if (PQstatus(b->conn_.get()) != CONNECTION_OK) {
      std::string msg = FirstLine(PQerrorMessage(b->conn_.get()));
      return Status(Code::kUnreachable, "connect " + RedactConninfo(url) + ": " + Redact(msg, url));
    }
    PQsetNoticeProcessor(
        b->conn_.get(), [](void*, const char*) {}, nullptr);
    b->cancel_ = PQgetCancel(b->conn_.get());
    return b;
  }

  ~PgBackend() override {
    if (cancel_ != nullptr) PQfreeCancel(cancel_);
  }

  const char* Name() const override { return "pg"; }

  Attempt Write(int64_t id, int64_t seq, const std::string& at) override {
    Attempt a;
    const std::string sid = std::to_string(id), sseq = std::to_string(seq);
    {
      Cancellable armed(cancel_);
      a.status = Run("BEGIN", {}, &a.fail);
      if (a.status.ok()) {
        Res r;
        a.status = Run("UPDATE counters SET n = n + 1 WHERE id = $1 RETURNING n", {sid.c_str()},
                       &a.fail, &r);
        if (a.status.ok() && PQntuples(r.get()) != 1) {
          a.status = InvalidArgument("counters has no row id=" + sid);
          a.fail = Fail::kFatal;
        } else if (a.status.ok()) {
          a.counter_after = std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
        }
      }
      if (a.status.ok()) {
        a.status = Run("INSERT INTO events_log (writer, seq, at) VALUES ($1, $2, $3)",
                       {sid.c_str(), sseq.c_str(), at.c_str()}, &a.fail);
      }
    }
    // COMMIT is never cancelled by a signal: its outcome must stay knowable.
    if (a.status.ok()) {
      a.commit_sent = true;
      a.status = Run("COMMIT", {}, &a.fail);
    }
    if (!a.status.ok() && PQstatus(conn_.get()) == CONNECTION_OK &&
        PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
      Fail ignored = Fail::kNone;
      (void)Run("ROLLBACK", {}, &ignored);
    }
    return a;
  }

  Result<std::optional<int64_t>> FindCommitted(int64_t id, int64_t seq) override {
    const std::string sid = std::to_string(id), sseq = std::to_string(seq);
    Res r;
    Fail fail = Fail::kNone;
    RETURN_IF_ERROR(
        Run("SELECT (SELECT count(*) FROM events_log WHERE writer = $1 AND seq = $2), "
            "(SELECT n FROM counters WHERE id = $1)",
            {sid.c_str(), sseq.c_str()}, &fail, &r));
    if (PQntuples(r.get()) != 1 || std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10) == 0) {
      return std::optional<int64_t>();
    }
    return std::optional<int64_t>(std::strtoll(PQgetvalue(r.get(), 0, 1), nullptr, 10));
  }

 private:
  struct Finish {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  using Res = std::unique_ptr<PGresult, Clear>;

  // Lets the signal handler cancel the running statement for this scope.
  class Cancellable {
   public:
    explicit Cancellable(PGcancel* c) { g_cancel.store(c); }
    ~Cancellable() { g_cancel.store(nullptr); }
    Cancellable(const Cancellable&) = delete;
    Cancellable& operator=(const Cancellable&) = delete;
  };

  PgBackend() = default;

  static std::string FirstLine(std::string s) {
    size_t nl = s.find('\n');
    if (nl != std::string::npos) s.resize(nl);
    return s;
  }

  Status Run(const char* sql, const std::vector<const char*>& params, Fail* fail,
             Res* keep = nullptr) {
    Res r(PQexecParams(conn_.get(), sql, static_cast<int>(params.size()), nullptr, params.data(),
                       nullptr, nullptr, 0));
    const ExecStatusType st = PQresultStatus(r.get());
    if (r != nullptr && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
      if (keep != nullptr) *keep = std::move(r);
      return Status::Ok();
    }
    std::string msg = r != nullptr ? PQresultErrorMessage(r.get()) : "";
    if (msg.empty()) msg = PQerrorMessage(conn_.get());
    const char* state_raw = r != nullptr ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    const std::string state = state_raw != nullptr ? state_raw : "";
    // Guard text may sit in DETAIL or HINT: match the whole message, report its first line.
    if (PQstatus(conn_.get()) != CONNECTION_OK || state.rfind("08", 0) == 0 ||
        state.rfind("57P", 0) == 0) {
      *fail = Fail::kConnection;
    } else if (ContainsCI(msg, kGuardMarker)) {
      *fail = Fail::kGuard;
    } else if (g_stop && state == "57014") {
      *fail = Fail::kCancelled;
    } else if (state == "40001" || state == "40P01" || state == "55P03") {
      *fail = Fail::kBusy;
    } else {
      *fail = Fail::kOther;
    }
    const Code code = *fail == Fail::kOther ? Code::kInternal : Code::kRetryable;
    const std::string_view verb = std::string_view(sql).substr(0, std::strcspn(sql, " "));
    return Status(code, std::string(verb) + ": " + FirstLine(msg) +
                            (state.empty() ? "" : " [" + state + "]"));
  }

  std::unique_ptr<PGconn, Finish> conn_;
  PGcancel* cancel_ = nullptr;
};

// ---- the writer ------------------------------------------------------------

struct Options {
  std::string config, key, ack_log;
  int64_t id = 0;
  double rate = 0;
  double seconds = 0;  // 0: until SIGTERM/SIGINT
  int busy_timeout_ms = 5000;
  int poll_config_ms = 50;
  std::string session_extension;  // load slipway's capture extension into SQLite connections
};

// Owns the ack log; one line per acknowledged transaction, flushed at once.
class AckLog {
 public:
  Status Open(const std::string& path) {
    file_.reset(std::fopen(path.c_str(), "a"));
    if (!file_) return IoError("cannot open ack log " + path + ": " + std::strerror(errno));
    return Status::Ok();
  }
  Status Append(int64_t seq, int64_t counter_after, int64_t unix_ms, const char* db) {
    std::fprintf(file_.get(), "%lld\t%lld\t%lld\t%s\n", static_cast<long long>(seq),
                 static_cast<long long>(counter_after), static_cast<long long>(unix_ms), db);
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

struct Totals {
  int64_t acked = 0, sqlite_acked = 0, pg_acked = 0, recovered = 0;
  int64_t retries = 0, fence_errors = 0, guard_errors = 0, busy_errors = 0;
  int64_t connection_errors = 0, other_errors = 0, reconnects = 0, skipped_slots = 0;
  double max_gap_ms = 0;
  int64_t gap_at_ms = 0;
};

class Follower {
 public:
  Follower(const Options& opt, ConfigWatcher& config, AckLog& ack)
      : opt_(opt), config_(config), ack_(ack) {}

  // REQUIRES: config loaded. Fails only on a fatal error.
  Status Run() {
    RETURN_IF_ERROR(Connect());  // strict at start: a bad setup fails fast
    const auto interval =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / opt_.rate));
    start_ = Clock::now();
    deadline_ = start_ + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(opt_.seconds));
    auto slot = start_;
    while (!Stopping()) {
      SleepUntil(opt_.seconds > 0 ? std::min(slot, deadline_) : slot);
      if (Stopping()) break;
      RETURN_IF_ERROR(CommitOne(t_.acked + 1));
      slot += interval;
      const auto now = Clock::now();
      if (now - slot > kMaxLag) {
        const auto missed = (now - kMaxLag - slot) / interval + 1;
        t_.skipped_slots += missed;
        slot += missed * interval;
      }
    }
    return Status::Ok();
  }

  const Totals& totals() const { return t_; }

 private:
  bool Stopping() const { return g_stop || (opt_.seconds > 0 && Clock::now() >= deadline_); }

  // Sleeps in slices so that a signal and a config change are noticed.
  void SleepUntil(Clock::time_point t) {
    const auto slice = std::min<Clock::duration>(kMaxSleepSlice, milliseconds(opt_.poll_config_ms));
    while (!g_stop && Clock::now() < t) {
      std::this_thread::sleep_for(std::min<Clock::duration>(t - Clock::now(), slice));
      config_.Poll(false);
    }
  }

  // Closes the current connection (if any) and opens the config's URL.
  Status Connect() {
    backend_.reset();
    const std::string url = config_.url();
    url_ = url;
    ASSIGN_OR_RETURN(Target target, ParseTarget(url));
    last_db_ = target.kind == Kind::kSqlite ? "sqlite" : "pg";  // names the target in logs
    if (target.kind == Kind::kSqlite) {
      auto give_up = [this, url] {
        config_.Poll(false);
        return config_.url() != url;
      };
      ASSIGN_OR_RETURN(backend_, SqliteBackend::Open(target.sqlite_path, opt_.busy_timeout_ms,
                                                     std::move(give_up), opt_.session_extension));
    } else {
      ASSIGN_OR_RETURN(backend_, PgBackend::Open(url));
    }
    if (opened_once_) ++t_.reconnects;
    if (url != last_url_) {
      std::fprintf(stderr, "app_follower: id=%lld on %s %s at unix_ms=%lld\n",
                   static_cast<long long>(opt_.id), backend_->Name(), RedactConninfo(url).c_str(),
                   static_cast<long long>(UnixMs()));
    }
    opened_once_ = true;
    last_url_ = url;
    return Status::Ok();
  }

  Status Acknowledge(int64_t seq, int64_t counter_after, const char* db) {
    const int64_t unix_ms = UnixMs();
    const auto now = Clock::now();
    // Only here, after COMMIT returned, is the transaction acknowledged.
    RETURN_IF_ERROR(ack_.Append(seq, counter_after, unix_ms, db));
    ++t_.acked;
    ++(std::strcmp(db, "pg") == 0 ? t_.pg_acked : t_.sqlite_acked);
    if (last_ack_) {
      const double gap = std::chrono::duration<double, std::milli>(now - *last_ack_).count();
      if (gap > t_.max_gap_ms) {
        t_.max_gap_ms = gap;
        t_.gap_at_ms = unix_ms;
      }
    }
    last_ack_ = now;
    return Status::Ok();
  }

  // Counts a failure; returns a fatal Status when retrying must stop.
  Status OnFailure(Fail fail, const Status& s, int64_t seq, int failures,
                   std::optional<Clock::time_point>& other_since) {
    if (fail == Fail::kCancelled) return Status::Ok();
    if (fail == Fail::kFatal) return s.Annotate("seq " + std::to_string(seq));
    ++t_.retries;
    switch (fail) {
      case Fail::kFence: ++t_.fence_errors; break;
      case Fail::kGuard: ++t_.guard_errors; break;
      case Fail::kBusy: ++t_.busy_errors; break;
      case Fail::kConnection: ++t_.connection_errors; break;
      default: ++t_.other_errors; break;
    }
    if (failures == 1) {
      std::fprintf(stderr, "app_follower: id=%lld seq=%lld retrying on %s: %s\n",
                   static_cast<long long>(opt_.id), static_cast<long long>(seq), last_db_.c_str(),
                   Redact(s.message(), url_).c_str());
    }
    if (fail == Fail::kConnection) backend_.reset();  // reconnect on the next attempt
    if (fail != Fail::kOther) {
      other_since.reset();
      return Status::Ok();
    }
    const auto now = Clock::now();
    if (!other_since) other_since = now;
    if (now - *other_since > kOtherErrorBudget) {
      return Status(s.code(), "giving up on seq " + std::to_string(seq) + " after " +
                                  std::to_string(failures) +
                                  " attempts: " + Redact(s.message(), url_));
    }
    return Status::Ok();
  }

  // Runs transaction `seq` until it is acknowledged or the run ends.
  Status CommitOne(int64_t seq) {
    bool commit_unknown = false;  // an earlier attempt's COMMIT may have landed
    int failures = 0;
    std::optional<Clock::time_point> other_since;
    const auto began = Clock::now();
    while (!Stopping()) {
      if (failures > 0) std::this_thread::sleep_for(kRetryPause);
      config_.Poll(failures > 0);  // after a failure, look now: the move may be why
      if (Stopping()) break;
      if (backend_ == nullptr || url_ != config_.url()) {
        if (Status s = Connect(); !s.ok()) {
          ++failures;
          const Fail f = s.code() == Code::kUnreachable || s.code() == Code::kNotFound ||
                                 IsRetryable(s.code())
                             ? Fail::kConnection
                             : Fail::kOther;
          RETURN_IF_ERROR(OnFailure(f, s, seq, failures, other_since));
          continue;
        }
        other_since.reset();  // a new target gets a fresh budget
      }
      if (commit_unknown) {
        auto found = backend_->FindCommitted(opt_.id, seq);
        if (!found.ok()) {
          ++failures;
          const Fail f =
              IsRetryable(found.status().code()) ? Fail::kConnection : Fail::kOther;
          RETURN_IF_ERROR(OnFailure(f, found.status(), seq, failures, other_since));
          continue;
        }
        if (*found) {
          ++t_.recovered;
          return Finish(seq, **found, failures, began, /*recovered=*/true);
        }
        commit_unknown = false;  // it did not land: writing it again is safe
      }
      Attempt a = backend_->Write(opt_.id, seq, NowWithMs());
      if (a.status.ok()) return Finish(seq, a.counter_after, failures, began);
      commit_unknown = commit_unknown || a.commit_sent;
      ++failures;
      RETURN_IF_ERROR(OnFailure(a.fail, a.status, seq, failures, other_since));
    }
    // Abandoned. Settle a COMMIT in doubt so the log matches the database.
    if (commit_unknown && backend_ != nullptr) {
      auto found = backend_->FindCommitted(opt_.id, seq);
      if (found.ok() && *found) {
        ++t_.recovered;
        return Finish(seq, **found, failures, began, /*recovered=*/true);
      }
    }
    if (failures > 0) {
      std::fprintf(stderr, "app_follower: id=%lld seq=%lld abandoned (not committed) at stop\n",
                   static_cast<long long>(opt_.id), static_cast<long long>(seq));
    }
    return Status::Ok();
  }

  Status Finish(int64_t seq, int64_t counter_after, int failures, Clock::time_point began,
                bool recovered = false) {
    RETURN_IF_ERROR(Acknowledge(seq, counter_after, backend_->Name()));
    if (failures > 0) {
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - began).count();
      std::fprintf(stderr,
                   "app_follower: id=%lld seq=%lld %s on %s after %d failed attempts, %.1f ms\n",
                   static_cast<long long>(opt_.id), static_cast<long long>(seq),
                   recovered ? "found committed (COMMIT answer was lost)" : "committed",
                   backend_->Name(), failures, ms);
    }
    return Status::Ok();
  }

  const Options& opt_;
  ConfigWatcher& config_;
  AckLog& ack_;
  std::unique_ptr<Backend> backend_;
  std::string url_;  // what backend_ was opened from
  std::string last_db_, last_url_;
  bool opened_once_ = false;
  Totals t_;
  std::optional<Clock::time_point> last_ack_;
  Clock::time_point start_, deadline_;
};

constexpr const char* kUsage =
    "usage: app_follower --config FILE --key KEY --id N --rate TPS --seconds S --ack-log FILE\n"
    "                    [--busy-timeout-ms 5000] [--poll-config-ms 50] [--session-extension PATH]\n"
    "  --seconds 0 runs until SIGTERM/SIGINT; either signal ends the run and exits 0.\n";

Status ParseOptions(int argc, char** argv, Options& opt) {
  const std::vector<cli::OptionSpec> specs = {{"config", true, ""},
                                              {"key", true, ""},
                                              {"id", true, ""},
                                              {"rate", true, ""},
                                              {"seconds", true, ""},
                                              {"ack-log", true, ""},
                                              {"busy-timeout-ms", true, ""},
                                              {"poll-config-ms", true, ""},
                                              {"session-extension", true, ""}};
  ASSIGN_OR_RETURN(cli::Args args,
                   cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc), specs));
  ASSIGN_OR_RETURN(opt.config, args.Require("config"));
  ASSIGN_OR_RETURN(opt.key, args.Require("key"));
  ASSIGN_OR_RETURN(opt.ack_log, args.Require("ack-log"));
  ASSIGN_OR_RETURN(std::string id, args.Require("id"));
  ASSIGN_OR_RETURN(opt.id, ParseInt64("id", id));
  ASSIGN_OR_RETURN(std::string rate, args.Require("rate"));
  ASSIGN_OR_RETURN(opt.rate, ParseDouble("rate", rate));
  ASSIGN_OR_RETURN(std::string seconds, args.Require("seconds"));
  ASSIGN_OR_RETURN(opt.seconds, ParseDouble("seconds", seconds));
  ASSIGN_OR_RETURN(int64_t busy,
                   ParseInt64("busy-timeout-ms", args.GetOr("busy-timeout-ms", "5000")));
  ASSIGN_OR_RETURN(int64_t poll, ParseInt64("poll-config-ms", args.GetOr("poll-config-ms", "50")));
  if (!(opt.rate > 0)) return InvalidArgument("--rate must be above 0");
  if (!(opt.seconds >= 0)) return InvalidArgument("--seconds must not be negative");
  if (busy < 0 || busy > 3600000) return InvalidArgument("--busy-timeout-ms must be 0..3600000");
  if (poll < 1 || poll > 60000) return InvalidArgument("--poll-config-ms must be 1..60000");
  opt.busy_timeout_ms = static_cast<int>(busy);
  opt.poll_config_ms = static_cast<int>(poll);
  opt.session_extension = args.GetOr("session-extension", "");
  return Status::Ok();
}

int Main(int argc, char** argv) {
  Options opt;
  if (Status s = ParseOptions(argc, argv, opt); !s.ok()) {
    std::cerr << "app_follower: " << s.message() << "\n" << kUsage;
    return 2;
  }
  ConfigWatcher config(opt.config, opt.key, milliseconds(opt.poll_config_ms));
  if (Status s = config.Load(); !s.ok()) {
    std::cerr << "app_follower: " << s.message() << "\n";
    return 2;
  }
  AckLog ack;
  if (Status s = ack.Open(opt.ack_log); !s.ok()) {
    std::cerr << "app_follower: " << s.message() << "\n";
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  Follower follower(opt, config, ack);
  const auto started = Clock::now();
  Status s = follower.Run();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  const Totals& t = follower.totals();
  std::printf(
      "app_follower: id=%lld acked=%lld sqlite_acked=%lld pg_acked=%lld retries=%lld "
      "fence_errors=%lld guard_errors=%lld reconnects=%lld max_gap_ms=%lld gap_at_ms=%lld "
      "rate=%.1f\n",
      static_cast<long long>(opt.id), static_cast<long long>(t.acked),
      static_cast<long long>(t.sqlite_acked), static_cast<long long>(t.pg_acked),
      static_cast<long long>(t.retries), static_cast<long long>(t.fence_errors),
      static_cast<long long>(t.guard_errors), static_cast<long long>(t.reconnects),
      static_cast<long long>(t.max_gap_ms + 0.5), static_cast<long long>(t.gap_at_ms),
      elapsed > 0 ? static_cast<double>(t.acked) / elapsed : 0.0);
  std::fprintf(stderr,
               "app_follower: id=%lld busy_errors=%lld connection_errors=%lld other_errors=%lld "
               "recovered_commits=%lld skipped_slots=%lld max_gap_ms=%.2f seconds=%.2f%s\n",
               static_cast<long long>(opt.id), static_cast<long long>(t.busy_errors),
               static_cast<long long>(t.connection_errors), static_cast<long long>(t.other_errors),
               static_cast<long long>(t.recovered), static_cast<long long>(t.skipped_slots),
               t.max_gap_ms, elapsed, g_stop ? " stopped_by_signal=1" : "");
  if (!s.ok()) {
    std::cerr << "app_follower: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace slipway::bench

int main(int argc, char** argv) { return slipway::bench::Main(argc, argv); }
