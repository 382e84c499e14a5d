// The rollback's direction: PostgreSQL -> SQLite. The freeze is a
// transaction holding LOCK TABLE ... IN EXCLUSIVE MODE on every replicated
// table (the app's readers go on; its writers wait); the fence is the guard
// that refuses every write from anyone but slipway, created in that same
// transaction; SQLite opens when its fence is removed. Forward capture was
// never disarmed (the reverse applier writes with triggers off), so the
// forward stream resumes from the cutover's position.
#include <chrono>

#include "common/count_format.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "cutover/config_flip.h"
#include "cutover/fences.h"
#include "cutover/move.h"
#include "cutover/verifier.h"
#include "cutover/verify_pending.h"
#include "replicator/guard.h"
#include "replicator/reverse_applier.h"
#include "replicator/session.h"

namespace slipway::cutover {
namespace {

class ReverseMove : public Move {
 public:
  explicit ReverseMove(MoveContext c) : c_(c) {}

  const char* Name() const override { return "rollback"; }

  Result<MoveState> State(const std::string& pg_phase) override {
    ASSIGN_OR_RETURN(PgResult r, c_.pg.Exec("SELECT reverse_cycle, reverse_start FROM slipway.migration"));
    cycle_ = std::stoi(r.Str(0, 0));
    start_ = r.Opt(0, 1).value_or("");
    if (pg_phase == "rolling_back") return MoveState::kInterrupted;
    if (pg_phase == "cut_over") {
      if (start_.empty()) return Status(Code::kConflict, "the move was cut over without reverse capture: it cannot be rolled back");
      return MoveState::kReady;
    }
    if (pg_phase == "fenced") {
      return Status(Code::kConflict, "a cutover was interrupted after SQLite was fenced: finish it with "
                                     "`slipway cutover --resume` or undo it with `--abort`");
    }
    if ((pg_phase == "streaming" || pg_phase == "snapshotted") && cycle_ > 0) return MoveState::kDone;
    return Status(Code::kConflict, "the migration is in phase '" + pg_phase + "': nothing was cut over, so there is "
                                   "nothing to roll back");
  }

  Status StartApplier() override {
    ASSIGN_OR_RETURN(reader_, PgConn::Connect(c_.o.target_uri));
    RETURN_IF_ERROR(replicator::SetupSession(reader_, replicator::SessionRole::kApplier));
    ASSIGN_OR_RETURN(sink_, replicator::OpenReverseSinkDb(c_.o.source_path));
    ASSIGN_OR_RETURN(auto stored, replicator::ReadReversePosition(sink_, cycle_));
    if (stored) {
      pos_ = *stored;
    } else {
      ASSIGN_OR_RETURN(PgResult x, c_.pg.ExecParams("SELECT pg_snapshot_xmax($1::pg_snapshot)::text", {start_}));
      pos_ = replicator::Position{std::stoll(x.Str(0, 0)), start_};
    }
    applier_ = std::make_unique<replicator::ReverseApplier>(reader_, sink_, c_.plan, c_.tids, cycle_);
    return Status::Ok();
  }

  Status BeforeFreeze(CutoverReport* report) override {
    if (c_.o.verify != VerifyMode::kChanged) return Status::Ok();
    // Everything, once, while the app still writes to PostgreSQL: SQLite
    // holds exactly pos_ (nothing else writes it), so a key that differs only
    // because a transaction after pos_ changed it is pending, and is checked
    // again inside the freeze with every other key touched since.
    verified_ = pos_;
    VerifyOptions vo;
    vo.pending_keys = [this](PgConn& conn, const schema::TableMapping& t, const CompareColumns& cols) {
      return ReadPgChangedKeys(conn, cols, c_.tids.at(t.source), verified_.snapshot);
    };
    return VerifyBeforeFreeze(c_, applier_->plan(), std::move(vo), report);
  }

  Status VerifyBeforeAttempt(CutoverReport* report) override {
    if (c_.o.verify != VerifyMode::kChanged || verified_.snapshot.empty()) return Status::Ok();
    return VerifyTouchedSoFar(report);
  }

  // The keys PostgreSQL's changelog holds between verified_ (the full
  // verify's start, or the last check's position) and pos_, compared now,
  // while the app still writes, so that the freeze compares only the keys
  // touched after this. A few rounds, each over what the one before took.
  //
  // Why a comparison outside the freeze holds: the rollback holds the
  // applier's role and the file is fenced against the app, so between its
  // own rounds nothing writes SQLite, and the file holds, for every key
  // touched up to pos_, its row as of the read of the last round whose
  // window held it. PostgreSQL goes on changing while we compare, so its
  // rows are read in one REPEATABLE READ snapshot N (BeginRead, newer than
  // pos_), and a key's row in N differs from that only if a transaction
  // visible in N and not in pos_ changed it. Every such transaction recorded
  // the key in slipway.changelog in its own transaction, visible in N too:
  // those keys are skipped (skip_touched_after) and fall in the freeze's
  // window (pos_, drained]. A transaction still running at N shows neither
  // its rows nor its changelog rows in N: the key's row read is the old one,
  // and if it commits, its key is in the freeze's window. Bounded rounds
  // (Bound()) do not change this: a round cut short at b applies rows read
  // in its own later snapshot, but only for keys also touched after b, which
  // the next window holds again.
  Status VerifyTouchedSoFar(CutoverReport* report) {
    const auto t0 = std::chrono::steady_clock::now();
    const replicator::Position keys_from = verified_;
    for (int round = 0; round < 3; ++round) {
      ASSIGN_OR_RETURN(const int64_t left, ApplyRound());
      (void)left;
      if (verified_ == pos_) break;
      auto& source = applier_->source();
      ASSIGN_OR_RETURN(replicator::Position now, source.BeginRead());
      (void)now;  // no older than pos_: BeginRead takes a new snapshot
      auto diffs = VerifyTouchedInSqlite(source, sink_, applier_->plan(), c_.tids, verified_, pos_,
                                         /*skip_touched_after=*/true);
      source.EndRead();
      RETURN_IF_ERROR(diffs.status());
      if (!diffs->empty()) return TouchedMismatch("verification of the keys touched before the freeze", *diffs);
      verified_ = pos_;
    }
    if (!(verified_ == keys_from)) {
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      report->notes.push_back("keys touched up to position " + std::to_string(verified_.seq) +
                              " verified before the freeze in " + FormatDurationMs(ms));
    }
    return Status::Ok();
  }

  Result<int64_t> ApplyRound() override {
    replicator::RoundStats rs;
    ASSIGN_OR_RETURN(pos_, applier_->Round(pos_, &rs));
    // A round cut short left at least that much behind: counting it would
    // cost what is left, each round.
    if (rs.more) return replicator::ReverseApplier::kRoundChanges;
    ASSIGN_OR_RETURN(auto lag, applier_->source().Pending(pos_));
    return lag.changes;
  }

  Status Lock(int64_t budget_ms) override {
    std::string tables;
    for (const auto& tm : c_.plan.tables) {
      tables += (tables.empty() ? "" : ", ") + QuotePgIdent(c_.plan.options.pg_schema) + "." + QuotePgIdent(tm.target);
    }
    RETURN_IF_ERROR(c_.pg.Run("BEGIN"));
    locked_ = true;
    if (tables.empty()) return Status::Ok();
    // A table another session holds (DDL, VACUUM FULL) must not hold the
    // app's writers past the budget: give up the attempt instead.
    Status s = c_.pg.Run("SET LOCAL lock_timeout = '" + std::to_string(std::max<int64_t>(50, budget_ms / 2)) + "ms'");
    if (s.ok()) s = c_.pg.Run("LOCK TABLE " + tables + " IN EXCLUSIVE MODE");
    if (!s.ok()) {
      Unlock();
      return Status(Code::kRetryable, "could not lock the tables in PostgreSQL: " + s.message());
    }
    return Status::Ok();
  }

  void Unlock() override {
    if (locked_) (void)c_.pg.Run("ROLLBACK");
    locked_ = false;
  }

  std::vector<PgConn*> FreezeConnections() override { return {&c_.pg, &reader_}; }

  Result<int64_t> Drain() override {
    // Every writer of these tables has finished (the lock waited for them)
    // and none can start: a snapshot taken now holds every write there is.
    replicator::RoundStats rs;
    ASSIGN_OR_RETURN(pos_, applier_->Round(pos_, &rs, /*max_changes=*/0));
    return pos_.seq;
  }

  Result<std::vector<TouchedDifference>> VerifyFrozen() override {
    std::vector<TouchedDifference> diffs;
    if (c_.o.verify == VerifyMode::kFull) {
      return VerifyAllInFreeze(c_, /*pending_differs=*/false);
    }
    if (c_.o.verify == VerifyMode::kNone) return diffs;
    if (!verified_.snapshot.empty() && !(verified_ == pos_)) {
      // The keys touched since the last verified position (the full
      // verify's, or the last check before this attempt's), read in one
      // snapshot that holds every write there is (the tables are locked).
      auto& source = applier_->source();
      ASSIGN_OR_RETURN(replicator::Position now, source.BeginRead());
      auto touched = VerifyTouchedInSqlite(source, sink_, applier_->plan(), c_.tids, verified_, pos_);
      source.EndRead();
      (void)now;
      if (!touched.ok()) return touched.status();
      diffs = std::move(*touched);
    }
    return diffs;
  }

  // AUTOINCREMENT: sqlite_sequence kept at or above every id PostgreSQL
  // handed out, rolled-back and deleted ones included.
  Status SyncSequences() override {
    for (const auto& tm : c_.plan.tables) {
      if (!tm.autoincrement) continue;
      for (const auto& col : tm.columns) {
        if (!col.identity || col.skip) continue;
        const std::string qt = QuotePgIdent(c_.plan.options.pg_schema) + "." + QuotePgIdent(tm.target);
        ASSIGN_OR_RETURN(PgResult seq, c_.pg.ExecParams("SELECT pg_get_serial_sequence($1, $2)", {qt, col.target}));
        if (seq.IsNull(0, 0)) continue;
        // The name comes back quoted by the server.
        ASSIGN_OR_RETURN(PgResult v, c_.pg.Exec("SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM " +
                                                seq.Str(0, 0)));
        const int64_t top = std::stoll(v.Str(0, 0));
        ASSIGN_OR_RETURN(Stmt up, sink_.Prepare("UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1 AND seq < ?2"));
        up.Bind(1, std::string_view(tm.source)).Bind(2, top);
        RETURN_IF_ERROR(up.Run());
        ASSIGN_OR_RETURN(Stmt ins, sink_.Prepare("INSERT INTO sqlite_sequence (name, seq) SELECT ?1, ?2 WHERE NOT EXISTS "
                                                 "(SELECT 1 FROM sqlite_sequence WHERE name = ?1)"));
        ins.Bind(1, std::string_view(tm.source)).Bind(2, top);
        RETURN_IF_ERROR(ins.Run());
      }
    }
    return Status::Ok();
  }

  Status Fence() override {
    // Created, not replaced: CREATE TRIGGER needs no lock the app's readers
    // wait for, where DROP TRIGGER would.
    RETURN_IF_ERROR(replicator::InstallGuardLocked(c_.pg, c_.plan));
    RETURN_IF_ERROR(c_.pg.Run("UPDATE slipway.migration SET phase = 'rolling_back', updated_at = now()"));
    SLIPWAY_FAILPOINT("rollback.before_fence_commit");
    RETURN_IF_ERROR(c_.pg.Run("COMMIT"));
    locked_ = false;
    return Status::Ok();
  }

  Status Settle() override {
    // PostgreSQL refuses every write now; a resume applies what an
    // interrupted run had not.
    for (int i = 0; i < 100; ++i) {
      ASSIGN_OR_RETURN(int64_t left, ApplyRound());
      if (left == 0) break;
    }
    return SyncSequences();
  }

  Result<std::string> AppUrl() override {
    if (!c_.o.app_url.empty()) return c_.o.app_url;
    auto v = c_.db.QueryText("SELECT value FROM _slipway_meta WHERE key = 'app_config_sqlite'");
    if (v.ok() && v->has_value()) return **v;
    return Status(Code::kInvalidArgument, "the config value the app had on SQLite is not recorded: pass --app-url");
  }

  Status Open() override {
    replicator::SchemaStamp before, after;
    RETURN_IF_ERROR(RemoveFence(sink_, &before, &after));
    SLIPWAY_FAILPOINT("rollback.after_unfence");
    // Forward capture never stopped and the SQLite changelog did not move
    // while the app was on PostgreSQL: the forward stream goes on from the
    // cutover's position. Reverse capture stays armed behind the guard (it
    // cannot fire) until the next cutover re-arms it.
    RETURN_IF_ERROR(c_.pg.Run("BEGIN"));
    Status s = replicator::FollowStamp(c_.pg, before, after);
    if (s.ok()) s = c_.pg.Run("DELETE FROM slipway.changelog");
    if (s.ok()) {
      s = c_.pg.Run("UPDATE slipway.migration SET phase = 'streaming', handover_requested = false, cutover_seq = NULL, "
                    "updated_at = now()");
    }
    if (s.ok()) s = c_.pg.Run("COMMIT");
    if (!s.ok()) (void)c_.pg.Run("ROLLBACK");
    return s;
  }

  Status Abort() override {
    RETURN_IF_ERROR(c_.pg.Run("BEGIN"));
    Status s = replicator::LiftGuard(c_.pg, c_.plan);
    if (s.ok()) s = c_.pg.Run("UPDATE slipway.migration SET phase = 'cut_over', handover_requested = false, updated_at = now()");
    if (s.ok()) s = c_.pg.Run("COMMIT");
    if (!s.ok()) {
      (void)c_.pg.Run("ROLLBACK");
      return s;
    }
    // The config goes back to PostgreSQL if the rollback had flipped it.
    if (!c_.o.flip_file.empty()) {
      auto now = ReadConfigValue(c_.o.flip_file, c_.o.flip_key);
      auto sqlite_value = AppUrl();
      if (now.ok() && sqlite_value.ok() && *now == *sqlite_value) RETURN_IF_ERROR(RestoreConfig(c_.o.flip_file));
    }
    return Status::Ok();
  }

 private:
  MoveContext c_;
  PgConn reader_;  // the reverse source's reads
  Db sink_;        // the SQLite file, triggers off
  std::unique_ptr<replicator::ReverseApplier> applier_;
  replicator::Position pos_;
  // Every key touched up to here was found equal: the full verify's start,
  // then the position of the last check before a freeze attempt.
  replicator::Position verified_;
  int cycle_ = 0;
  std::string start_;
  bool locked_ = false;
};

}  // namespace

std::unique_ptr<Move> MakeReverseMove(MoveContext ctx) { return std::make_unique<ReverseMove>(ctx); }

}  // namespace slipway::cutover
