#include "cutover/cutover.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/failpoint.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/redact.h"
#include "common/sqlite.h"
#include "cutover/config_flip.h"
#include "cutover/fences.h"
#include "cutover/key_verify.h"
#include "cutover/verifier.h"
#include "replicator/applier.h"
#include "replicator/capture.h"
#include "replicator/guard.h"
#include "replicator/pg_state.h"
#include "replicator/session.h"
#include "replicator/snapshot.h"
#include "replicator/source_history.h"

namespace slipway::cutover {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

bool Exists(const std::string& p) {
  struct stat st {};
  return !p.empty() && ::stat(p.c_str(), &st) == 0;
}

class Cutover {
 public:
  explicit Cutover(const CutoverOptions& o) : o_(o) {}

  Result<CutoverReport> Run() {
    ASSIGN_OR_RETURN(db_, Db::Open(o_.source_path, Db::Mode::kReadWrite));
    ASSIGN_OR_RETURN(replicator::CaptureInfo capture, replicator::ReadCapture(db_));
    tids_ = capture.tids;
    migration_id_ = capture.migration_id;
    ASSIGN_OR_RETURN(pg_, PgConn::Connect(o_.target_uri));
    RETURN_IF_ERROR(replicator::SetupSession(pg_, replicator::SessionRole::kApplier));
    RETURN_IF_ERROR(replicator::EnsureStateSchema(pg_));
    ASSIGN_OR_RETURN(auto m, replicator::ReadMigration(pg_));
    if (!m) return Status(Code::kConflict, "the target has no slipway migration: run `slipway snapshot` first");
    if (m->migration_id != migration_id_) {
      return Status(Code::kConflict, "the target holds migration " + m->migration_id + ", not this source's");
    }
    RETURN_IF_ERROR(replicator::CheckSourceHistory(db_, pg_, o_.source_path));
    ASSIGN_OR_RETURN(plan_, schema::PlanFromJson(m->plan));
    applied_ = m->applied_seq;
    ASSIGN_OR_RETURN(std::string sqlite_phase, SqlitePhase(db_));

    if (m->phase == "cut_over") {
      if (o_.abort) {
        return Status(Code::kConflict,
                      "PostgreSQL is already open to the app; undoing the move needs the reverse stream (rollback), "
                      "not --abort");
      }
      report_.outcome = "already cut over";
      return report_;
    }
    if (o_.abort) return Abort(sqlite_phase);
    if (sqlite_phase == "fenced") {
      if (!o_.resume) {
        return Status(Code::kConflict,
                      "SQLite is fenced by an interrupted cutover: finish it with --resume or undo it with --abort");
      }
      RETURN_IF_ERROR(TakeApplierRole());
      RETURN_IF_ERROR(Finish());
      report_.outcome = "resumed";
      return report_;
    }
    if (o_.resume) log_->info("nothing to resume: SQLite is not fenced; running the cutover from the start");
    if (m->phase != "streaming" && m->phase != "snapshotted") {
      return Status(Code::kConflict, "the migration is in phase '" + m->phase + "'; cutover needs a finished snapshot");
    }
    RETURN_IF_ERROR(TakeApplierRole());
    {
      // Foreign keys the stream has not validated yet: before the freeze.
      std::vector<std::string> warnings;
      RETURN_IF_ERROR(replicator::ValidateForeignKeys(pg_, plan_, &warnings));
      for (auto& w : warnings) report_.notes.push_back(std::move(w));
    }
    RETURN_IF_ERROR(CatchUp(o_.max_lag, o_.lag_timeout_ms));
    if (o_.verify == VerifyMode::kChanged) RETURN_IF_ERROR(FullVerify());
    if (o_.postpone) RETURN_IF_ERROR(Postpone());

    for (int attempt = 1; attempt <= std::max(1, o_.attempts); ++attempt) {
      report_.attempts = attempt;
      RETURN_IF_ERROR(CatchUp(o_.max_lag, o_.lag_timeout_ms));
      Status frozen = Freeze();
      if (frozen.ok()) break;
      if (frozen.code() != Code::kRetryable || attempt == o_.attempts) {
        (void)pg_.Run("UPDATE slipway.migration SET handover_requested = false");
        return frozen;
      }
      log_->warn("freeze attempt {} released: {}; SQLite stays live, retrying", attempt, frozen.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    }
    if (o_.dry_run) {
      (void)pg_.Run("UPDATE slipway.migration SET handover_requested = false");
      report_.outcome = "dry run";
      return report_;
    }
    RETURN_IF_ERROR(Finish());
    report_.outcome = "cut over";
    return report_;
  }

 private:
  // A running stream hands over at its next round; then we hold the lock.
  Status TakeApplierRole() {
    RETURN_IF_ERROR(pg_.Run("UPDATE slipway.migration SET handover_requested = true, release_requested = false"));
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (true) {
      ASSIGN_OR_RETURN(PgResult r, pg_.ExecParams("SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                                                  {"slipway:" + migration_id_}));
      if (r.Get(0, 0) == "t") break;
      if (Clock::now() > deadline) {
        return Status(Code::kConflict, "a running `slipway stream` did not hand over within 30 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    RETURN_IF_ERROR(replicator::AttachSourceHistory(db_, pg_, o_.source_path).status());
    ASSIGN_OR_RETURN(PgResult pos, pg_.Exec("SELECT applied_seq FROM slipway.migration"));
    applied_ = pos.Rows() > 0 ? std::stoll(pos.Str(0, 0)) : 0;
    ASSIGN_OR_RETURN(PgResult start, pg_.Exec("SELECT coalesce(min(start_seq), 0) FROM slipway.tables"));
    applied_ = std::max<int64_t>(applied_, std::stoll(start.Str(0, 0)));
    applier_ = std::make_unique<replicator::Applier>(pg_, plan_, tids_);
    return Status::Ok();
  }

  // Applies rounds until at most `max_lag` changes are left.
  Status CatchUp(int64_t max_lag, int64_t timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      RETURN_IF_ERROR(db_.Exec("BEGIN"));
      auto newest = db_.QueryInt("SELECT max(seq) FROM _slipway_changelog");
      if (!newest.ok()) {
        (void)db_.Exec("COMMIT");
        return newest.status();
      }
      int64_t to = newest->value_or(0);
      if (to > applied_) {
        auto r = applier_->ApplyRange(db_, applied_, to);
        (void)db_.Exec("COMMIT");
        if (!r.ok()) return r.status();
        applied_ = to;
      } else {
        (void)db_.Exec("COMMIT");
      }
      auto again = db_.QueryInt("SELECT max(seq) FROM _slipway_changelog");
      if (!again.ok()) return again.status();
      if (again->value_or(0) - applied_ <= max_lag) return Status::Ok();
      if (Clock::now() > deadline) {
        return Status(Code::kRetryable, "lag stayed above " + std::to_string(max_lag) + " changes for " +
                                            std::to_string(timeout_ms / 1000) + " s; try again when the app is quieter");
      }
    }
  }

  // Everything, once, while the app still writes: keys that differ only
  // because they changed after the target's position are pending, and are
  // checked again inside the freeze with every other key touched since.
  Status FullVerify() {
    const auto t0 = Clock::now();
    verified_seq_ = applied_;
    ASSIGN_OR_RETURN(PgConn vconn, PgConn::Connect(o_.target_uri));
    Verifier v(o_.source_path, vconn, plan_.options.pg_schema, VerifyOptions{});
    RETURN_IF_ERROR(v.Open());
    for (const auto& tm : plan_.tables) {
      ASSIGN_OR_RETURN(TableReport r, v.VerifyTable(tm));
      if (!r.Equal()) {
        std::string first = r.keys.empty() ? "" : " (e.g. " + r.keys[0].key + ")";
        return Status(Code::kMismatch, "verification before the freeze found " + std::to_string(r.mismatched) +
                                           " differing keys in table " + tm.source + first + "; not cutting over");
      }
    }
    report_.notes.push_back("full verify before the freeze: " + std::to_string(Ms(t0, Clock::now()) / 1000.0) + " s");
    return Status::Ok();
  }

  Status Postpone() {
    std::string flag = o_.postpone_file.empty() ? o_.source_path + ".slipway-postpone" : o_.postpone_file;
    if (!Exists(flag)) {
      FILE* f = std::fopen(flag.c_str(), "w");
      if (f != nullptr) std::fclose(f);
    }
    log_->info("cutover postponed: remove {} or run `slipway cutover --release` to go on", flag);
    while (Exists(flag) && !ReleaseFlag().load()) {
      auto r = pg_.Exec("SELECT release_requested FROM slipway.migration");
      if (r.ok() && r->Get(0, 0) == "t") break;
      RETURN_IF_ERROR(CatchUp(LLONG_MAX, 1000));  // keep the lag small while waiting
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::remove(flag.c_str());
    log_->info("cutover released");
    return Status::Ok();
  }

  Status SyncSequences() {
    for (const auto& tm : plan_.tables) {
      for (const auto& c : tm.columns) {
        if (!c.identity || c.skip) continue;
        ASSIGN_OR_RETURN(auto mx, db_.QueryInt("SELECT max(" + QuoteSqliteIdent(c.source) + ") FROM " + QuoteSqliteIdent(tm.source)));
        int64_t top = mx.value_or(0);
        // AUTOINCREMENT remembers ids handed out and deleted since.
        auto st = db_.Prepare("SELECT seq FROM sqlite_sequence WHERE name = ?");
        if (st.ok()) {
          st->Bind(1, std::string_view(tm.source));
          auto row = st->Step();
          if (row.ok() && *row) top = std::max(top, st->Int(0));
        }
        const std::string qt = QuotePgIdent(plan_.options.pg_schema) + "." + QuotePgIdent(tm.target);
        RETURN_IF_ERROR(pg_.ExecParams("SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)",
                                       {qt, c.target, std::to_string(std::max<int64_t>(top, 1)), top >= 1 ? "true" : "false"})
                            .status());
      }
    }
    return Status::Ok();
  }

  // Steps 2-7. On any failure before the fence commits, the lock transaction
  // is rolled back and SQLite is exactly as before.
  Status Freeze() {
    const int64_t budget = o_.max_freeze_ms;
    sqlite3_busy_timeout(db_.get(), static_cast<int>(std::max<int64_t>(50, budget / 2)));
    std::vector<StepTiming> steps;
    const auto t0 = Clock::now();
    auto mark = t0;
    auto step = [&](const char* name) {
      auto now = Clock::now();
      steps.push_back({name, Ms(mark, now)});
      mark = now;
    };
    Status s = db_.Exec("BEGIN IMMEDIATE");
    if (!s.ok()) return Status(Code::kRetryable, "could not take the SQLite write lock: " + s.message());
    struct Release {
      Db& db;
      bool active = true;
      ~Release() {
        if (active) (void)db.Exec("ROLLBACK");
      }
    } release{db_};
    step("lock");
    SLIPWAY_FAILPOINT("cutover.after_lock");
    ASSIGN_OR_RETURN(auto newest, db_.QueryInt("SELECT max(seq) FROM _slipway_changelog"));
    const int64_t final_seq = newest.value_or(0);
    step("final position");
    if (final_seq > applied_) {
      ASSIGN_OR_RETURN(auto rs, applier_->ApplyRange(db_, applied_, final_seq));
      (void)rs;
      applied_ = final_seq;
    }
    step("drain");
    SLIPWAY_FAILPOINT("cutover.after_drain");
    std::vector<TouchedDifference> diffs;
    if (o_.verify == VerifyMode::kFull) {
      ASSIGN_OR_RETURN(PgConn vconn, PgConn::Connect(o_.target_uri));
      Verifier v(o_.source_path, vconn, plan_.options.pg_schema, VerifyOptions{});
      RETURN_IF_ERROR(v.Open());
      for (const auto& tm : plan_.tables) {
        ASSIGN_OR_RETURN(TableReport r, v.VerifyTable(tm));
        if (!r.Equal() || r.pending > 0) diffs.push_back({tm.source, r.keys.empty() ? "" : r.keys[0].key, "differs"});
      }
    } else {
      if (o_.verify == VerifyMode::kChanged) {
        ASSIGN_OR_RETURN(diffs, VerifyTouchedKeys(db_, pg_, plan_, tids_, verified_seq_, final_seq));
      }
      ASSIGN_OR_RETURN(auto counts, CompareCounts(db_, pg_, plan_));
      diffs.insert(diffs.end(), counts.begin(), counts.end());
    }
    step("verify");
    if (!diffs.empty()) {
      return Status(Code::kMismatch, "verification inside the freeze: table " + diffs[0].table + " " + diffs[0].key + " " +
                                         diffs[0].what + " (" + std::to_string(diffs.size()) +
                                         " differences); SQLite stays live");
    }
    RETURN_IF_ERROR(SyncSequences());
    step("sequences");
    // Step 6, reserved: reverse capture on PostgreSQL will be armed here,
    // before the app can write there.
    step("reverse capture (reserved)");
    // What is left (fence triggers and the commit) takes a few ms; keep a
    // margin for it.
    const double so_far = Ms(t0, Clock::now());
    if (so_far > 0.9 * static_cast<double>(budget)) {
      return Status(Code::kRetryable, "the freeze would last " + std::to_string(static_cast<int>(so_far)) +
                                          " ms, over the budget of " + std::to_string(budget) + " ms");
    }
    report_.final_seq = final_seq;
    if (o_.dry_run) {
      report_.freeze_ms = Ms(t0, Clock::now());
      report_.steps = steps;
      return Status::Ok();  // Release rolls the lock transaction back
    }
    RETURN_IF_ERROR(InstallFence(db_, plan_, tids_));
    RETURN_IF_ERROR(SetSqlitePhase(db_, "fenced"));
    SLIPWAY_FAILPOINT("cutover.before_fence_commit");
    RETURN_IF_ERROR(db_.Exec("COMMIT"));
    release.active = false;
    step("fence");
    report_.freeze_ms = Ms(t0, Clock::now());
    report_.steps = steps;
    SLIPWAY_FAILPOINT("cutover.after_fence_commit");
    return Status::Ok();
  }

  // Steps 8-9, also what --resume does after a crash past the fence.
  Status Finish() {
    // Nothing can have been written since the fence; make sure all of it is
    // applied (a crash may have come between drain and fence commit? No: the
    // drain commits first. This also covers a resume).
    ASSIGN_OR_RETURN(auto newest, db_.QueryInt("SELECT max(seq) FROM _slipway_changelog"));
    if (newest.value_or(0) > applied_) {
      RETURN_IF_ERROR(db_.Exec("BEGIN"));
      auto r = applier_->ApplyRange(db_, applied_, newest.value_or(0));
      (void)db_.Exec("COMMIT");
      RETURN_IF_ERROR(r.status());
      applied_ = newest.value_or(0);
    }
    RETURN_IF_ERROR(SyncSequences());
    RETURN_IF_ERROR(pg_.ExecParams("UPDATE slipway.migration SET phase = 'fenced', cutover_seq = $1, updated_at = now()",
                                   {std::to_string(applied_)})
                        .status());
    const std::string app_url = o_.app_url.empty() ? o_.target_uri : o_.app_url;
    if (!o_.flip_file.empty()) {
      RETURN_IF_ERROR(FlipConfig(o_.flip_file, o_.flip_key, app_url, o_.create_flip_file).Annotate("flip " + o_.flip_file));
    }
    SLIPWAY_FAILPOINT("cutover.after_flip");
    if (!o_.on_flip.empty()) RunHook(app_url);
    RETURN_IF_ERROR(pg_.Run("BEGIN"));
    Status s = replicator::LiftGuard(pg_, plan_);
    if (s.ok()) {
      s = pg_.Run("UPDATE slipway.migration SET phase = 'cut_over', cutover_at = now(), handover_requested = false, "
                  "updated_at = now()");
    }
    if (s.ok()) s = FailpointStatus("cutover.before_open_commit");
    if (s.ok()) s = pg_.Run("COMMIT");
    if (!s.ok()) {
      (void)pg_.Run("ROLLBACK");
      return s;
    }
    (void)pg_.ExecParams("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {"slipway:" + migration_id_});
    log_->info("cut over: the app now writes to {}", RedactConninfo(app_url));
    return Status::Ok();
  }

  void RunHook(const std::string& app_url) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv("SLIPWAY_NEW_URL", app_url.c_str(), 1);
      std::string old_url = "sqlite:///" + std::filesystem::absolute(o_.source_path).string();
      ::setenv("SLIPWAY_OLD_URL", old_url.c_str(), 1);
      ::execl("/bin/sh", "sh", "-c", o_.on_flip.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      report_.notes.push_back("the --on-flip hook failed (exit " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : -1) + ")");
      log_->warn("the --on-flip hook failed");
    }
  }

  Result<CutoverReport> Abort(const std::string& sqlite_phase) {
    if (sqlite_phase == "fenced" || FenceInstalled(db_)) RETURN_IF_ERROR(RemoveFence(db_));
    if (!o_.flip_file.empty()) RETURN_IF_ERROR(RestoreConfig(o_.flip_file));
    RETURN_IF_ERROR(pg_.Run("UPDATE slipway.migration SET phase = 'streaming', handover_requested = false, "
                            "cutover_seq = NULL, updated_at = now()"));
    report_.outcome = "aborted";
    log_->info("cutover aborted: SQLite is unfenced and live again");
    return report_;
  }

  const CutoverOptions& o_;
  std::shared_ptr<spdlog::logger> log_ = Logger("cutover");
  Db db_;
  PgConn pg_;
  schema::Plan plan_;
  std::map<std::string, int> tids_;
  std::string migration_id_;
  std::unique_ptr<replicator::Applier> applier_;
  int64_t applied_ = 0;
  int64_t verified_seq_ = 0;
  CutoverReport report_;
};

}  // namespace

std::atomic<bool>& ReleaseFlag() {
  static std::atomic<bool> flag{false};
  return flag;
}

Result<CutoverReport> RunCutover(const CutoverOptions& options) {
  Cutover c(options);
  return c.Run();
}

Status ReleasePostponed(const std::string& target_uri) {
  ASSIGN_OR_RETURN(PgConn pg, PgConn::Connect(target_uri));
  return pg.Run("UPDATE slipway.migration SET release_requested = true");
}

}  // namespace slipway::cutover
