// The cutover's direction: SQLite -> PostgreSQL. The freeze is BEGIN
// IMMEDIATE on the SQLite file (app writers wait in their busy handler); the
// fence is reject-every-write triggers committed by that same transaction;
// PostgreSQL opens when its guard is lifted, in the transaction that arms
// reverse capture.
#include <algorithm>
#include <chrono>
#include <set>

#include "common/count_format.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "cutover/config_flip.h"
#include "cutover/fences.h"
#include "cutover/move.h"
#include "cutover/verifier.h"
#include "cutover/verify_progress.h"
#include "replicator/forward_applier.h"
#include "replicator/session.h"
#include "replicator/guard.h"
#include "replicator/pg_capture.h"
#include "replicator/schema_stamp.h"
#include "replicator/snapshot.h"
#include "replicator/sqlite_source.h"
#include "replicator/table_sql.h"

namespace slipway::cutover {
namespace {

class ForwardMove : public Move {
 public:
  explicit ForwardMove(MoveContext c) : c_(c) {}

  const char* Name() const override { return "cutover"; }

  Result<MoveState> State(const std::string& pg_phase) override {
    if (pg_phase == "cut_over") return MoveState::kDone;
    ASSIGN_OR_RETURN(std::string sqlite_phase, SqlitePhase(c_.db));
    if (sqlite_phase == "fenced") return MoveState::kInterrupted;
    if (pg_phase == "rolling_back") {
      return Status(Code::kConflict, "a rollback was interrupted after PostgreSQL was fenced: finish it with "
                                     "`slipway rollback --resume` or undo it with `--abort`");
    }
    if (pg_phase != "streaming" && pg_phase != "snapshotted") {
      return Status(Code::kConflict, "the migration is in phase '" + pg_phase + "'; cutover needs a finished snapshot");
    }
    return MoveState::kReady;
  }

  Status StartApplier() override {
    ASSIGN_OR_RETURN(PgResult pos, c_.pg.Exec("SELECT applied_seq FROM slipway.migration"));
    applied_ = pos.Rows() > 0 ? std::stoll(pos.Str(0, 0)) : 0;
    ASSIGN_OR_RETURN(PgResult start, c_.pg.Exec("SELECT coalesce(min(start_seq), 0) FROM slipway.tables"));
    applied_ = std::max<int64_t>(applied_, std::stoll(start.Str(0, 0)));
    applier_ = std::make_unique<replicator::ForwardApplier>(c_.db, c_.pg, c_.plan, c_.tids);
    ASSIGN_OR_RETURN(opener_, PgConn::Connect(c_.o.target_uri));
    return replicator::SetupSession(opener_, replicator::SessionRole::kApplier);
  }

  Status BeforeFreeze(CutoverReport* report) override {
    // Foreign keys the stream has not validated yet: before the freeze.
    std::vector<std::string> warnings;
    RETURN_IF_ERROR(replicator::ValidateForeignKeys(c_.pg, c_.plan, &warnings));
    for (auto& w : warnings) report->notes.push_back(std::move(w));
    if (c_.o.verify != VerifyMode::kChanged) return Status::Ok();
    if (c_.o.verify_max_age_s > 0) {
      ASSIGN_OR_RETURN(SkipDecision d, DecideVerifySkip(c_.pg, c_.db, c_.plan, c_.o.verify_max_age_s));
      if (d.skip) {
        // The background pass stands in for the full verify: every key not
        // touched after d.from was equal on both sides when its chunk was
        // read, and neither side has changed it since; every key touched
        // after d.from (the changelog holds them all) is compared inside the
        // freeze. The cutover holds the applier's role, so nothing prunes
        // the changelog from here on.
        verified_seq_ = d.from;
        report->notes.push_back("full verify before the freeze skipped: " + d.reason);
        Logger("cutover")->info("full verify before the freeze skipped: {}", d.reason);
        return Status::Ok();
      }
      report->notes.push_back("full verify before the freeze: " + d.reason);
      Logger("cutover")->info("running the full verify before the freeze: {}", d.reason);
    }
    // Everything, once, while the app still writes: keys that differ only
    // because they changed after the target's position are pending, and are
    // checked again inside the freeze with every other key touched since.
    verified_seq_ = applied_;
    return VerifyBeforeFreeze(c_, c_.plan, VerifyOptions{}, report);
  }

  Status VerifyBeforeAttempt(CutoverReport* report) override {
    if (c_.o.verify != VerifyMode::kChanged) return Status::Ok();
    return VerifyTouchedSoFar(report);
  }

  // The keys touched since verified_seq_ (during the full verify, or since
  // the background pass began), compared now, while the app still writes, so
  // that the freeze compares only the keys touched after this. The cutover
  // holds the applier's role: between its own rounds the target holds
  // exactly applied_, and a key touched again after applied_ is left to the
  // freeze. A few rounds, each over what the one before took.
  Status VerifyTouchedSoFar(CutoverReport* report) {
    const auto t0 = std::chrono::steady_clock::now();
    int64_t keys_from = verified_seq_;
    for (int round = 0; round < 3; ++round) {
      ASSIGN_OR_RETURN(const int64_t left, ApplyRound());
      (void)left;
      if (applied_ <= verified_seq_) break;
      RETURN_IF_ERROR(c_.db.Exec("BEGIN"));
      auto diffs = VerifyTouchedKeys(c_.db, c_.pg, c_.plan, c_.tids, verified_seq_, applied_, /*skip_touched_after=*/true);
      (void)c_.db.Exec("COMMIT");
      RETURN_IF_ERROR(diffs.status());
      if (!diffs->empty()) return TouchedMismatch("verification of the keys touched before the freeze", *diffs);
      verified_seq_ = applied_;
    }
    if (verified_seq_ > keys_from) {
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      report->notes.push_back("keys touched up to position " + std::to_string(verified_seq_) + " verified before the freeze in " +
                              FormatDurationMs(ms));
    }
    return Status::Ok();
  }

  Result<int64_t> ApplyRound() override {
    RETURN_IF_ERROR(c_.db.Exec("BEGIN"));
    auto newest = replicator::NewestChangelogSeq(c_.db);
    if (!newest.ok()) {
      (void)c_.db.Exec("COMMIT");
      return newest.status();
    }
    // A VACUUM since the target last applied: rowid tables copied whole.
    auto renumbered = renumber_.Check(c_.db, c_.pg, c_.plan, c_.tids);
    if (!renumbered.ok()) {
      (void)c_.db.Exec("COMMIT");
      return renumbered.status();
    }
    applier_->Resync(*renumbered);
    if (*newest > applied_ || applier_->has_resync()) {
      auto r = applier_->ApplyRange(applied_, std::max(*newest, applied_));
      (void)c_.db.Exec("COMMIT");
      if (!r.ok()) return r.status();
      applied_ = std::max(*newest, applied_);
    } else {
      (void)c_.db.Exec("COMMIT");
    }
    ASSIGN_OR_RETURN(const int64_t again, replicator::NewestChangelogSeq(c_.db));
    return again - applied_;
  }

  Status Lock(int64_t budget_ms) override {
    sqlite3_busy_timeout(c_.db.get(), static_cast<int>(std::max<int64_t>(50, budget_ms / 2)));
    Status s = c_.db.Exec("BEGIN IMMEDIATE");
    if (s.code() == Code::kSourceBusy) {
      return Status(Code::kSourceBusy, "could not take the SQLite write lock: another connection holds it (" +
                                           s.message() + ")");
    }
    if (!s.ok()) return Status(Code::kRetryable, "could not take the SQLite write lock: " + s.message());
    locked_ = true;
    return Status::Ok();
  }

  void Unlock() override {
    if (locked_) (void)c_.db.Exec("ROLLBACK");
    locked_ = false;
    if (open_locked_) (void)opener_.Run("ROLLBACK");
    open_locked_ = false;
  }

  std::vector<PgConn*> FreezeConnections() override { return {&c_.pg, &opener_}; }

  Result<int64_t> Drain() override {
    ASSIGN_OR_RETURN(const int64_t final_seq, replicator::NewestChangelogSeq(c_.db));
    ASSIGN_OR_RETURN(std::set<int> renumbered, renumber_.Check(c_.db, c_.pg, c_.plan, c_.tids));
    applier_->Resync(renumbered);
    if (final_seq > applied_ || applier_->has_resync()) {
      ASSIGN_OR_RETURN(auto rs, applier_->ApplyRange(applied_, std::max(final_seq, applied_)));
      (void)rs;
      applied_ = std::max(final_seq, applied_);
    }
    return final_seq;
  }

  Result<std::vector<TouchedDifference>> VerifyFrozen() override {
    std::vector<TouchedDifference> diffs;
    if (c_.o.verify == VerifyMode::kFull) {
      return VerifyAllInFreeze(c_, /*pending_differs=*/true);
    }
    if (c_.o.verify == VerifyMode::kChanged) {
      ASSIGN_OR_RETURN(diffs, VerifyTouchedKeys(c_.db, c_.pg, c_.plan, c_.tids, verified_seq_, applied_));
    }
    return diffs;
  }

  Status SyncSequences() override {
    for (const auto& tm : c_.plan.tables) {
      if (tm.key_kind == schema::KeyKind::kRowid) RETURN_IF_ERROR(SyncRowidIdentity(tm));
      for (const auto& col : tm.columns) {
        if (!col.identity || col.skip) continue;
        ASSIGN_OR_RETURN(auto mx, c_.db.QueryInt("SELECT max(" + QuoteSqliteIdent(col.source) + ") FROM " +
                                                 QuoteSqliteIdent(tm.source)));
        int64_t top = mx.value_or(0);
        // AUTOINCREMENT remembers ids handed out and deleted since.
        auto st = c_.db.Prepare("SELECT seq FROM sqlite_sequence WHERE name = ?");
        if (st.ok()) {
          st->Bind(1, std::string_view(tm.source));
          auto row = st->Step();
          if (row.ok() && *row) top = std::max(top, st->Int(0));
        }
        const std::string qt = QuotePgIdent(c_.plan.options.pg_schema) + "." + QuotePgIdent(tm.target);
        RETURN_IF_ERROR(c_.pg.ExecParams("SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)",
                                         {qt, col.target, std::to_string(std::max<int64_t>(top, 1)),
                                          top >= 1 ? "true" : "false"})
                            .status());
      }
    }
    return Status::Ok();
  }

  Status Fence() override {
    // Outside the lock's transaction the fence would commit on its own,
    // after a freeze that already ended.
    if (!locked_ || sqlite3_get_autocommit(c_.db.get()) != 0) {
      return Status(Code::kRetryable, "the freeze's SQLite transaction is gone; not fencing");
    }
    RETURN_IF_ERROR(LockForOpen());
    ASSIGN_OR_RETURN(replicator::SchemaStamp before, replicator::ReadSchemaStamp(c_.db));
    RETURN_IF_ERROR(InstallFence(c_.db, c_.plan, c_.tids));
    RETURN_IF_ERROR(SetSqlitePhase(c_.db, "fenced"));
    ASSIGN_OR_RETURN(replicator::SchemaStamp after, replicator::ReadSchemaStamp(c_.db));
    fence_stamps_ = {before, after};
    RETURN_IF_ERROR(RememberAppConfig());
    SLIPWAY_FAILPOINT("cutover.before_fence_commit");
    RETURN_IF_ERROR(c_.db.Exec("COMMIT"));
    locked_ = false;
    return Status::Ok();
  }

  Status Settle() override {
    // Nothing can have been written since the fence; a resume may still
    // find the last rounds unapplied.
    ASSIGN_OR_RETURN(const int64_t newest, replicator::NewestChangelogSeq(c_.db));
    if (newest > applied_) {
      RETURN_IF_ERROR(c_.db.Exec("BEGIN"));
      auto r = applier_->ApplyRange(applied_, newest);
      (void)c_.db.Exec("COMMIT");
      RETURN_IF_ERROR(r.status());
      applied_ = newest;
    }
    RETURN_IF_ERROR(SyncSequences());
    // The fence's triggers moved the schema cookie; what moved it is known,
    // so the target follows it (a resumed run does not know: the forward
    // stream then copies the rowid tables whole, the safe side).
    if (fence_stamps_) RETURN_IF_ERROR(replicator::FollowStamp(c_.pg, fence_stamps_->first, fence_stamps_->second));
    return c_.pg.ExecParams("UPDATE slipway.migration SET phase = 'fenced', cutover_seq = $1, updated_at = now()",
                            {std::to_string(applied_)})
        .status();
  }

  Result<std::string> AppUrl() override { return c_.o.app_url.empty() ? c_.o.target_uri : c_.o.app_url; }

  Status Open() override {
    // The transaction that took the tables' locks in the freeze, or (a
    // resumed move) a new one.
    PgConn& pg = open_locked_ ? opener_ : c_.pg;
    open_locked_ = false;
    Status s = pg.Run("SET statement_timeout = 0; SET lock_timeout = 0");
    if (s.ok() && PQtransactionStatus(pg.get()) == PQTRANS_IDLE) s = pg.Run("BEGIN");
    // Step 6: reverse capture is armed in the transaction that lifts the
    // guard, so no app write on PostgreSQL escapes it; the reverse stream
    // starts from this transaction's snapshot, in which no captured write
    // can be visible.
    if (s.ok()) s = replicator::ArmPgCapture(pg, c_.plan, c_.tids);
    if (s.ok()) {
      s = pg.Run("UPDATE slipway.migration SET reverse_cycle = reverse_cycle + 1, "
                 "reverse_start = pg_current_snapshot()::text");
    }
    if (s.ok()) s = replicator::LiftGuard(pg, c_.plan);
    if (s.ok()) {
      s = pg.Run("UPDATE slipway.migration SET phase = 'cut_over', cutover_at = now(), handover_requested = false, "
                 "updated_at = now()");
    }
    if (s.ok()) s = FailpointStatus("cutover.before_open_commit");
    if (s.ok()) s = pg.Run("COMMIT");
    if (!s.ok()) {
      (void)pg.Run("ROLLBACK");
      return s;
    }
    return Status::Ok();
  }

  Status Abort() override {
    ASSIGN_OR_RETURN(std::string sqlite_phase, SqlitePhase(c_.db));
    if (sqlite_phase == "fenced" || FenceInstalled(c_.db)) {
      replicator::SchemaStamp before, after;
      RETURN_IF_ERROR(RemoveFence(c_.db, &before, &after));
      RETURN_IF_ERROR(replicator::FollowStamp(c_.pg, before, after));
    }
    if (!c_.o.flip_file.empty()) RETURN_IF_ERROR(RestoreConfig(c_.o.flip_file));
    return c_.pg.Run("UPDATE slipway.migration SET phase = 'streaming', handover_requested = false, "
                     "cutover_seq = NULL, updated_at = now()");
  }

 private:
  // A table keyed by rowid: the target's _slipway_rowid hands out what
  // SQLite's next rowid would be (an app inserting after the cutover names no
  // rowid). A target made before it was an identity gets one (a catalog
  // change: no rewrite).
  Status SyncRowidIdentity(const schema::TableMapping& tm) {
    const std::string qt = QuotePgIdent(c_.plan.options.pg_schema) + "." + QuotePgIdent(tm.target);
    ASSIGN_OR_RETURN(PgResult seq, c_.pg.ExecParams("SELECT pg_get_serial_sequence($1, $2)", {qt, schema::kRowidColumn}));
    if (seq.IsNull(0, 0)) {
      RETURN_IF_ERROR(c_.pg.Run("ALTER TABLE " + qt + " ALTER COLUMN " + QuotePgIdent(schema::kRowidColumn) +
                                " ADD GENERATED BY DEFAULT AS IDENTITY"));
    }
    ASSIGN_OR_RETURN(auto mx, c_.db.QueryInt("SELECT max(" + replicator::FreeRowidName(tm) + ") FROM " +
                                             QuoteSqliteIdent(tm.source)));
    const int64_t top = mx.value_or(0);
    return c_.pg.ExecParams("SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)",
                            {qt, schema::kRowidColumn, std::to_string(std::max<int64_t>(top, 1)), top >= 1 ? "true" : "false"})
        .status();
  }

  // Opening PostgreSQL drops the guard's triggers and creates the capture
  // triggers, which wait for every session using a replicated table. Those
  // locks are taken here, inside the freeze and under its budget, and held
  // by opener_'s transaction until Open() commits it: a session holding a
  // table (a long report, a REINDEX) makes this attempt give up with SQLite
  // still live, instead of keeping the app from both databases after the
  // fence. The app's PostgreSQL readers wait from here to Open()'s commit.
  Status LockForOpen() {
    std::string tables;
    for (const auto& tm : c_.plan.tables) {
      tables += (tables.empty() ? "" : ", ") + QuotePgIdent(c_.plan.options.pg_schema) + "." + QuotePgIdent(tm.target);
    }
    RETURN_IF_ERROR(opener_.Run("BEGIN"));
    open_locked_ = true;
    if (tables.empty()) return Status::Ok();
    return opener_.Run("LOCK TABLE " + tables + " IN ACCESS EXCLUSIVE MODE");
  }

  // The config value the app had on SQLite, kept in the file with the fence
  // so that a rollback can give it back (a resume finds it there too).
  Status RememberAppConfig() {
    if (c_.o.flip_file.empty()) return Status::Ok();
    auto value = ReadConfigValue(c_.o.flip_file, c_.o.flip_key);
    if (!value.ok()) return Status::Ok();
    ASSIGN_OR_RETURN(Stmt st, c_.db.Prepare("INSERT OR REPLACE INTO _slipway_meta (key, value) VALUES "
                                            "('app_config_sqlite', ?1)"));
    st.Bind(1, std::string_view(*value));
    return st.Run();
  }

  MoveContext c_;
  std::unique_ptr<replicator::ForwardApplier> applier_;
  replicator::RenumberCheck renumber_;
  int64_t applied_ = 0;
  int64_t verified_seq_ = 0;
  bool locked_ = false;
  PgConn opener_;             // the transaction that opens PostgreSQL
  bool open_locked_ = false;  // opener_ holds the tables' locks
  std::optional<std::pair<replicator::SchemaStamp, replicator::SchemaStamp>> fence_stamps_;
};

}  // namespace

std::unique_ptr<Move> MakeForwardMove(MoveContext ctx) { return std::make_unique<ForwardMove>(ctx); }

}  // namespace slipway::cutover
