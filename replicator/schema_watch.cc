#include "replicator/schema_watch.h"

#include <algorithm>

#include "common/log.h"
#include "replicator/capture.h"
#include "replicator/guard.h"
#include "schema/audit.h"
#include "schema/identifiers.h"
#include "schema/introspect.h"

namespace slipway::replicator {

SchemaDiff DiffSchema(const schema::Plan& plan, const schema::SourceSchema& now) {
  SchemaDiff d;
  for (const auto& tm : plan.tables) {
    const schema::Table* t = now.FindTable(tm.source);
    if (t == nullptr) {
      d.fatal.push_back("table " + tm.source + " was dropped or renamed");
      continue;
    }
    auto it = plan.source_columns.find(tm.source);
    if (it == plan.source_columns.end()) continue;
    const auto& known = it->second;
    for (const auto& [name, decl] : known) {
      const schema::Column* c = t->FindColumn(name);
      if (c == nullptr) {
        d.fatal.push_back("column " + tm.source + "." + name + " was dropped or renamed");
      } else if (c->declared_type != decl) {
        d.fatal.push_back("column " + tm.source + "." + name + " changed type from '" + decl + "' to '" +
                          c->declared_type + "'");
      }
    }
    for (const auto& c : t->columns) {
      bool seen = std::any_of(known.begin(), known.end(), [&](const auto& p) { return p.first == c.name; });
      if (!seen) d.added_columns.emplace_back(tm.source, c.name);
    }
  }
  for (const auto& t : now.tables) {
    if (t.kind != schema::TableKind::kTable || t.name.rfind("_slipway", 0) == 0) continue;
    if (plan.FindTable(t.name) != nullptr || !schema::Selected(t.name, plan.options)) continue;
    // Tables the plan left out on purpose stay out.
    bool left_out = false;
    for (const auto& n : plan.notes) left_out = left_out || (n.table == t.name && n.column.empty());
    if (plan.source_columns.count(t.name) == 0 && !left_out) d.added_tables.push_back(t.name);
  }
  return d;
}

std::string SchemaDiff::Describe() const {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
  for (const auto& f : fatal) add(f);
  for (const auto& [table, column] : added_columns) add("new column " + table + "." + column);
  for (const auto& t : added_tables) add("new table " + t);
  return out;
}

namespace {

// Nothing of a change is carried over when any part of it cannot be: the
// target keeps the schema it has.
Status Refuse(const SchemaDiff& d, const std::string& then) {
  return Status(Code::kSchemaChanged, "the source schema changed: " + d.Describe() + "; " + then +
                                          " (nothing of this change was applied to the target)");
}

}  // namespace

Status SchemaWatch::Start(Db& db, PgConn& pg) {
  // The stamp and the schema it stands for are read in one transaction: a
  // schema read earlier (when the command started) may predate a change the
  // stamp already holds, and that change would then never be carried over.
  RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto stamp = ReadSchemaStamp(db);
  Result<schema::SourceSchema> fresh = stamp.ok() ? schema::Introspect(db) : Result<schema::SourceSchema>(stamp.status());
  (void)db.Exec("COMMIT");
  RETURN_IF_ERROR(stamp.status());
  RETURN_IF_ERROR(fresh.status());
  schema::SourceSchema now = std::move(*fresh);
  now.path = path_;
  stamp_ = *stamp;
  ASSIGN_OR_RETURN(auto stored, ReadStoredStamp(pg));
  renumbered_ = false;
  if (stored) {
    applied_ = *stored;
    renumbered_ = MayHaveRenumbered(applied_, stamp_);
    if (renumbered_) {
      ASSIGN_OR_RETURN(bool refresh, IsCaptureRefresh(db, applied_, stamp_));
      renumbered_ = !refresh;
    }
  } else {
    applied_ = stamp_;  // a migration from before stamps were kept
  }
  stamp_moved_ = !stored || !(applied_ == stamp_);
  pending_ = DiffSchema(*plan_, now);
  if (!pending_.fatal.empty()) {
    return Refuse(pending_, "the stream cannot carry this change (re-plan and snapshot again)");
  }
  return pending() ? Status(Code::kSchemaChanged, "schema change to carry over") : Status::Ok();
}

Status SchemaWatch::Check(Db& db) {
  ASSIGN_OR_RETURN(auto v, db.QueryInt("PRAGMA schema_version"));
  if (v.value_or(0) == stamp_.version) return Status::Ok();
  ASSIGN_OR_RETURN(SchemaStamp now_stamp, ReadSchemaStamp(db));
  const bool text_changed = now_stamp.hash != stamp_.hash;
  if (!renumbered_ && MayHaveRenumbered(stamp_, now_stamp)) {
    ASSIGN_OR_RETURN(bool refresh, IsCaptureRefresh(db, stamp_, now_stamp));
    renumbered_ = !refresh;
  }
  stamp_ = now_stamp;
  stamp_moved_ = true;
  if (text_changed) {
    ASSIGN_OR_RETURN(schema::SourceSchema now, schema::Introspect(db));
    pending_ = DiffSchema(*plan_, now);
  }
  if (!pending_.fatal.empty()) {
    return Refuse(pending_, "the stream stops (this change cannot be carried over online)");
  }
  if (pending_.added_columns.empty() && pending_.added_tables.empty() && !renumbered_) {
    Logger("stream")->info("schema version moved (index/trigger/view change); nothing to carry over");
  }
  return Status(Code::kSchemaChanged, "schema change to carry over");
}

Result<std::set<int>> SchemaWatch::CarryOver(Db& db, PgConn& pg, std::map<std::string, int>* tids) {
  auto log = Logger("stream");
  // Work on a copy: a failure (e.g. the app holds the write lock) leaves the
  // plan as it was, and the carry-over is tried again.
  schema::Plan next = *plan_;
  schema::Plan* plan_ = &next;
  std::map<std::string, int> new_tids = *tids;
  ASSIGN_OR_RETURN(schema::SourceSchema now, schema::Introspect(db));
  now.path = path_;
  std::set<std::string> resync;
  const std::string qschema = QuotePgIdent(plan_->options.pg_schema);
  const bool additions = !pending_.added_columns.empty() || !pending_.added_tables.empty();
  SchemaStamp new_stamp = stamp_;
  RETURN_IF_ERROR(pg.Run("BEGIN"));
  RollbackGuard abort{pg};
  // New columns: mapped from the data, added to the target table.
  for (const auto& [table, column] : pending_.added_columns) {
    const schema::Table* t = now.FindTable(table);
    auto* tm = const_cast<schema::TableMapping*>(plan_->FindTable(table));
    if (t == nullptr || tm == nullptr) continue;
    ASSIGN_OR_RETURN(schema::TableAudit audit, schema::AuditTable(db, *t));
    for (size_t i = 0; i < t->columns.size(); ++i) {
      if (t->columns[i].name != column) continue;
      std::vector<schema::Note> notes;
      schema::ColumnMapping cm = schema::MapColumn(*t, t->columns[i], audit.columns[i], plan_->options.profile, &notes);
      for (const auto& n : notes) {
        if (n.severity == schema::Severity::kBlocking) {
          return Status(Code::kBlocked, "new column " + table + "." + column + ": " + n.message);
        }
      }
      cm.target = schema::PgName(column, plan_->options.names);
      cm.not_null = false;  // existing target rows get their values in the resync
      RETURN_IF_ERROR(pg.Run("ALTER TABLE " + qschema + "." + QuotePgIdent(tm->target) + " ADD COLUMN " +
                             QuotePgIdent(cm.target) + " " + cm.type.Sql()));
      tm->columns.push_back(cm);
      plan_->source_columns[table].emplace_back(column, t->columns[i].declared_type);
      log->info("carried over new column {}.{} as {} {}", table, column, cm.target, cm.type.Sql());
    }
    resync.insert(table);
  }
  // New tables: planned alone, created with their key, captured, copied.
  for (const auto& table : pending_.added_tables) {
    schema::MapOptions only = plan_->options;
    only.include = {table};
    only.exclude.clear();
    ASSIGN_OR_RETURN(schema::Plan mini, schema::BuildPlan(db, now, only, nullptr, nullptr));
    if (mini.Blocked() || mini.tables.empty()) {
      return Status(Code::kBlocked, "new table " + table + " cannot be carried over: plan it and snapshot again");
    }
    for (const auto& d : mini.ddl) {
      if (d.dropped || d.kind == "foreign key" || d.kind == "foreign key validation") continue;
      if (d.phase == schema::DdlPhase::kPreData || d.kind == "primary key") RETURN_IF_ERROR(pg.Run(d.sql));
    }
    plan_->tables.push_back(mini.tables[0]);
    plan_->source_columns[table] = mini.source_columns[table];
    for (const auto& d : mini.ddl) {
      if (d.phase == schema::DdlPhase::kPostData && d.kind != "primary key" && d.kind != "foreign key" &&
          d.kind != "foreign key validation") {
        plan_->ddl.push_back(d);
        auto r = pg.Exec(d.sql);  // indexes on the empty table: cheap now
        if (!r.ok()) log->warn("new table {}: {} skipped: {}", table, d.kind, r.status().message());
      }
    }
    resync.insert(table);
    log->info("carried over new table {}", table);
  }
  if (additions) {
    // Capture for new tables (and refreshed triggers), committed before the
    // rows are read, so no change to them is missed.
    RETURN_IF_ERROR(InstallGuard(pg, *plan_));
    sqlite3_busy_timeout(db.get(), 5000);
    auto capture = InstallCapture(db, now, *plan_);
    sqlite3_busy_timeout(db.get(), 20);
    if (!capture.ok()) return capture.status();
    if (capture->stamp_before.version != stamp_.version) {
      // The app changed the schema again (or ran VACUUM) after it was read:
      // the target stays as it was, and the next round looks again.
      return Status(Code::kRetryable, "the source schema changed again while it was carried over");
    }
    new_tids = capture->tids;
    new_stamp = capture->stamp;
  }
  for (const auto& table : pending_.added_tables) {
    RETURN_IF_ERROR(pg.ExecParams("INSERT INTO slipway.tables (source_table, target_table, tid, state, start_seq, started_at, "
                                  "finished_at) VALUES ($1, $2, $3, 'done', 0, now(), now()) ON CONFLICT DO NOTHING",
                                  {table, plan_->FindTable(table)->target, std::to_string(new_tids.at(table))})
                        .status());
  }
  for (const auto& t : resync) {
    RETURN_IF_ERROR(pg.ExecParams("UPDATE slipway.tables SET resync = true WHERE source_table = $1", {t}).status());
  }
  if (renumbered_) RETURN_IF_ERROR(MarkRenumbered(pg, RowidKeyedTables(*plan_, new_tids), applied_, new_stamp));
  if (additions) {
    plan_->fingerprint = now.Fingerprint();
    RETURN_IF_ERROR(pg.ExecParams("UPDATE slipway.migration SET plan = $1::jsonb, source_fingerprint = $2",
                                  {schema::PlanToJson(*plan_).dump(), plan_->fingerprint})
                        .status());
  }
  RETURN_IF_ERROR(StoreStamp(pg, new_stamp));
  // Every copy still owed, this change's and earlier ones' alike: the
  // applier is made anew with this set.
  ASSIGN_OR_RETURN(PgResult owed, pg.Exec("SELECT tid FROM slipway.tables WHERE resync"));
  RETURN_IF_ERROR(pg.Run("COMMIT"));
  abort.active = false;
  pending_ = SchemaDiff{};
  renumbered_ = false;
  stamp_moved_ = false;
  stamp_ = new_stamp;
  applied_ = new_stamp;
  *this->plan_ = std::move(next);
  *tids = new_tids;
  std::set<int> out;
  for (int i = 0; i < owed.Rows(); ++i) out.insert(std::stoi(owed.Str(i, 0)));
  return out;
}

}  // namespace slipway::replicator
