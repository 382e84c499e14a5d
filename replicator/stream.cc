#include "replicator/stream.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/failpoint.h"
#include "common/log.h"
#include "common/sqlite.h"
#include "replicator/forward_applier.h"
#include "replicator/reverse_applier.h"
#include "replicator/sqlite_source.h"
#include "replicator/capture.h"
#include "replicator/pg_state.h"
#include "replicator/schema_watch.h"
#include "replicator/session.h"
#include "replicator/source_history.h"
#include "replicator/snapshot.h"
#include "replicator/wal_watch.h"

namespace slipway::replicator {
namespace {

using Clock = std::chrono::steady_clock;

std::string HostName() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// Frames in the WAL (mxFrame) and frames already copied into the database
// (nBackfill), read from the wal-index header (https://sqlite.org/walformat.html:
// bytes 16 and 96 of the -shm file, native byte order) through this
// connection's own mapping of it: no file descriptor of ours on the -shm file,
// whose close would drop SQLite's POSIX locks on it. REQUIRES: the file is in
// WAL mode and this connection has read it. False when nothing is mapped.
bool ReadWalIndex(Db& db, uint32_t* frames, uint32_t* backfilled) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || file == nullptr ||
      file->pMethods == nullptr || file->pMethods->iVersion < 2 || file->pMethods->xShmMap == nullptr) {
    return false;
  }
  volatile void* region = nullptr;
  if (file->pMethods->xShmMap(file, 0, 32 * 1024, 0, &region) != SQLITE_OK || region == nullptr) return false;
  const auto* p = static_cast<const volatile unsigned char*>(region);
  unsigned char b[8];
  for (int i = 0; i < 4; ++i) {
    b[i] = p[16 + i];
    b[4 + i] = p[96 + i];
  }
  std::memcpy(frames, b, 4);
  std::memcpy(backfilled, b + 4, 4);
  return true;
}

}  // namespace

struct Stream::Impl {
  StreamOptions o;
  StreamFigures& fig;
  std::atomic<bool> stop{false};
  WalWatch watch;
  std::shared_ptr<spdlog::logger> log = Logger("stream");

  Db db;                 // reads and prunes
  std::optional<PgConn> pg;
  schema::Plan plan;
  std::string migration_id;
  std::map<std::string, int> tids;
  std::unique_ptr<ForwardApplier> applier;
  std::unique_ptr<SchemaWatch> schema_watch;
  int64_t applied = 0;
  std::string history;  // the history token this applier attached with
  int64_t pruned_to = 0;  // changelog rows at or below this seq are pruned
  Clock::time_point last_prune = Clock::now();
  bool wal_mode = false;  // the source is in WAL mode: there is a WAL to checkpoint
  bool reverse = false;   // after the cutover: PostgreSQL -> SQLite
  bool handed_over = false;  // the last run ended because a cutover/rollback took over
  bool move_holds_role = false;  // the attach found a cutover/rollback holding the applier's role
  // Reverse direction state.
  std::optional<Db> sink_db;
  std::unique_ptr<ReverseApplier> reverse_applier;
  Position reverse_pos;
  int reverse_cycle = 0;
  int retry = 0;
  std::mt19937 rng{std::random_device{}()};
  std::thread fk_thread;
  std::thread ckpt_thread;  // WAL checkpoints (wal_checkpoint_pages > 0, WAL mode)
  std::mutex ckpt_mu;
  std::condition_variable ckpt_cv;
  bool ckpt_kick = false;  // guarded by ckpt_mu
  std::atomic<bool> ckpt_stop{false};
  std::atomic<bool> error_outstanding{false};  // fig.last_error is set
  schema::Plan plan_snapshot;  // the plan as attached, for the validation thread

  Impl(StreamOptions opts, StreamFigures& f) : o(std::move(opts)), fig(f), watch(o.source_path) {}
  ~Impl() {
    StopCheckpoints();
    if (fk_thread.joinable()) fk_thread.join();
  }

  void StopCheckpoints() {
    {
      std::lock_guard<std::mutex> lock(ckpt_mu);
      ckpt_stop = true;
    }
    ckpt_cv.notify_one();
    if (ckpt_thread.joinable()) ckpt_thread.join();
  }

  void SetError(const std::string& e) {
    std::lock_guard<std::mutex> lock(fig.mu);
    fig.last_error = e;
    fig.last_error_at = UtcNow();
    error_outstanding = true;
  }

  // After a reconnect or a round that succeeded: the error is history.
  void ClearError() {
    if (!error_outstanding) return;
    std::lock_guard<std::mutex> lock(fig.mu);
    fig.recovered_error = std::move(fig.last_error);
    fig.last_error.clear();
    error_outstanding = false;
  }

  static std::string UtcNow() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }

  // Connects (or reconnects) to the target, takes the applier lock, and
  // loads the plan and position. Retryable failures wait with backoff.
  Status ConnectTarget() {
    while (!stop) {
      pg.reset();
      applier.reset();
      auto c = PgConn::Connect(o.target_uri);
      Status s = c.status();
      if (s.ok()) {
        pg = std::move(*c);
        s = Attach();
      }
      if (s.ok()) {
        if (retry > 0) log->info("target reachable again after {} attempts; resuming at seq={}", retry, applied);
        retry = 0;
        fig.connected = true;
        ClearError();
        return Status::Ok();
      }
      if (!IsRetryable(s.code()) && s.code() != Code::kUnreachable) return s;
      fig.connected = false;
      ++fig.retries;
      SetError(s.message());
      // Exponential backoff with jitter: 100 ms doubling to 10 s, +-25%.
      double base = std::min(10000.0, 100.0 * std::pow(2.0, std::min(retry, 10)));
      std::uniform_real_distribution<double> jitter(0.75, 1.25);
      int wait_ms = static_cast<int>(base * jitter(rng));
      ++retry;
      log->warn("target unavailable ({}); retry {} in {} ms", s.message(), retry, wait_ms);
      // A plain sleep: file events (the app writing) must not cut it short.
      const auto until = Clock::now() + std::chrono::milliseconds(wait_ms);
      while (!stop && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Status::Ok();  // asked to stop while the target was away
  }

  Status Attach() {
    RETURN_IF_ERROR(SetupSession(*pg, SessionRole::kApplier));
    ASSIGN_OR_RETURN(auto m, ReadMigration(*pg));
    if (!m) return Status(Code::kConflict, "the target has no slipway migration: run `slipway snapshot` first");
    if (m->migration_id != migration_id) {
      return Status(Code::kConflict, "the target holds migration " + m->migration_id + ", not this source's (" +
                                         migration_id + ")");
    }
    if (m->phase == "snapshot") return Status(Code::kConflict, "the snapshot is not finished: run `slipway snapshot` again");
    if (m->phase == "fenced") {
      return Status(Code::kConflict, "a cutover or rollback was interrupted after its fence: finish it with --resume "
                                     "or undo it with --abort");
    }
    reverse = m->phase == "cut_over";
    if (m->phase != "snapshotted" && m->phase != "streaming" && !reverse) {
      return Status(Code::kConflict, "the migration is in phase '" + m->phase + "'; the stream cannot run in it");
    }
    RETURN_IF_ERROR(EnsureStateSchema(*pg));
    // One applier per migration.
    ASSIGN_OR_RETURN(PgResult lock, pg->ExecParams("SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                                                   {"slipway:" + migration_id}));
    if (lock.Get(0, 0) != "t") {
      // A cutover or rollback that asked for the role took it in the moment
      // between the hand-back and this attach: wait for it again.
      ASSIGN_OR_RETURN(PgResult asked, pg->Exec("SELECT handover_requested FROM slipway.migration"));
      move_holds_role = asked.Rows() == 1 && asked.Get(0, 0) == "t";
      return Status(Code::kConflict, "another slipway applier is running for this migration");
    }
    ASSIGN_OR_RETURN(history, AttachSourceHistory(db, *pg, o.source_path));
    ASSIGN_OR_RETURN(plan, schema::PlanFromJson(m->plan));
    if (reverse) return AttachReverse();
    ASSIGN_OR_RETURN(PgResult start, pg->Exec("SELECT coalesce(min(start_seq), 0) FROM slipway.tables"));
    // Every change at or below the smallest start position is in every copy.
    applied = std::max<int64_t>(m->applied_seq, std::stoll(start.Str(0, 0)));
    RETURN_IF_ERROR(pg->ExecParams("UPDATE slipway.migration SET phase = 'streaming', handover_requested = false, "
                                   "stream_host = $1, stream_pid = $2, stream_heartbeat = now()",
                                   {HostName(), std::to_string(::getpid())})
                        .status());
    applier = std::make_unique<ForwardApplier>(db, *pg, plan, tids);
    applier->set_pipeline_max(o.pipeline_max);
    // Whole-table copies a schema change asked for survive a reconnect or a crash.
    ASSIGN_OR_RETURN(PgResult resync, pg->Exec("SELECT tid FROM slipway.tables WHERE resync"));
    std::set<int> pending;
    for (int i = 0; i < resync.Rows(); ++i) pending.insert(std::stoi(resync.Str(i, 0)));
    applier->Resync(pending);
    fig.applied_seq = applied;
    {
      std::lock_guard<std::mutex> l(fig.mu);
      fig.phase = "streaming";
      fig.direction = "forward";
    }
    return Status::Ok();
  }

  // After the cutover: the position the SQLite file holds for this cutover,
  // or the snapshot reverse capture was armed in.
  Status AttachReverse() {
    ASSIGN_OR_RETURN(PgResult r, pg->Exec("SELECT reverse_cycle, reverse_start, "
                                          "pg_snapshot_xmax(reverse_start::pg_snapshot)::text FROM slipway.migration"));
    if (r.Rows() == 0 || r.IsNull(0, 1)) {
      return Status(Code::kConflict, "the migration is cut over without reverse capture: there is nothing to stream back");
    }
    reverse_cycle = std::stoi(r.Str(0, 0));
    if (!sink_db) {
      ASSIGN_OR_RETURN(Db d, OpenReverseSinkDb(o.source_path));
      sink_db.emplace(std::move(d));
    }
    ASSIGN_OR_RETURN(auto stored, ReadReversePosition(*sink_db, reverse_cycle));
    reverse_pos = stored ? *stored : Position{std::stoll(r.Str(0, 2)), r.Str(0, 1)};
    RETURN_IF_ERROR(pg->ExecParams("UPDATE slipway.migration SET handover_requested = false, stream_host = $1, "
                                   "stream_pid = $2, stream_heartbeat = now()",
                                   {HostName(), std::to_string(::getpid())})
                        .status());
    reverse_applier = std::make_unique<ReverseApplier>(*pg, *sink_db, plan, tids, reverse_cycle);
    fig.applied_seq = reverse_pos.seq;
    std::lock_guard<std::mutex> l(fig.mu);
    fig.phase = "streaming back";
    fig.direction = "reverse";
    return Status::Ok();
  }

  // PostgreSQL -> SQLite, once the app writes to PostgreSQL: rounds of
  // snapshot windows, polled every few ms (a NOTIFY would serialize the
  // app's commits), the changelog pruned once a second.
  Status RunReverse() {
    log->info("streaming back migration={} from PostgreSQL into {}", migration_id, o.source_path);
    auto last_prune = Clock::now();
    auto last_lag = Clock::now() - std::chrono::seconds(1);
    Pace pace;
    while (!stop) {
      if (PausedByOperator()) {
        watch.Wait(200);
        continue;
      }
      RoundStats rs;
      auto r = reverse_applier->Round(reverse_pos, &rs);
      if (!r.ok()) {
        Status s = r.status();
        ++fig.errors;
        SetError(s.message());
        if (IsRetryable(s.code()) || s.code() == Code::kUnreachable) {
          log->warn("apply back failed ({}); reconnecting", s.message());
          RETURN_IF_ERROR(ConnectTarget());
          if (stop || !reverse) break;
          continue;
        }
        return s;
      }
      const bool applied_some = !(*r == reverse_pos);
      if (applied_some) {
        reverse_pos = *r;
        fig.applied_seq = reverse_pos.seq;
        RecordRound(rs);
        pace.changes += rs.changes;
      }
      // Counting what is left costs what is left: while a backlog is worked
      // off in bounded rounds, once a second.
      const bool measure = !rs.more || Clock::now() - last_lag >= std::chrono::seconds(1);
      Result<PgChangelogSource::Lag> lag = Status(Code::kRetryable, "not measured");
      if (measure) {
        lag = reverse_applier->source().Pending(reverse_pos);
        last_lag = Clock::now();
      }
      if (lag.ok()) {
        fig.lag_changes = lag->changes;
        fig.lag_ms = lag->ms;
      }
      fig.source_seq = reverse_pos.seq + fig.lag_changes;
      const auto now = Clock::now();
      if (now - last_prune >= std::chrono::seconds(1)) {
        Status ps = reverse_applier->source().Prune(reverse_pos);
        if (!ps.ok()) log->warn("prune: {}", ps.message());
        last_prune = now;
      }
      if (pace.Due(now, fig) && HandoverRequested()) {
        log->info("rollback asked for the applier; handing over");
        handed_over = true;
        break;
      }
      if (o.until_caught_up && lag.ok() && lag->changes == 0) break;
      if (!applied_some) {
        const auto until = Clock::now() + std::chrono::milliseconds(10);
        while (!stop && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    if (pg) {
      Heartbeat();
      (void)pg->Run("UPDATE slipway.migration SET stream_heartbeat = NULL, stream_pid = NULL");
      (void)pg->ExecParams("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {"slipway:" + migration_id});
    }
    log->info("stream back stopped at snapshot {}", reverse_pos.snapshot);
    return Status::Ok();
  }

  // Carries schema additions over and copies the affected tables whole in
  // the next apply transaction.
  Status CarryOver() {
    ASSIGN_OR_RETURN(std::set<int> resync, schema_watch->CarryOver(db, *pg, &tids));
    applier = std::make_unique<ForwardApplier>(db, *pg, plan, tids);
    applier->set_pipeline_max(o.pipeline_max);
    applier->Resync(resync);
    return Status::Ok();
  }

  bool PausedByOperator() {
    if (fig.paused) return true;
    struct stat st {};
    return !o.pause_file.empty() && ::stat(o.pause_file.c_str(), &st) == 0;
  }

  // Applied changelog rows up to here may go.
  int64_t PruneLimit() const {
    if (!o.keep_changelog_after) return applied;
    const std::optional<int64_t> keep = o.keep_changelog_after();
    return keep ? std::min(applied, *keep) : applied;
  }

  Status Prune() {
    const int64_t limit = PruneLimit();
    // Never the newest row: its seq keeps the numbering from going back.
    for (int i = 0; i < 8; ++i) {
      auto st = db.Prepare(
          "DELETE FROM _slipway_changelog WHERE seq IN (SELECT seq FROM _slipway_changelog WHERE seq <= ?1 AND seq < "
          "(SELECT max(seq) FROM _slipway_changelog) ORDER BY seq LIMIT ?2)");
      if (!st.ok()) return st.status();
      st->Bind(1, limit).Bind(2, o.prune_batch);
      Status s = st->Run();
      if (!s.ok()) return IsRetryable(s.code()) ? Status::Ok() : s;  // the app holds the lock: later
      if (db.Changes() < o.prune_batch) {
        pruned_to = limit;
        break;
      }
    }
    last_prune = Clock::now();
    return Status::Ok();
  }

  // A passive checkpoint of whatever is not yet in the database, once the WAL
  // holds wal_checkpoint_pages frames. Runs on its own thread and connection,
  // which never holds a read transaction (a reader's snapshot would stop the
  // backfill there), so the apply loop never waits for the checkpoint's
  // writes and fsyncs. Passive: it never waits for and never blocks the app's
  // readers or writers; SQLITE_BUSY means another checkpoint (the app's) is
  // running.
  void Checkpoint(Db& c) {
    uint32_t frames = 0, backfilled = 0;
    if (!ReadWalIndex(c, &frames, &backfilled)) return;
    fig.wal_frames = frames;
    const int64_t done = backfilled <= frames ? backfilled : 0;
    if (frames < o.wal_checkpoint_pages || static_cast<int64_t>(frames) <= done) return;
    int wal_log = 0, wal_ckpt = 0;
    const int rc = sqlite3_wal_checkpoint_v2(c.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_log, &wal_ckpt);
    if (rc != SQLITE_OK) {
      log->debug("WAL checkpoint: {}", sqlite3_errstr(rc));
      return;
    }
    ++fig.checkpoints;
    // The log started over in between: every frame it reports was copied now.
    fig.frames_backfilled += std::max<int64_t>(0, wal_log < static_cast<int>(frames) ? wal_ckpt : wal_ckpt - done);
    fig.wal_frames = wal_log;
  }

  // Checkpoints after each round (KickCheckpoint) and every 50 ms.
  void CheckpointLoop() {
    auto c = Db::Open(o.source_path, Db::Mode::kReadWrite, /*busy_timeout_ms=*/0);
    if (!c.ok()) {
      log->warn("WAL checkpoints left to the app: {}", c.status().message());
      return;
    }
    // The first read maps the wal-index that ReadWalIndex looks at.
    if (!c->Exec("PRAGMA wal_autocheckpoint=0").ok() || !c->QueryInt("PRAGMA schema_version").ok()) return;
    while (!ckpt_stop) {
      {
        std::unique_lock<std::mutex> lock(ckpt_mu);
        ckpt_cv.wait_for(lock, std::chrono::milliseconds(50), [this] { return ckpt_kick || ckpt_stop.load(); });
        ckpt_kick = false;
      }
      if (ckpt_stop) break;
      Checkpoint(*c);
    }
  }

  void KickCheckpoint() {
    if (!ckpt_thread.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(ckpt_mu);
      ckpt_kick = true;
    }
    ckpt_cv.notify_one();
  }

  // The log starts over only at an app write that finds every frame copied
  // and no reader in the log. An app writing back to back commits more frames
  // while they are copied, so then only its own checkpoint (at the end of a
  // commit, past its autocheckpoint size) finishes the copy. Once the log is
  // 4 x wal_checkpoint_pages long, the apply loop holds no read transaction
  // for up to 2 ms, until it starts over.
  void LetTheLogStartOver() {
    if (!ckpt_thread.joinable() || sqlite3_get_autocommit(db.get()) == 0) return;
    uint32_t frames = 0, backfilled = 0;
    if (!ReadWalIndex(db, &frames, &backfilled) || frames < 4 * o.wal_checkpoint_pages) return;
    const uint32_t before = frames;
    const auto until = Clock::now() + std::chrono::milliseconds(2);
    while (Clock::now() < until && !stop) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      if (!ReadWalIndex(db, &frames, &backfilled) || frames < before) break;
    }
  }

  // The figures of one applied round.
  void RecordRound(const RoundStats& rs) {
    ClearError();
    fig.rounds++;
    fig.changes_applied += rs.changes;
    fig.changesets_applied += rs.changesets;
    fig.rows_written += rs.upserts;
    fig.keys_deleted += rs.deletes;
    fig.last_batch = rs.changes;
    if (rs.changes > fig.max_batch) fig.max_batch = rs.changes;
  }

  // The apply rate over the last second, and whether the once-a-second
  // work (heartbeat, the handover flag) is due.
  struct Pace {
    Clock::time_point window = Clock::now();
    Clock::time_point last_beat = Clock::now() - std::chrono::seconds(10);
    int64_t changes = 0;
    bool Due(Clock::time_point now, StreamFigures& f) {
      const double s = std::chrono::duration<double>(now - window).count();
      if (s >= 1.0) {
        f.rate = changes / s;
        changes = 0;
        window = now;
      }
      if (now - last_beat < std::chrono::seconds(1)) return false;
      last_beat = now;
      const int64_t at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
      std::lock_guard<std::mutex> l(f.mu);
      f.history.push_back({at_ms, f.lag_ms.load(), f.rate.load()});
      while (f.history.size() > StreamFigures::kHistorySamples) f.history.pop_front();
      return true;
    }
  };

  // Writes the heartbeat; true when a cutover or rollback asked for the
  // applier's role.
  bool HandoverRequested() {
    Heartbeat();
    auto h = pg->Exec("SELECT handover_requested FROM slipway.migration");
    return h.ok() && h->Get(0, 0) == "t";
  }

  void Heartbeat() {
    std::string direction, last_error, last_error_at;
    {
      std::lock_guard<std::mutex> l(fig.mu);
      direction = fig.direction;
      last_error = fig.last_error;
      last_error_at = fig.last_error_at;
    }
    nlohmann::json j = {{"direction", direction},
                        {"last_error", last_error},
                        {"last_error_at", last_error_at},
                        {"rate", fig.rate.load()},
                        {"rounds", fig.rounds.load()},
                        {"changes_applied", fig.changes_applied.load()},
                        {"changesets_applied", fig.changesets_applied.load()},
                        {"lag_changes", fig.lag_changes.load()},
                        {"lag_ms", fig.lag_ms.load()},
                        {"errors", fig.errors.load()},
                        {"max_batch", fig.max_batch.load()},
                        {"checkpoints", fig.checkpoints.load()},
                        {"frames_backfilled", fig.frames_backfilled.load()}};
    auto r = pg->ExecParams("UPDATE slipway.migration SET stream_heartbeat = now(), stream_stats = $1::jsonb", {j.dump()});
    (void)r;
    ReadShownState();
  }

  // What the status page shows besides the stream's own figures: each
  // table's copy, and the last cutover or rollback. Best effort: a failed
  // read keeps what was read before.
  void ReadShownState() {
    std::string tables, move;
    if (auto t = ReadTableStates(*pg); t.ok()) {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& [name, st] : *t) {
        a.push_back({{"table", name}, {"state", st.state}, {"rows_copied", st.copied_rows}});
      }
      tables = a.dump();
    }
    auto m = pg->Exec("SELECT last_move::text FROM slipway.migration WHERE last_move IS NOT NULL");
    if (m.ok() && m->Rows() == 1) move = m->Str(0, 0);
    std::lock_guard<std::mutex> l(fig.mu);
    if (!tables.empty()) fig.tables_json = tables;
    if (m.ok()) fig.last_move_json = move;
  }

  // Reads the newest seq; applies (applied, newest] when there is anything.
  Result<int64_t> Round() {
    RETURN_IF_ERROR(db.Exec("BEGIN"));
    struct EndRead {
      Db& d;
      ~EndRead() { (void)d.Exec("COMMIT"); }
    } end{db};
    ASSIGN_OR_RETURN(const int64_t to, NewestChangelogSeq(db));
    fig.source_seq = to;
    RETURN_IF_ERROR(CheckSourceRound(db, history, to, applied, o.source_path));
    if (schema_watch) RETURN_IF_ERROR(schema_watch->Check(db));
    if (to <= applied && !applier->has_resync()) return int64_t{0};
    int64_t target_to = std::max(to, applied);
    if (o.stop_at_seq >= 0 && target_to > o.stop_at_seq) target_to = std::max(applied, o.stop_at_seq);
    if (target_to <= applied && !applier->has_resync()) return int64_t{0};
    ASSIGN_OR_RETURN(RoundStats rs, applier->ApplyRange(applied, target_to));
    applied = target_to;
    fig.applied_seq = applied;
    RecordRound(rs);
    return rs.changes;
  }

  void UpdateLag() {
    auto newest = NewestChangelogSeq(db);
    int64_t n = newest.ok() ? *newest : 0;
    fig.source_seq = n;
    fig.lag_changes = std::max<int64_t>(0, n - applied);
    if (n > applied) {
      auto ts = db.Cached("SELECT (julianday('now') - ts) * 86400000.0 FROM _slipway_changelog WHERE seq > ?1 ORDER BY seq LIMIT 1");
      if (ts.ok()) {
        (*ts)->Bind(1, applied);
        auto row = (*ts)->Step();
        if (row.ok() && *row) fig.lag_ms = (*ts)->Real(0);
      }
    } else {
      fig.lag_ms = 0;
    }
  }

  Status Run() {
    ASSIGN_OR_RETURN(db, Db::Open(o.source_path, Db::Mode::kReadWrite, /*busy_timeout_ms=*/20));
    ASSIGN_OR_RETURN(auto journal, db.QueryText("PRAGMA journal_mode"));
    wal_mode = journal.value_or("") == "wal";
    // The stream checkpoints explicitly; its own prune commits do not.
    if (wal_mode && o.wal_checkpoint_pages > 0) RETURN_IF_ERROR(db.Exec("PRAGMA wal_autocheckpoint=0"));
    ASSIGN_OR_RETURN(CaptureInfo capture, ReadCapture(db));
    migration_id = capture.migration_id;
    tids = capture.tids;
    // A move that died after its fence is finished before streaming.
    if (auto c = PgConn::Connect(o.target_uri); c.ok()) {
      auto m = c->Exec("SELECT phase FROM slipway.migration");
      if (m.ok() && m->Rows() == 1 && !InterruptedMove(m->Str(0, 0)).empty()) RETURN_IF_ERROR(WaitForHandback());
    }
    // One direction at a time, as the migration's phase says; across a
    // cutover or a rollback (which take the applier's role for a moment)
    // the stream follows the move in the other direction.
    while (!stop) {
      move_holds_role = false;
      Status connected = ConnectTarget();
      if (!connected.ok() && move_holds_role) {
        RETURN_IF_ERROR(WaitForHandback());
        continue;
      }
      RETURN_IF_ERROR(connected);
      if (stop) break;
      handed_over = false;
      RETURN_IF_ERROR(reverse ? RunReverse() : RunForward());
      if (stop || !handed_over || o.until_caught_up || o.stop_at_seq >= 0) break;
      RETURN_IF_ERROR(WaitForHandback());
    }
    return Status::Ok();
  }

  // The move that died after its fence ("cutover"/"rollback"), or "" when
  // none did: the target's phase says so once the move recorded it, the
  // file's fence before that (the cutover dies between the two).
  std::string InterruptedMove(const std::string& pg_phase) {
    if (pg_phase == "rolling_back") return "rollback";
    if (pg_phase == "fenced") return "cutover";
    if (pg_phase != "snapshotted" && pg_phase != "streaming") return "";
    auto v = db.QueryText("SELECT value FROM _slipway_meta WHERE key = 'phase'");
    return v.ok() && v->value_or("") == "fenced" ? "cutover" : "";
  }

  // Until the cutover or rollback that took the applier's role has ended
  // (it holds the advisory lock while it runs). One that died after its
  // fence leaves the app unable to write: it is finished here, at once.
  Status WaitForHandback() {
    log->info("waiting for the {} to finish", reverse ? "rollback" : "cutover");
    const auto started = Clock::now();
    auto next_finish = Clock::now();
    bool reported = false;
    while (!stop) {
      watch.Wait(200);
      auto c = PgConn::Connect(o.target_uri);
      if (!c.ok()) continue;
      auto m = c->Exec("SELECT phase, handover_requested, move_options::text FROM slipway.migration");
      if (!m.ok() || m->Rows() == 0) continue;
      const std::string move = InterruptedMove(m->Str(0, 0));
      const bool requested = m->Get(0, 1) == "t";
      // A move that asked and has not taken the role yet must get it first;
      // one that died before taking it gave up after 30 s.
      if (move.empty() && requested && Clock::now() - started < std::chrono::seconds(35)) continue;
      auto lock = c->ExecParams("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", {"slipway:" + migration_id});
      if (!lock.ok() || lock->Get(0, 0) != "t") continue;
      // The lock goes with this connection; Attach takes it again.
      if (move.empty()) return Status::Ok();
      const std::string what = move + " interrupted after the fence: the app cannot write";
      {
        std::lock_guard<std::mutex> l(fig.mu);
        fig.phase = what + (o.finish_interrupted ? "; finishing it" : "; run `slipway " + move + " --resume` or `--abort`");
      }
      if (!o.finish_interrupted) {
        if (!reported) log->error("{}; run `slipway {} --resume` or `--abort`", what, move);
        reported = true;
        continue;
      }
      if (Clock::now() < next_finish) continue;
      (void)c->ExecParams("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {"slipway:" + migration_id});
      log->warn("{}; finishing it", what);
      Status s = o.finish_interrupted(move, m->Opt(0, 2).value_or(""));
      if (s.ok()) {
        log->info("finished the interrupted {}", move);
        continue;
      }
      SetError(s.message());
      log->error("could not finish the interrupted {}: {}", move, s.message());
      next_finish = Clock::now() + std::chrono::seconds(5);
    }
    return Status::Ok();
  }

  Status RunForward() {
    schema_watch = std::make_unique<SchemaWatch>(o.source_path, &plan);
    Status started = schema_watch->Start(db, *pg);
    if (!started.ok() && !schema_watch->pending()) return started;
    if (schema_watch->pending()) RETURN_IF_ERROR(CarryOver());
    plan_snapshot = plan;
    log->info("streaming migration={} from seq={}", migration_id, applied);
    // Foreign keys the snapshot left NOT VALID are validated beside the
    // apply loop (validation does not block row writes).
    ckpt_stop = false;
    if (wal_mode && o.wal_checkpoint_pages > 0) ckpt_thread = std::thread([this] { CheckpointLoop(); });
    fk_thread = std::thread([this] {
      auto conn = PgConn::Connect(o.target_uri);
      if (!conn.ok()) return;
      std::vector<std::string> warnings;
      Status s = ValidateForeignKeys(*conn, plan_snapshot, &warnings);
      if (!s.ok()) log->warn("foreign key validation: {}", s.message());
      for (const auto& w : warnings) log->warn("{}", w);
    });

    Pace pace;
    while (!stop) {
      if (PausedByOperator()) {
        watch.Wait(200);
        continue;
      }
      const auto t0 = Clock::now();
      auto r = Round();
      if (!r.ok() && r.status().code() == Code::kSchemaChanged && schema_watch->pending()) {
        Status s = CarryOver();
        if (IsRetryable(s.code())) {
          log->warn("schema change not carried over yet ({}); retrying", s.message());
          watch.Wait(200);
          continue;
        }
        if (!s.ok()) return s;
        continue;
      }
      if (!r.ok()) {
        Status s = r.status();
        ++fig.errors;
        SetError(s.message());
        if (IsRetryable(s.code()) || s.code() == Code::kUnreachable) {
          log->warn("apply failed ({}); reconnecting", s.message());
          RETURN_IF_ERROR(ConnectTarget());
          if (stop) break;
          continue;
        }
        return s;
      }
      pace.changes += *r;
      // Each prune takes the app's write lock: a full batch at a time, or
      // what is left once a second.
      const int64_t prunable = PruneLimit();
      if (prunable - pruned_to >= o.prune_batch ||
          (prunable > pruned_to && Clock::now() - last_prune >= std::chrono::seconds(1))) {
        Status ps = Prune();
        if (!ps.ok()) log->warn("prune: {}", ps.message());
      }
      UpdateLag();
      KickCheckpoint();
      LetTheLogStartOver();
      const auto now = Clock::now();
      if (pace.Due(now, fig) && HandoverRequested()) {
        log->info("cutover asked for the applier; handing over at seq={}", applied);
        handed_over = true;
        break;
      }
      if (o.stop_at_seq >= 0 && applied >= o.stop_at_seq) break;
      if (fig.lag_changes == 0 && o.until_caught_up) break;
      if (*r > 0 && o.max_cpu_percent < 100) {
        // Duty cycle: sleep in proportion to the work just done.
        auto busy = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        watch.Wait(static_cast<int>(busy * (100.0 / std::max(1, o.max_cpu_percent) - 1.0)));
      }
      if (fig.lag_changes == 0) watch.Wait(o.idle_wait_ms);
    }
    StopCheckpoints();
    if (fk_thread.joinable()) fk_thread.join();
    if (PruneLimit() > pruned_to) {
      Status ps = Prune();
      if (!ps.ok()) log->warn("prune: {}", ps.message());
    }
    if (pg) {
      Heartbeat();
      (void)pg->Run("UPDATE slipway.migration SET stream_heartbeat = NULL, stream_pid = NULL");
      (void)pg->ExecParams("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {"slipway:" + migration_id});
    }
    log->info("stream stopped at seq={}", applied);
    return Status::Ok();
  }
};

Stream::Stream(StreamOptions options) : impl_(std::make_unique<Impl>(std::move(options), figures_)) {}

Stream::~Stream() = default;

Status Stream::Run() { return impl_->Run(); }

void Stream::RequestStop() {
  impl_->stop = true;
  impl_->watch.Wake();
}

}  // namespace slipway::replicator
