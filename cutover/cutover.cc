#include "cutover/cutover.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/count_format.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/redact.h"
#include "common/sqlite.h"
#include "cutover/config_flip.h"
#include "cutover/freeze_budget.h"
#include "cutover/key_verify.h"
#include "cutover/move.h"
#include "cutover/uncaptured_check.h"
#include "cutover/verifier.h"
#include "cutover/verify_report.h"
#include "cutover/verify_progress.h"
#include "replicator/capture.h"
#include "replicator/pg_state.h"
#include "replicator/session.h"
#include "replicator/source_history.h"
#include "replicator/step_progress.h"

namespace slipway::cutover {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

bool Exists(const std::string& p) {
  struct stat st {};
  return !p.empty() && ::stat(p.c_str(), &st) == 0;
}

// The state machine both directions run (cutover.h); what differs between
// them is a Move (move.h).
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
    MoveContext ctx{o_, db_, pg_, plan_, tids_, budget_};
    move_ = o_.direction == Direction::kForward ? MakeForwardMove(ctx) : MakeReverseMove(ctx);
    name_ = move_->Name();
    log_ = Logger(name_);
    ASSIGN_OR_RETURN(MoveState state, move_->State(m->phase));

    if (state == MoveState::kDone) {
      if (o_.abort) {
        return Status(Code::kConflict, o_.direction == Direction::kForward
                                           ? "PostgreSQL is already open to the app; undo the move with `slipway rollback`"
                                           : "SQLite is already open to the app again; move again with `slipway cutover`");
      }
      report_.outcome = o_.direction == Direction::kForward ? "already cut over" : "already rolled back";
      return report_;
    }
    if (o_.abort) {
      RETURN_IF_ERROR(move_->Abort());
      report_.outcome = "aborted";
      log_->info("{} aborted: the app's database is where it was before", name_);
      return report_;
    }
    if (state == MoveState::kInterrupted) {
      // The app can write to neither side until the move is finished: the
      // same command run again (a service restarting it) finishes it.
      if (!o_.resume) log_->warn("a {} was interrupted after its fence: finishing it", name_);
      RETURN_IF_ERROR(TakeApplierRole());
      RETURN_IF_ERROR(Finish());
      report_.outcome = "resumed";
      return report_;
    }
    if (o_.resume) log_->info("nothing to resume: running the {} from the start", name_);
    if (o_.direction == Direction::kForward) {
      // A difference the stream's background verify found and has not seen
      // go away is refused before anything is taken over or frozen.
      ASSIGN_OR_RETURN(VerifyProgress progress, ReadVerifyProgress(pg_));
      RETURN_IF_ERROR(CheckNoOpenMismatch(progress));
    }
    // What the config will hold is known before anything is frozen.
    if (!o_.dry_run) {
      RETURN_IF_ERROR(move_->AppUrl().status());
      RETURN_IF_ERROR(RecordMoveOptions());
    }
    RETURN_IF_ERROR(TakeApplierRole());
    RETURN_IF_ERROR(CatchUp(o_.max_lag, o_.lag_timeout_ms));
    RETURN_IF_ERROR(move_->BeforeFreeze(&report_));
    if (o_.postpone) {
      RETURN_IF_ERROR(Postpone());
      Status again = VerifyTextAndBlobTables();
      if (!again.ok()) {
        (void)pg_.Run("UPDATE slipway.migration SET handover_requested = false");
        return again;
      }
    }

    for (int attempt = 1; attempt <= std::max(1, o_.attempts); ++attempt) {
      report_.attempts = attempt;
      RETURN_IF_ERROR(CatchUp(o_.max_lag, o_.lag_timeout_ms));
      Status checked = move_->VerifyBeforeAttempt(&report_);
      if (!checked.ok()) {
        (void)pg_.Run("UPDATE slipway.migration SET handover_requested = false");
        return checked;
      }
      Status frozen = Freeze();
      if (frozen.ok()) break;
      if (!IsRetryable(frozen.code()) || attempt == o_.attempts) {
        (void)pg_.Run("UPDATE slipway.migration SET handover_requested = false");
        return frozen;
      }
      log_->warn("freeze attempt {} released: {}; the app's database stays live, retrying", attempt, frozen.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    }
    if (o_.dry_run) {
      (void)pg_.Run("UPDATE slipway.migration SET handover_requested = false");
      report_.outcome = "dry run";
      return report_;
    }
    RETURN_IF_ERROR(Finish());
    report_.outcome = o_.direction == Direction::kForward ? "cut over" : "rolled back";
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
    return move_->StartApplier();
  }

  // Applies rounds until at most `max_lag` changes are left.
  Status CatchUp(int64_t max_lag, int64_t timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      ASSIGN_OR_RETURN(int64_t left, move_->ApplyRound());
      if (left <= max_lag) return Status::Ok();
      if (Clock::now() > deadline) {
        return Status(Code::kRetryable, "lag stayed above " + std::to_string(max_lag) + " changes for " +
                                            std::to_string(timeout_ms / 1000) + " s; try again when the app is quieter");
      }
    }
  }

  Status Postpone() {
    std::string flag = o_.postpone_file.empty() ? o_.source_path + ".slipway-postpone" : o_.postpone_file;
    if (!Exists(flag)) {
      FILE* f = std::fopen(flag.c_str(), "w");
      if (f != nullptr) std::fclose(f);
    }
    log_->info("{} postponed: remove {} or run `slipway {} --release` to go on", name_, flag, name_);
    while (Exists(flag) && !ReleaseFlag().load()) {
      auto r = pg_.Exec("SELECT release_requested FROM slipway.migration");
      if (r.ok() && r->Get(0, 0) == "t") break;
      RETURN_IF_ERROR(CatchUp(LLONG_MAX, 1000));  // keep the lag small while waiting
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::remove(flag.c_str());
    log_->info("{} released", name_);
    return Status::Ok();
  }

  // After a postponed wait, before the freeze: the tables holding TEXT or
  // BLOB values verified whole again. A write through SQLite's incremental
  // blob API during the wait fired no trigger, so the freeze's check of
  // touched keys would not see it; found here, the cutover stops with SQLite
  // still the app's database. Keys changed since the target's position are
  // pending: the freeze checks them. A table another session holds locked
  // (DDL, VACUUM FULL) is not waited for: the check after the move (step 10)
  // covers it, and the freeze's budget deals with the lock.
  Status VerifyTextAndBlobTables() {
    if (o_.direction != Direction::kForward || o_.verify != VerifyMode::kChanged) return Status::Ok();
    const auto t0 = Clock::now();
    ASSIGN_OR_RETURN(PgConn vconn, PgConn::Connect(o_.target_uri));
    RETURN_IF_ERROR(vconn.Run("SET lock_timeout = '200ms'"));
    Verifier v(o_.source_path, vconn, plan_.options.pg_schema, VerifyOptions{});
    RETURN_IF_ERROR(v.Open());
    std::string locked;
    for (const auto& tm : plan_.tables) {
      if (!schema::HoldsTextOrBlob(tm)) continue;
      Result<TableReport> verified = v.VerifyTable(tm);
      if (!verified.ok() && verified.status().message().find("lock timeout") != std::string::npos) {
        locked += (locked.empty() ? "" : ", ") + tm.source;
        continue;
      }
      ASSIGN_OR_RETURN(TableReport r, std::move(verified));
      if (!r.Equal()) {
        std::string first = r.keys.empty() ? "" : " (e.g. " + r.keys[0].key + ")";
        return Status(Code::kMismatch,
                      "verification at the release found " + std::to_string(r.mismatched) +
                          " differing keys in table " + tm.source + first +
                          " that no trigger captured (SQLite's incremental blob API?); not cutting over: touch "
                          "those rows in SQLite (UPDATE ... SET col = col) so the stream carries them, then cut over");
      }
    }
    report_.notes.push_back("tables holding text or blobs verified again at the release: " +
                            FormatDurationMs(Ms(t0, Clock::now())));
    if (!locked.empty()) {
      report_.notes.push_back("not verified again at the release, another session held them locked: " + locked +
                              " (the check after the move covers them)");
      log_->warn("release verify skipped tables another session held locked: {}", locked);
    }
    return Status::Ok();
  }

  // What a stream needs to finish this move if it dies after its fence
  // (replicator/stream.h): never a password. The app URL is recorded only
  // when it carries none; the target URI is recorded as a fact, since the
  // stream has its own.
  Status RecordMoveOptions() {
    nlohmann::json j = {{"direction", name_},
                        {"flip_file", o_.flip_file.empty() ? "" : std::filesystem::absolute(o_.flip_file).string()},
                        {"flip_key", o_.flip_key},
                        {"create_flip_file", o_.create_flip_file}};
    if (o_.direction == Direction::kForward && (o_.app_url.empty() || o_.app_url == o_.target_uri)) {
      j["app_url_is_target"] = true;
    } else if (!o_.app_url.empty() && RedactConninfo(o_.app_url) != o_.app_url) {
      j["app_url_withheld"] = true;
    } else if (!o_.app_url.empty()) {
      j["app_url"] = o_.app_url;
    }
    return pg_.ExecParams("UPDATE slipway.migration SET move_options = $1::jsonb", {j.dump()}).status();
  }

  // Steps 2-7 under the freeze budget: PostgreSQL answering slowly or
  // another session holding a table (DDL, VACUUM FULL, REINDEX) ends the
  // attempt at the deadline, SQLite live again, and the report names the
  // session that held the lock.
  Status Freeze() {
    budget_.Start(o_.max_freeze_ms, move_->FreezeConnections());
    step_ = "lock";
    Status s = FreezeSteps();
    budget_.Stop();
    const bool server_late = IsFreezeTimeout(s) ||
                             (budget_.Cancelled() && s.message().find("budget ran out") == std::string::npos);
    if (s.ok() || !server_late) return s;
    const std::string who = DescribeBlockers(o_.target_uri, plan_.options.pg_schema, PQbackendPID(pg_.get()));
    return Status(Code::kRetryable, "PostgreSQL did not answer within the freeze budget of " +
                                        std::to_string(o_.max_freeze_ms) + " ms (step " + step_ + ": " + s.message() +
                                        ")" + (who.empty() ? "" : "; blocked by " + who) +
                                        "; the freeze was released");
  }

  // On any failure before the fence commits, the lock's transaction is
  // rolled back and the from-side is exactly as before.
  Status FreezeSteps() {
    const int64_t budget = o_.max_freeze_ms;
    std::vector<StepTiming> steps;
    const auto t0 = Clock::now();
    auto wall_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
    report_.freeze_started_ms = wall_ms();
    report_.freeze_ended_ms = 0;
    auto mark = t0;
    auto step = [&](const char* name) {
      auto now = Clock::now();
      steps.push_back({name, Ms(mark, now)});
      mark = now;
    };
    RETURN_IF_ERROR(Bound());
    RETURN_IF_ERROR(move_->Lock(budget));
    struct Release {
      Move& move;
      bool active = true;
      ~Release() {
        if (active) move.Unlock();
      }
    } release{*move_};
    step("lock");
    RETURN_IF_ERROR(FailpointStatus(name_ + ".after_lock"));
    step_ = "drain";
    RETURN_IF_ERROR(Bound());
    ASSIGN_OR_RETURN(const int64_t final_pos, move_->Drain());
    step("drain");
    RETURN_IF_ERROR(FailpointStatus(name_ + ".after_drain"));
    step_ = "verify";
    RETURN_IF_ERROR(Bound());
    ASSIGN_OR_RETURN(std::vector<TouchedDifference> diffs, move_->VerifyFrozen());
    step("verify");
    if (!diffs.empty()) return TouchedMismatch("verification inside the freeze", diffs);
    step_ = "sequences";
    RETURN_IF_ERROR(Bound());
    RETURN_IF_ERROR(move_->SyncSequences());
    step("sequences");
    // What is left (the fence and its commit) takes a few ms; keep a margin
    // for it.
    const double so_far = Ms(t0, Clock::now());
    if (so_far > 0.9 * static_cast<double>(budget)) {
      return Status(Code::kRetryable, "the freeze would last " + std::to_string(static_cast<int>(so_far)) +
                                          " ms, over the budget of " + std::to_string(budget) + " ms");
    }
    report_.final_seq = final_pos;
    if (o_.dry_run) {
      report_.freeze_ms = Ms(t0, Clock::now());
      report_.steps = steps;
      release.active = false;
      move_->Unlock();  // the lock's transaction rolled back
      report_.freeze_ended_ms = wall_ms();
      return Status::Ok();
    }
    step_ = "fence";
    RETURN_IF_ERROR(Bound());
    RETURN_IF_ERROR(move_->Fence());
    release.active = false;
    step("fence");
    report_.freeze_ended_ms = wall_ms();
    report_.freeze_ms = Ms(t0, Clock::now());
    report_.steps = steps;
    RETURN_IF_ERROR(FailpointStatus(name_ + ".after_fence_commit"));
    return Status::Ok();
  }

  // Every freeze connection's next statements end at the deadline.
  Status Bound() {
    for (PgConn* c : move_->FreezeConnections()) RETURN_IF_ERROR(budget_.Bound(*c));
    return Status::Ok();
  }

  // Steps 8-9, also what --resume does after a crash past the fence.
  Status Finish() {
    RETURN_IF_ERROR(move_->Settle());
    ASSIGN_OR_RETURN(const std::string app_url, move_->AppUrl());
    if (!o_.flip_file.empty()) {
      RETURN_IF_ERROR(FlipConfig(o_.flip_file, o_.flip_key, app_url, o_.create_flip_file).Annotate("flip " + o_.flip_file));
    }
    RETURN_IF_ERROR(FailpointStatus(name_ + ".after_flip"));
    RETURN_IF_ERROR(move_->Open());
    if (!o_.on_flip.empty()) RunHook(app_url);
    if (o_.direction == Direction::kForward && o_.verify != VerifyMode::kNone) CheckUncaptured();
    RecordLastMove();
    (void)pg_.ExecParams("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {"slipway:" + migration_id_});
    log_->info("{}: the app now writes to {}", name_, RedactConninfo(app_url));
    return Status::Ok();
  }

  // Step 10, with the applier's lock still held: no reverse stream writes
  // the file or prunes slipway.changelog while the two sides are compared.
  // The move is done whatever this finds; what it finds is reported and
  // recorded, never silent.
  void CheckUncaptured() {
    const auto t0 = Clock::now();
    auto r = CheckUncapturedWrites(o_.source_path, o_.target_uri, plan_, tids_);
    if (!r.ok()) {
      report_.notes.push_back("the check for writes trigger capture cannot see (incremental blob I/O) failed: " +
                              r.status().message() + "; run `slipway verify` now");
      log_->warn("uncaptured-write check failed: {}", r.status().message());
      return;
    }
    report_.uncaptured_checked = true;
    report_.uncaptured_tables = r->tables;
    report_.uncaptured_total = r->total;
    for (const auto& d : r->differences) {
      report_.uncaptured.push_back("table " + d.table + (d.key.empty() ? "" : ", " + d.key) + ": " + d.what);
    }
    nlohmann::json j = {{"tables", r->tables}, {"differing_keys", r->total}, {"differences", report_.uncaptured}};
    Status s = pg_.ExecParams("UPDATE slipway.migration SET uncaptured_check = $1::jsonb", {j.dump()}).status();
    if (!s.ok()) log_->warn("recording the uncaptured-write check failed: {}", s.message());
    log_->info("uncaptured-write check: tables={} differing_keys={} ms={:.0f}", r->tables.size(), r->total,
               Ms(t0, Clock::now()));
    for (const auto& d : report_.uncaptured) log_->error("not carried over (no trigger fired): {}", d);
  }

  // What the status page shows of the move once it is done. A failure to
  // record it is logged: the move itself is complete.
  void RecordLastMove() {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& st : report_.steps) steps.push_back({{"step", st.step}, {"ms", st.ms}});
    nlohmann::json j = {{"move", name_},
                        {"resumed", report_.steps.empty()},
                        {"freeze_ms", report_.freeze_ms},
                        {"freeze_started_ms", report_.freeze_started_ms},
                        {"attempts", report_.attempts},
                        {"final_seq", report_.final_seq},
                        {"steps", steps}};
    Status s = pg_.ExecParams("UPDATE slipway.migration SET last_move = $1::jsonb || "
                              "jsonb_build_object('finished_at', to_char(now() AT TIME ZONE 'UTC', "
                              "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))",
                              {j.dump()})
                   .status();
    if (!s.ok()) log_->warn("recording the {} for the status page failed: {}", name_, s.message());
  }

  void RunHook(const std::string& app_url) {
    const std::string sqlite_url = "sqlite:///" + std::filesystem::absolute(o_.source_path).string();
    const bool forward = o_.direction == Direction::kForward;
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv("SLIPWAY_NEW_URL", app_url.c_str(), 1);
      ::setenv("SLIPWAY_OLD_URL", forward ? sqlite_url.c_str() : "", 1);
      ::setenv("SLIPWAY_DIRECTION", forward ? "cutover" : "rollback", 1);
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

  const CutoverOptions& o_;
  std::string name_ = "cutover";
  std::shared_ptr<spdlog::logger> log_ = Logger("cutover");
  Db db_;
  PgConn pg_;
  schema::Plan plan_;
  std::map<std::string, int> tids_;
  std::string migration_id_;
  FreezeBudget budget_;
  std::string step_;  // the freeze's step running, for the report
  std::unique_ptr<Move> move_;
  CutoverReport report_;
};

}  // namespace

Status VerifyBeforeFreeze(const MoveContext& c, const schema::Plan& plan, VerifyOptions options,
                          CutoverReport* report) {
  const auto t0 = Clock::now();
  ASSIGN_OR_RETURN(PgConn vconn, PgConn::Connect(c.o.target_uri));
  Verifier v(c.o.source_path, vconn, plan.options.pg_schema, std::move(options));
  RETURN_IF_ERROR(v.Open());
  VerifyRunProgress progress(plan, [&c](const schema::TableMapping& tm) { return c.tids.count(tm.source) != 0; });
  const char* move = c.o.direction == Direction::kForward ? "cutover" : "rollback";
  auto log = Logger(move);
  replicator::StepProgressWriter published(c.o.target_uri, std::string(move) + " verify",
                                           [&progress] { return progress.Figures(); });
  published.Start();
  for (const auto& tm : plan.tables) {
    if (c.tids.count(tm.source) == 0) continue;
    progress.Starting(tm.source);
    ASSIGN_OR_RETURN(TableReport r, v.VerifyTable(tm));
    if (!r.Equal()) {
      std::string first = r.keys.empty() ? "" : " (e.g. " + r.keys[0].key + ")";
      return Status(Code::kMismatch, "verification before the freeze found " + std::to_string(r.mismatched) +
                                         " differing keys in table " + tm.source + first + "; not " +
                                         (c.o.direction == Direction::kForward ? "cutting over" : "rolling back"));
    }
    log->info("full verify before the freeze: {}", progress.Done(r));
  }
  published.Stop(true);
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  char took[64];
  std::snprintf(took, sizeof took, "%.2f s", s);
  report->notes.push_back(std::string("full verify before the freeze: ") + took);
  return Status::Ok();
}

Result<std::vector<TouchedDifference>> VerifyAllInFreeze(const MoveContext& c, bool pending_differs) {
  std::vector<TouchedDifference> diffs;
  ASSIGN_OR_RETURN(PgConn vconn, PgConn::Connect(c.o.target_uri));
  ScopedFreezeWatch watch(c.budget, vconn);
  RETURN_IF_ERROR(c.budget.Bound(vconn));
  Verifier v(c.o.source_path, vconn, c.plan.options.pg_schema, VerifyOptions{});
  RETURN_IF_ERROR(v.Open());
  for (const auto& tm : c.plan.tables) {
    ASSIGN_OR_RETURN(TableReport r, v.VerifyTable(tm));
    if (!r.Equal() || (pending_differs && r.pending > 0)) {
      diffs.push_back({tm.source, r.keys.empty() ? "" : r.keys[0].key, "differs"});
    }
  }
  return diffs;
}

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
