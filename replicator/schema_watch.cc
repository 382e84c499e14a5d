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

Status SchemaWatch::Start(Db& db, const schema::SourceSchema& now) {
  ASSIGN_OR_RETURN(auto v, db.QueryInt("PRAGMA schema_version"));
  version_ = v.value_or(0);
  pending_ = DiffSchema(*plan_, now);
  if (!pending_.fatal.empty()) {
    return Status(Code::kSchemaChanged, "the source schema changed: " + pending_.fatal[0] +
                                            "; the stream cannot carry this change (re-plan and snapshot again)");
  }
  return pending() ? Status(Code::kSchemaChanged, "schema additions to carry over") : Status::Ok();
}

Status SchemaWatch::Check(Db& db) {
  ASSIGN_OR_RETURN(auto v, db.QueryInt("PRAGMA schema_version"));
  if (v.value_or(0) == version_) return Status::Ok();
  ASSIGN_OR_RETURN(schema::SourceSchema now, schema::Introspect(db));
  version_ = v.value_or(0);
  pending_ = DiffSchema(*plan_, now);
  if (!pending_.fatal.empty()) {
    return Status(Code::kSchemaChanged, "the source schema changed: " + pending_.fatal[0] +
                                            "; the stream stops (this change cannot be carried over online)");
  }
  if (!pending()) {
    Logger("stream")->info("schema version moved (index/trigger/view change); nothing to carry over");
    return Status::Ok();
  }
  return Status(Code::kSchemaChanged, "schema additions to carry over");
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
  // Capture for new tables (and refreshed triggers), committed before the
  // rows are read, so no change to them is missed.
  RETURN_IF_ERROR(InstallGuard(pg, *plan_));
  sqlite3_busy_timeout(db.get(), 5000);
  auto capture = InstallCapture(db, now, *plan_);
  sqlite3_busy_timeout(db.get(), 20);
  if (!capture.ok()) return capture.status();
  new_tids = capture->tids;
  for (const auto& table : pending_.added_tables) {
    RETURN_IF_ERROR(pg.ExecParams("INSERT INTO slipway.tables (source_table, target_table, tid, state, start_seq, started_at, "
                                  "finished_at) VALUES ($1, $2, $3, 'done', 0, now(), now()) ON CONFLICT DO NOTHING",
                                  {table, plan_->FindTable(table)->target, std::to_string(new_tids.at(table))})
                        .status());
  }
  for (const auto& t : resync) {
    RETURN_IF_ERROR(pg.ExecParams("UPDATE slipway.tables SET resync = true WHERE source_table = $1", {t}).status());
  }
  plan_->fingerprint = now.Fingerprint();
  RETURN_IF_ERROR(pg.ExecParams("UPDATE slipway.migration SET plan = $1::jsonb, source_fingerprint = $2",
                                {schema::PlanToJson(*plan_).dump(), plan_->fingerprint})
                      .status());
  RETURN_IF_ERROR(pg.Run("COMMIT"));
  abort.active = false;
  pending_ = SchemaDiff{};
  *this->plan_ = std::move(next);
  *tids = new_tids;
  std::set<int> out;
  for (const auto& t : resync) out.insert(tids->at(t));
  return out;
}

}  // namespace slipway::replicator
