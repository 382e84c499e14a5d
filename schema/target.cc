#include "schema/target.h"

#include <algorithm>
#include <map>
#include <set>

namespace slipway::schema {
namespace {

Note PlanNote(Severity sev, const std::string& table, const std::string& column, std::string msg) {
  Note n;
  n.severity = sev;
  n.table = table;
  n.column = column;
  n.message = std::move(msg);
  return n;
}

struct PgColumn {
  std::string type;
  bool not_null = false;
  bool has_default = false;
};

struct PgTable {
  std::map<std::string, PgColumn> columns;
  std::vector<std::set<std::string>> unique_keys;  // primary key and unique constraints/indexes
};

Result<std::map<std::string, PgTable>> ReadCatalog(PgConn& conn, const std::string& schema) {
  std::map<std::string, PgTable> out;
  ASSIGN_OR_RETURN(PgResult cols,
                   conn.ExecParams("SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                                   "a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' "
                                   "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                                   "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                   "WHERE n.nspname = $1 AND c.relkind IN ('r','p') AND a.attnum > 0 "
                                   "AND NOT a.attisdropped ORDER BY c.relname, a.attnum",
                                   {schema}));
  for (int r = 0; r < cols.Rows(); ++r) {
    out[cols.Str(r, 0)].columns[cols.Str(r, 1)] = {cols.Str(r, 2), cols.Get(r, 3) == "t", cols.Get(r, 4) == "t"};
  }
  ASSIGN_OR_RETURN(PgResult keys,
                   conn.ExecParams("SELECT c.relname, a.attname, i.indexrelid FROM pg_index i "
                                   "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                                   "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
                                   "WHERE n.nspname = $1 AND i.indisunique AND i.indpred IS NULL "
                                   "ORDER BY i.indexrelid",
                                   {schema}));
  std::map<std::string, std::pair<std::string, std::set<std::string>>> by_index;
  for (int r = 0; r < keys.Rows(); ++r) {
    auto& entry = by_index[keys.Str(r, 2)];
    entry.first = keys.Str(r, 0);
    entry.second.insert(keys.Str(r, 1));
  }
  for (auto& [oid, entry] : by_index) out[entry.first].unique_keys.push_back(entry.second);
  return out;
}

}  // namespace

Status ValidateDdl(PgConn& conn, Plan* plan) {
  RETURN_IF_ERROR(conn.Run("BEGIN"));
  // Whatever happens below, nothing is kept.
  struct Rollback {
    PgConn& c;
    ~Rollback() { (void)c.Run("ROLLBACK"); }
  } rollback{conn};
  RETURN_IF_ERROR(conn.Run("SET LOCAL lock_timeout = '5s'"));
  RETURN_IF_ERROR(conn.Run("CREATE SCHEMA IF NOT EXISTS " + QuotePgIdent(plan->options.pg_schema)));
  for (int phase = 0; phase < 2; ++phase) {
    for (auto& d : plan->ddl) {
      if (static_cast<int>(d.phase) != phase || d.dropped) continue;
      RETURN_IF_ERROR(conn.Run("SAVEPOINT slipway_ddl"));
      auto r = conn.Exec(d.sql);
      if (r.ok()) {
        RETURN_IF_ERROR(conn.Run("RELEASE SAVEPOINT slipway_ddl"));
        continue;
      }
      if (IsRetryable(r.status().code())) return r.status();
      RETURN_IF_ERROR(conn.Run("ROLLBACK TO SAVEPOINT slipway_ddl"));
      std::string err = r.status().message();
      if (err.rfind("query: ", 0) == 0) err = err.substr(7);
      if (d.optional) {
        d.dropped = true;
        plan->notes.push_back(PlanNote(Severity::kWarning, d.table, "",
                                       d.kind + (d.name.empty() ? "" : " " + d.name) +
                                           " not migrated: PostgreSQL rejects it (" + err + ")" +
                                           (d.kind == "unique index" || d.kind == "check"
                                                ? "; a rollback risk: after the cutover PostgreSQL accepts rows "
                                                  "SQLite refuses, and the reverse stream stops at the first one"
                                                : "")));
      } else {
        plan->notes.push_back(PlanNote(Severity::kBlocking, d.table, "", "PostgreSQL rejects the " + d.kind + ": " + err));
      }
    }
  }
  plan->ddl_validated = true;
  return Status::Ok();
}

Status MatchExistingSchema(PgConn& conn, Plan* plan) {
  ASSIGN_OR_RETURN(auto catalog, ReadCatalog(conn, plan->options.pg_schema));
  for (auto& tm : plan->tables) {
    auto tit = catalog.find(tm.target);
    if (tit == catalog.end()) {
      plan->notes.push_back(PlanNote(Severity::kBlocking, tm.source, "",
                                     "table \"" + plan->options.pg_schema + "\".\"" + tm.target +
                                         "\" does not exist in the target"));
      continue;
    }
    const PgTable& pt = tit->second;
    const TableAudit& audit = plan->audits[tm.source];
    std::set<std::string> mapped;
    for (size_t i = 0; i < tm.columns.size(); ++i) {
      ColumnMapping& cm = tm.columns[i];
      if (cm.skip) continue;
      mapped.insert(cm.target);
      // Forget what the automatic mapping said about this column's type.
      plan->notes.erase(std::remove_if(plan->notes.begin(), plan->notes.end(),
                                       [&](const Note& n) {
                                         return n.table == tm.source && n.column == cm.source &&
                                                (n.severity == Severity::kWidened || n.severity == Severity::kBlocking ||
                                                 n.message.find(kKindLossMarker) != std::string::npos);
                                       }),
                        plan->notes.end());
      auto cit = pt.columns.find(cm.target);
      if (cit == pt.columns.end()) {
        plan->notes.push_back(PlanNote(Severity::kBlocking, tm.source, cm.source,
                                       "column \"" + cm.target + "\" does not exist in target table \"" + tm.target + "\""));
        continue;
      }
      auto type = PgType::Parse(cit->second.type);
      if (!type.ok()) {
        plan->notes.push_back(PlanNote(Severity::kBlocking, tm.source, cm.source,
                                       "target column type " + cit->second.type + " is not supported"));
        continue;
      }
      const ColumnAudit* ca = nullptr;
      for (const auto& c : audit.columns) {
        if (c.name == cm.source) ca = &c;
      }
      if (ca == nullptr) continue;
      ColumnMapping adapted = AdaptToType(cm, *type, *ca);
      adapted.not_null = cit->second.not_null;
      adapted.identity = false;
      adapted.default_sql.reset();
      adapted.reason = "existing column " + cit->second.type;
      for (auto& n : FitCheck(tm.source, adapted, *ca)) plan->notes.push_back(std::move(n));
      for (auto& n : KindLossNotes(tm.source, adapted, *ca)) plan->notes.push_back(std::move(n));
      cm = adapted;
    }
    for (const auto& [name, col] : pt.columns) {
      if (mapped.count(name) == 0 && col.not_null && !col.has_default &&
          !(tm.key_kind == KeyKind::kRowid && name == kRowidColumn)) {
        plan->notes.push_back(PlanNote(Severity::kBlocking, tm.source, "",
                                       "target column \"" + name + "\" is NOT NULL without a default and has no source column"));
      }
    }
    std::set<std::string> key(tm.key_target.begin(), tm.key_target.end());
    bool keyed = std::find(pt.unique_keys.begin(), pt.unique_keys.end(), key) != pt.unique_keys.end();
    if (!keyed) {
      std::string cols;
      for (const auto& k : tm.key_target) cols += (cols.empty() ? "" : ", ") + k;
      plan->notes.push_back(PlanNote(Severity::kBlocking, tm.source, "",
                                     "target table needs a primary key or unique constraint on (" + cols +
                                         ") so every change applies exactly once"));
    }
  }
  plan->ddl.clear();
  plan->ddl_validated = true;
  return Status::Ok();
}

}  // namespace slipway::schema
