#include "schema/plan.h"

#include <algorithm>

#include "schema/defaults.h"
#include "schema/fts.h"
#include "schema/identifiers.h"

namespace slipway::schema {
namespace {

Note TableNote(Severity sev, const std::string& table, std::string msg) {
  Note n;
  n.severity = sev;
  n.table = table;
  n.message = std::move(msg);
  return n;
}

bool IsSlipwayTable(const std::string& name) { return name.rfind("_slipway", 0) == 0; }

// Rows that break a foreign key (SQLite does not enforce them unless the app
// turned them on): counted per table and constraint, with example rowids.
Result<std::map<int, Finding>> ForeignKeyViolations(Db& db, const Table& t) {
  std::map<int, Finding> out;
  if (t.foreign_keys.empty()) return out;
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT rowid, fkid FROM pragma_foreign_key_check(?)"));
  st.Bind(1, std::string_view(t.name));
  while (true) {
    auto row = st.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::string key = st.IsNull(0) ? "(no rowid)" : "rowid=" + std::to_string(st.Int(0));
    out[static_cast<int>(st.Int(1))].Add(key, "");
  }
  return out;
}

}  // namespace

bool Plan::Blocked() const { return Count(Severity::kBlocking) > 0; }

int64_t Plan::Count(Severity s) const {
  return std::count_if(notes.begin(), notes.end(), [&](const Note& n) { return n.severity == s; });
}

const TableMapping* Plan::FindTable(const std::string& source_name) const {
  for (const auto& t : tables) {
    if (t.source == source_name) return &t;
  }
  return nullptr;
}

Result<Plan> BuildPlan(Db& db, const SourceSchema& schema, const MapOptions& options, const MappingFile* overrides,
                       const AuditProgress& progress) {
  Plan plan;
  plan.source_path = schema.path;
  plan.fingerprint = schema.Fingerprint();
  plan.journal_mode = schema.journal_mode;
  plan.options = options;
  NameScope relations;  // tables and indexes share a namespace in PostgreSQL

  if (schema.journal_mode != "wal") {
    plan.notes.push_back(TableNote(Severity::kWarning, "",
                                   "journal mode is " + schema.journal_mode +
                                       ": snapshot and stream need WAL (PRAGMA journal_mode=WAL, or snapshot --set-wal)"));
  }
  for (const auto& v : schema.views) {
    plan.notes.push_back(TableNote(Severity::kInfo, v.name, "view not migrated (recreate it in PostgreSQL if the app uses it)"));
  }
  for (const auto& tr : schema.triggers) {
    if (IsSlipwayTable(tr.name)) continue;
    plan.notes.push_back(TableNote(Severity::kWarning, tr.table, "trigger " + tr.name +
                                                                     " not migrated: its logic must be re-created in PostgreSQL"));
  }

  for (const auto& t : schema.tables) {
    if (IsSlipwayTable(t.name)) continue;
    if (t.kind == TableKind::kInternal) continue;
    if (!Selected(t.name, options)) continue;
    if (t.kind == TableKind::kVirtual) {
      plan.notes.push_back(TableNote(Severity::kWarning, t.name,
                                     "virtual table (" + t.virtual_module + ") not migrated; use a PostgreSQL equivalent"));
      continue;
    }
    if (t.kind == TableKind::kShadow) {
      plan.notes.push_back(TableNote(Severity::kInfo, t.name, "shadow table of virtual table " + t.shadow_of + ": not migrated"));
      continue;
    }
    const TableOverride* to = nullptr;
    if (overrides != nullptr) {
      auto it = overrides->tables.find(t.name);
      if (it != overrides->tables.end()) to = &it->second;
    }
    if (to != nullptr && to->skip) {
      plan.notes.push_back(TableNote(Severity::kInfo, t.name, "skipped by the mapping file"));
      continue;
    }

    ASSIGN_OR_RETURN(TableAudit audit, AuditTable(db, t));
    if (progress) progress(audit);

    TableMapping tm;
    tm.source = t.name;
    tm.target = to != nullptr && to->target ? *to->target : PgName(t.name, options.names);
    tm.without_rowid = t.without_rowid;
    tm.autoincrement = t.autoincrement;
    tm.sqlite_sequence = t.sqlite_sequence;
    tm.rows = audit.rows;
    std::string other;
    if (!relations.Claim(tm.target, "table " + t.name, &other)) {
      plan.notes.push_back(TableNote(Severity::kBlocking, t.name,
                                     "PostgreSQL name \"" + tm.target + "\" collides with " + other +
                                         " (use --keep-names or a mapping file)"));
    }
    if (options.names == NameStyle::kLower && IsPgReserved(tm.target)) {
      plan.notes.push_back(TableNote(Severity::kInfo, t.name, "\"" + tm.target +
                                                                  "\" is reserved in PostgreSQL: an app's SQL must quote it"));
    }

    NameScope column_names;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const Column& c = t.columns[i];
      if (c.hidden) continue;
      ColumnMapping cm = MapColumn(t, c, audit.columns[i], options.profile, &plan.notes);
      if (c.pk_position > 0 && audit.columns[i].nulls > 0) {
        // SQLite lets a non-INTEGER primary key of a rowid table hold NULLs.
        Note n = TableNote(Severity::kBlocking, t.name,
                           "primary key column holds " + std::to_string(audit.columns[i].nulls) +
                               " NULLs (SQLite allows that outside INTEGER PRIMARY KEY); a PostgreSQL key cannot: "
                               "give those rows keys, or skip the table in a mapping file");
        n.column = c.name;
        n.count = audit.columns[i].nulls;
        plan.notes.push_back(n);
      }
      cm.target = PgName(c.name, options.names);
      const ColumnOverride* co = nullptr;
      if (to != nullptr) {
        auto it = to->columns.find(c.name);
        if (it != to->columns.end()) co = &it->second;
      }
      if (co != nullptr) {
        if (co->target) cm.target = *co->target;
        if (co->skip) {
          cm.skip = true;
          if (c.pk_position > 0) {
            plan.notes.push_back(TableNote(Severity::kBlocking, t.name, "primary key column " + c.name + " cannot be skipped"));
          }
        }
        if (co->type) {
          auto type = PgType::Parse(*co->type);
          if (!type.ok()) return type.status().Annotate("mapping file, table " + t.name + " column " + c.name);
          bool nn = cm.not_null;
          cm = AdaptToType(cm, *type, audit.columns[i]);
          cm.not_null = nn;
          cm.reason = "set by the mapping file";
          for (auto& n : FitCheck(t.name, cm, audit.columns[i])) plan.notes.push_back(std::move(n));
          // Drop the automatic notes about this column's old type.
          plan.notes.erase(std::remove_if(plan.notes.begin(), plan.notes.end(),
                                          [&](const Note& n) {
                                            return n.table == t.name && n.column == c.name &&
                                                   (n.severity == Severity::kWidened ||
                                                    (n.severity == Severity::kBlocking && n.message.find("fit") == std::string::npos));
                                          }),
                           plan.notes.end());
        }
        cm.user_override = true;
      }
      for (auto& n : KindLossNotes(t.name, cm, audit.columns[i])) plan.notes.push_back(std::move(n));
      if (cm.skip) {
        tm.columns.push_back(std::move(cm));
        continue;
      }
      if (!column_names.Claim(cm.target, c.name, &other)) {
        Note n = TableNote(Severity::kBlocking, t.name, "columns \"" + other + "\" and \"" + c.name +
                                                           "\" both become \"" + cm.target +
                                                           "\" (use --keep-names or a mapping file)");
        n.column = c.name;
        plan.notes.push_back(n);
      }
      if (t.rowid_alias == c.name) cm.identity = true;
      if (c.default_sql && !c.default_sql->empty()) {
        DefaultTranslation d = TranslateDefault(*c.default_sql, cm);
        cm.default_sql = d.pg_sql;
        if (!d.dropped_reason.empty()) {
          Note n = TableNote(Severity::kWarning, t.name, "DEFAULT dropped: " + d.dropped_reason);
          n.column = c.name;
          plan.notes.push_back(n);
        }
      }
      tm.columns.push_back(std::move(cm));
    }

    if (!t.primary_key.empty()) {
      tm.key_kind = KeyKind::kPrimaryKey;
      tm.key_source = t.primary_key;
      for (const auto& k : t.primary_key) {
        const ColumnMapping* cm = tm.FindSource(k);
        tm.key_target.push_back(cm != nullptr ? cm->target : k);
      }
    } else {
      tm.key_kind = KeyKind::kRowid;
      tm.key_target = {kRowidColumn};
      if (column_names.Taken(kRowidColumn)) {
        plan.notes.push_back(TableNote(Severity::kBlocking, t.name, std::string("has a column named ") + kRowidColumn));
      }
      plan.notes.push_back(TableNote(Severity::kInfo, t.name,
                                     std::string("no primary key: rows are keyed by SQLite's rowid, kept in column ") +
                                         kRowidColumn));
    }

    if (HoldsTextOrBlob(tm)) {
      plan.notes.push_back(TableNote(
          Severity::kInfo, t.name,
          "trigger capture cannot see writes through SQLite's incremental blob API (sqlite3_blob_write, Python's "
          "blobopen) to its TEXT/BLOB columns: the stream does not carry them; the cutover compares this table "
          "after the move and reports any such write PostgreSQL lacks (the app should also UPDATE the row)"));
    }
    auto violations = ForeignKeyViolations(db, t);
    if (!violations.ok()) return violations.status().Annotate("table " + t.name);
    for (const auto& [fkid, f] : *violations) {
      for (const auto& fk : t.foreign_keys) {
        if (fk.id != fkid) continue;
        Note n = TableNote(Severity::kWarning, t.name,
                           "rows break the foreign key to " + fk.ref_table +
                               ": the constraint is kept NOT VALID (new rows are checked, these are not)");
        n.count = f.count;
        n.examples = f.examples;
        plan.notes.push_back(n);
      }
    }
    plan.source_columns[t.name] = {};
    for (const auto& c : t.columns) plan.source_columns[t.name].emplace_back(c.name, c.declared_type);
    plan.tables.push_back(std::move(tm));
    plan.audits[t.name] = std::move(audit);
  }
  if (plan.tables.empty()) {
    plan.notes.push_back(TableNote(Severity::kWarning, "", "no table selected: nothing to migrate"));
  }
  // Full-text indexes stay in SQLite; after the cutover the app's rows change
  // in PostgreSQL, and the reverse stream writes them back with triggers off.
  for (const auto& t : schema.tables) {
    if (t.kind != TableKind::kVirtual || IsSlipwayTable(t.name)) continue;
    std::optional<FtsTable> fts = ParseFts(t.name, t.sql);
    if (!fts) continue;
    const TableMapping* content = fts->external() ? plan.FindTable(*fts->content) : nullptr;
    if (content != nullptr) {
      plan.notes.push_back(TableNote(Severity::kInfo, t.name,
                                     "full-text index of " + content->source +
                                         " (external content): the reverse stream keeps it in step with the rows "
                                         "it writes back"));
    } else {
      const std::string refill =
          fts->external() ? "INSERT INTO \"" + t.name + "\"(\"" + t.name + "\") VALUES('rebuild')"
                          : "delete its rows and fill it again from its source table, as the app's triggers do";
      plan.notes.push_back(TableNote(Severity::kWarning, t.name,
                                     std::string("full-text index (") +
                                         (fts->external() ? "external content, its table not migrated"
                                          : fts->content  ? "contentless"
                                                          : "internal content") +
                                         ") is not kept in step with rows changed in PostgreSQL after the cutover: "
                                         "after a rollback, " + refill));
    }
  }
  plan.ddl = GenerateDdl(schema, plan);
  for (auto& n : RollbackRiskNotes(schema, plan)) plan.notes.push_back(std::move(n));
  return plan;
}

}  // namespace slipway::schema
