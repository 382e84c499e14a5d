#include "replicator/snapshot.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "common/failpoint.h"
#include "common/log.h"
#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/capture.h"
#include "replicator/guard.h"
#include "replicator/pg_state.h"
#include "replicator/session.h"
#include "replicator/source_history.h"
#include "replicator/step_progress.h"
#include "replicator/scheduler.h"
#include "replicator/table_copy.h"

namespace slipway::replicator {
namespace {

Status CheckJournalMode(Db& db, bool set_wal) {
  ASSIGN_OR_RETURN(auto mode, db.QueryText("PRAGMA journal_mode"));
  if (mode.value_or("") == "wal") return Status::Ok();
  if (!set_wal) {
    return Status(Code::kInvalidArgument,
                  "the source uses journal mode " + mode.value_or("?") +
                      "; a live copy needs WAL so the app's writes never wait for it: run "
                      "`sqlite3 FILE 'PRAGMA journal_mode=WAL'` while the app is stopped, or pass --set-wal");
  }
  ASSIGN_OR_RETURN(auto now, db.QueryText("PRAGMA journal_mode=WAL"));
  if (now.value_or("") != "wal") {
    return Status(Code::kSourceBusy, "could not switch the source to WAL: another connection has it open");
  }
  Logger("snapshot")->warn("switched the source database to WAL journal mode");
  return Status::Ok();
}

Result<bool> TargetTableExists(PgConn& pg, const schema::Plan& plan, const schema::TableMapping& tm) {
  ASSIGN_OR_RETURN(PgResult r, pg.ExecParams("SELECT to_regclass($1) IS NOT NULL",
                                             {QuotePgIdent(plan.options.pg_schema) + "." + QuotePgIdent(tm.target)}));
  return r.Get(0, 0) == "t";
}

}  // namespace

Status CheckTargetTablesAbsent(PgConn& pg, const schema::Plan& plan) {
  for (const auto& tm : plan.tables) {
    ASSIGN_OR_RETURN(bool exists, TargetTableExists(pg, plan, tm));
    if (exists) {
      return Status(Code::kConflict, "target table " + plan.options.pg_schema + "." + tm.target +
                                         " already exists and slipway did not create it; drop it, or use "
                                         "--target-schema existing to load into the app's own tables");
    }
  }
  return Status::Ok();
}

namespace {

// Creates the migration record, the table records and the target tables in
// one transaction: a crash leaves all of it or none.
Status SetUpTarget(PgConn& pg, const SnapshotOptions& o, const schema::Plan& plan, const CaptureInfo& capture) {
  RETURN_IF_ERROR(pg.Run("BEGIN"));
  RollbackGuard abort{pg};
  RETURN_IF_ERROR(EnsureStateSchema(pg));
  RETURN_IF_ERROR(pg.Run("CREATE SCHEMA IF NOT EXISTS " + QuotePgIdent(plan.options.pg_schema)));
  const bool existing = plan.options.target_schema == schema::TargetSchemaMode::kExisting;
  if (!existing) RETURN_IF_ERROR(CheckTargetTablesAbsent(pg, plan));
  for (const auto& tm : plan.tables) {
    const std::string qname = plan.options.pg_schema + "." + tm.target;
    if (existing) {
      ASSIGN_OR_RETURN(bool exists, TargetTableExists(pg, plan, tm));
      if (!exists) return Status(Code::kConflict, "target table " + qname + " does not exist");
    }
    if (existing) {
      ASSIGN_OR_RETURN(PgResult n, pg.Exec("SELECT EXISTS (SELECT 1 FROM " + QuotePgIdent(plan.options.pg_schema) + "." +
                                           QuotePgIdent(tm.target) + ")"));
      if (n.Get(0, 0) == "t") {
        if (!o.truncate_existing) {
          return Status(Code::kConflict, "target table " + qname +
                                             " already holds rows slipway did not put there; empty it or pass "
                                             "--truncate-existing");
        }
        RETURN_IF_ERROR(pg.Run("TRUNCATE " + QuotePgIdent(plan.options.pg_schema) + "." + QuotePgIdent(tm.target)));
      }
    }
    TableState ts;
    ts.source_table = tm.source;
    ts.target_table = tm.target;
    ts.tid = capture.tids.at(tm.source);
    ts.state = "pending";
    RETURN_IF_ERROR(InsertTableState(pg, ts));
  }
  if (!existing) {
    for (const auto& d : plan.ddl) {
      if (d.phase != schema::DdlPhase::kPreData || d.dropped) continue;
      RETURN_IF_ERROR(pg.Run(d.sql).Annotate("create " + d.table));
    }
  }
  // From here on the target refuses writes from anyone but slipway.
  RETURN_IF_ERROR(InstallGuard(pg, plan));
  MigrationRow m;
  m.migration_id = capture.migration_id;
  m.source_path = o.source_path;
  m.source_fingerprint = plan.fingerprint;
  m.plan = schema::PlanToJson(plan);
  m.phase = "snapshot";
  RETURN_IF_ERROR(InsertMigration(pg, m));
  // The rowids copied are the ones of this schema stamp; a VACUUM after it
  // is found by the stream (replicator/schema_stamp.h).
  RETURN_IF_ERROR(StoreStamp(pg, capture.stamp));
  RETURN_IF_ERROR(
      pg.ExecParams("UPDATE slipway.migration SET history = NULLIF($1, '')", {capture.history}).status());
  SLIPWAY_FAILPOINT("snapshot.before_setup_commit");
  RETURN_IF_ERROR(pg.Run("COMMIT"));
  abort.active = false;
  return Status::Ok();
}

}  // namespace

Status ValidateForeignKeys(PgConn& pg, const schema::Plan& plan, std::vector<std::string>* warnings) {
  for (const auto& d : plan.ddl) {
    if (d.dropped || d.kind != "foreign key validation") continue;
    RETURN_IF_ERROR(RunPostData(pg, plan.options.pg_schema, d, warnings));
  }
  return Status::Ok();
}

Result<SnapshotResult> RunSnapshot(const SnapshotOptions& o, const schema::SourceSchema& schema,
                                   const schema::Plan& plan) {
  auto log = Logger("snapshot");
  const auto t0 = std::chrono::steady_clock::now();
  SnapshotResult result;

  ASSIGN_OR_RETURN(Db rw, Db::Open(o.source_path, Db::Mode::kReadWrite));
  RETURN_IF_ERROR(CheckJournalMode(rw, o.set_wal));
  ASSIGN_OR_RETURN(PgConn pg, PgConn::Connect(o.target_uri));
  RETURN_IF_ERROR(SetupSession(pg, SessionRole::kLoader));
  ASSIGN_OR_RETURN(auto migration, ReadMigration(pg));

  auto existing_capture = ReadCapture(rw);
  if (migration) {
    if (!existing_capture.ok() || existing_capture->migration_id != migration->migration_id) {
      return Status(Code::kConflict,
                    "the target holds slipway state of migration " + migration->migration_id + " (from " +
                        migration->source_path +
                        "), which is not this source's; run `slipway cleanup --target` on it first");
    }
    // Resuming: the chunks already copied came from the file the target follows.
    RETURN_IF_ERROR(CheckSourceHistory(rw, pg, o.source_path));
  }
  // Capture first: from here on every app write is in the changelog.
  ASSIGN_OR_RETURN(CaptureInfo capture, InstallCapture(rw, schema, plan, o.capture));
  result.migration_id = capture.migration_id;
  result.capture = capture.mode;
  // Refreshing capture moved the schema cookie.
  if (migration) RETURN_IF_ERROR(FollowStamp(pg, capture.stamp_before, capture.stamp));
  log->info("capture by {}", CaptureModeName(capture.mode));
  SLIPWAY_FAILPOINT("snapshot.after_capture");
  if (!migration) {
    RETURN_IF_ERROR(SetUpTarget(pg, o, plan, capture));
    log->info("migration={} tables={} target set up", capture.migration_id, plan.tables.size());
  }
  SLIPWAY_FAILPOINT("snapshot.after_setup");

  ASSIGN_OR_RETURN(auto states, ReadTableStates(pg));
  Progress progress(o.progress);
  Scheduler sched(o, plan, &progress);
  for (const auto& tm : plan.tables) {
    auto it = states.find(tm.source);
    if (it == states.end()) return Status(Code::kInternal, "no slipway state for table " + tm.source);
    RETURN_IF_ERROR(sched.AddTable(pg, tm, it->second));
  }
  result.tables_skipped = sched.tables_done_before();
  progress.Start();
  // Until the foreign keys are in: on an early return the writer's
  // destructor records the step as failed.
  StepProgressWriter published(o.target_uri, "snapshot", [&progress] { return progress.Figures(); });
  published.Start();
  Status s = sched.Run();
  progress.Stop();
  RETURN_IF_ERROR(s);
  result.rows = sched.rows_copied();
  result.tables_copied = static_cast<int>(plan.tables.size()) - result.tables_skipped;
  result.warnings = sched.warnings();

  SLIPWAY_FAILPOINT("snapshot.before_foreign_keys");
  RETURN_IF_ERROR(sched.RunForeignKeys(pg));
  for (const auto& w : sched.warnings()) log->warn("{}", w);
  result.warnings = sched.warnings();
  published.Stop(true);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace slipway::replicator
