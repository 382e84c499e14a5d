// DDL for the mapped schema: CREATE TABLE before the data (with the primary
// key), then unique and secondary indexes, foreign keys and CHECK constraints
// after it, so the load does not maintain them row by row.
#include <cctype>
#include <map>

#include "common/pg.h"
#include "schema/identifiers.h"
#include "schema/plan.h"

namespace slipway::schema {
namespace {

std::string Lower(const std::string& s) {
  std::string out = s;
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Rewrites a SQLite expression for PostgreSQL: identifiers that name columns
// of the table become their quoted PostgreSQL names; strings and everything
// else stay as written. Returns false if the expression uses something that
// certainly has no PostgreSQL meaning (then the statement is optional anyway).
std::string RewriteExpr(const std::string& expr, const std::map<std::string, std::string>& columns) {
  std::string out;
  size_t i = 0;
  auto map_ident = [&](const std::string& name, const std::string& original) {
    auto it = columns.find(Lower(name));
    out += it != columns.end() ? QuotePgIdent(it->second) : original;
  };
  while (i < expr.size()) {
    char c = expr[i];
    if (c == '\'') {
      size_t j = i + 1;
      while (j < expr.size()) {
        if (expr[j] == '\'' && j + 1 < expr.size() && expr[j + 1] == '\'') {
          j += 2;
          continue;
        }
        if (expr[j] == '\'') break;
        ++j;
      }
      out += expr.substr(i, j + 1 - i);
      i = j + 1;
    } else if (c == '"' || c == '`' || c == '[') {
      char close = c == '[' ? ']' : c;
      size_t j = i + 1;
      std::string name;
      while (j < expr.size()) {
        if (expr[j] == close && c != '[' && j + 1 < expr.size() && expr[j + 1] == close) {
          name += close;
          j += 2;
          continue;
        }
        if (expr[j] == close) break;
        name += expr[j++];
      }
      // "x" in SQLite is a string when no column has that name.
      auto it = columns.find(Lower(name));
      if (it != columns.end()) {
        out += QuotePgIdent(it->second);
      } else if (c == '"') {
        out += QuotePgLiteral(name);
      } else {
        out += QuotePgIdent(name);
      }
      i = j + 1;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[j])) || expr[j] == '_' || expr[j] == '$')) ++j;
      std::string word = expr.substr(i, j - i);
      map_ident(word, word);
      i = j;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

// NOCASE folds the 26 ASCII letters and nothing else; translate() does
// exactly that (lower() would fold other letters too, by the database's
// locale) and is immutable, so a unique index on it refuses in PostgreSQL
// the values a NOCASE unique index refuses in SQLite.
std::string FoldAsciiCase(const std::string& expr) {
  return "translate(" + expr + ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')";
}

bool IsTextKind(PgKind k) { return k == PgKind::kText || k == PgKind::kVarchar || k == PgKind::kChar; }

// True when a column of the index compares by NOCASE and maps to a text type
// (the case a folded unique index can carry).
bool IndexFoldsCase(const Index& ix, const TableMapping& tm) {
  for (const auto& ic : ix.columns) {
    if (ic.name.empty() || ic.collation != "NOCASE") continue;
    for (const auto& c : tm.columns) {
      if (!c.skip && Lower(c.source) == Lower(ic.name) && IsTextKind(c.type.kind)) return true;
    }
  }
  return false;
}

std::string ColumnList(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + QuotePgIdent(n);
  return out;
}

}  // namespace

std::vector<DdlStatement> GenerateDdl(const SourceSchema& schema, const Plan& plan) {
  std::vector<DdlStatement> out;
  const std::string pg_schema = QuotePgIdent(plan.options.pg_schema);
  NameScope relations;
  for (const auto& tm : plan.tables) relations.Claim(tm.target, "table " + tm.source, nullptr);

  for (const auto& tm : plan.tables) {
    const Table* t = schema.FindTable(tm.source);
    if (t == nullptr) continue;
    const std::string qtable = pg_schema + "." + QuotePgIdent(tm.target);
    std::map<std::string, std::string> colmap;  // lower(SQLite name) -> PostgreSQL name
    std::map<std::string, PgKind> kinds;        // lower(SQLite name) -> PostgreSQL type kind
    for (const auto& c : tm.columns) {
      if (!c.skip) colmap[Lower(c.source)] = c.target;
      if (!c.skip) kinds[Lower(c.source)] = c.type.kind;
    }

    // CREATE TABLE with the primary key.
    std::string sql = "CREATE TABLE " + qtable + " (";
    bool first = true;
    if (tm.key_kind == KeyKind::kRowid) {
      sql += "\n  " + QuotePgIdent(kRowidColumn) + " bigint NOT NULL";
      first = false;
    }
    for (const auto& c : tm.columns) {
      if (c.skip) continue;
      sql += std::string(first ? "" : ",") + "\n  " + QuotePgIdent(c.target) + " " + c.type.Sql();
      first = false;
      if (c.identity) sql += " GENERATED BY DEFAULT AS IDENTITY";
      if (c.not_null && !c.identity) sql += " NOT NULL";
      if (c.default_sql && !c.identity) sql += " DEFAULT " + *c.default_sql;
    }
    sql += "\n)";
    out.push_back({DdlPhase::kPreData, "table", tm.source, "", sql, tm.target, false, false});
    // The key is built after the load: one sorted build instead of a
    // row-by-row insert into the index.
    const std::string pk_name = relations.Unique(PgName(tm.target + "_pkey", NameStyle::kKeep), "key of " + tm.source);
    out.push_back({DdlPhase::kPostData, "primary key", tm.source, "",
                   "ALTER TABLE " + qtable + " ADD CONSTRAINT " + QuotePgIdent(pk_name) + " PRIMARY KEY (" +
                       ColumnList(tm.key_target) + ")",
                   pk_name, false, false});

    // Indexes: unique ones first (foreign keys may need them), then the rest.
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& ix : t->indexes) {
        if (ix.unique != (pass == 0)) continue;
        // A key with a NOCASE column is unique case-insensitively in SQLite:
        // the primary key (built above) gets a folded unique index beside it.
        const bool pk_nocase = ix.origin == IndexOrigin::kPrimaryKey && IndexFoldsCase(ix, tm);
        if (ix.origin == IndexOrigin::kPrimaryKey && !pk_nocase) continue;
        std::string terms;
        bool ok = true;
        for (const auto& ic : ix.columns) {
          std::string term;
          if (!ic.name.empty()) {
            auto it = colmap.find(Lower(ic.name));
            if (it == colmap.end()) {
              ok = false;
              break;
            }
            term = QuotePgIdent(it->second);
            if (ix.unique && ic.collation == "NOCASE" && IsTextKind(kinds[Lower(ic.name)])) {
              term = "(" + FoldAsciiCase(term) + ")";
            }
          } else {
            term = "(" + RewriteExpr(ic.expr, colmap) + ")";
          }
          if (ic.desc) term += " DESC";
          terms += (terms.empty() ? "" : ", ") + term;
        }
        if (!ok || terms.empty()) continue;  // an index on a skipped column
        std::string base = PgName(pk_nocase                                     ? tm.target + "_pkey_nocase"
                                  : ix.name.rfind("sqlite_autoindex_", 0) == 0 ? tm.target + "_unique"
                                                                               : ix.name,
                                  plan.options.names);
        std::string name = relations.Unique(base, "index " + ix.name);
        std::string isql = std::string("CREATE ") + (ix.unique ? "UNIQUE " : "") + "INDEX " + QuotePgIdent(name) +
                           " ON " + qtable + " (" + terms + ")";
        if (ix.partial && !ix.where_sql.empty()) isql += " WHERE " + RewriteExpr(ix.where_sql, colmap);
        // A folded term is built from a column alone with an immutable
        // function: PostgreSQL accepts it wherever it accepts the column.
        bool plain = ix.where_sql.empty();
        for (const auto& ic : ix.columns) plain = plain && !ic.name.empty();
        out.push_back({DdlPhase::kPostData, ix.unique ? "unique index" : "index", tm.source, ix.name, isql, name,
                       /*optional=*/!ix.unique || !plain, false});
      }
    }

    // Foreign keys.
    for (const auto& fk : t->foreign_keys) {
      const TableMapping* ref = plan.FindTable(fk.ref_table);
      if (ref == nullptr) {
        // SQLite matches table names case-insensitively.
        for (const auto& other : plan.tables) {
          if (Lower(other.source) == Lower(fk.ref_table)) ref = &other;
        }
      }
      DdlStatement d{DdlPhase::kPostData, "foreign key", tm.source, fk.name, "", "", true, false};
      if (ref == nullptr) {
        d.dropped = true;
        d.sql = "-- foreign key to " + fk.ref_table + ": that table is not migrated";
        out.push_back(d);
        continue;
      }
      std::vector<std::string> cols, rcols;
      bool ok = true;
      for (const auto& c : fk.columns) {
        auto it = colmap.find(Lower(c));
        ok = ok && it != colmap.end();
        if (ok) cols.push_back(it->second);
      }
      std::vector<std::string> ref_source = fk.ref_columns;
      if (ref_source.empty()) ref_source = ref->key_source;
      for (const auto& c : ref_source) {
        const ColumnMapping* rc = nullptr;
        for (const auto& cm : ref->columns) {
          if (Lower(cm.source) == Lower(c)) rc = &cm;
        }
        ok = ok && rc != nullptr && !rc->skip;
        if (ok) rcols.push_back(rc->target);
      }
      if (!ok || cols.size() != rcols.size()) {
        d.dropped = true;
        d.sql = "-- foreign key to " + fk.ref_table + ": columns not migrated";
        out.push_back(d);
        continue;
      }
      // Added NOT VALID, then validated as a separate (optional) step: SQLite
      // does not enforce foreign keys unless the app asks, so old rows may
      // break them while new rows must not.
      std::string cname = PgName(tm.target + "_fk" + std::to_string(fk.id + 1), NameStyle::kKeep);
      d.pg_name = cname;
      d.sql = "ALTER TABLE " + qtable + " ADD CONSTRAINT " + QuotePgIdent(cname) + " FOREIGN KEY (" + ColumnList(cols) +
              ") REFERENCES " + pg_schema + "." + QuotePgIdent(ref->target) + " (" + ColumnList(rcols) + ")";
      if (fk.on_update != FkAction::kNoAction) d.sql += std::string(" ON UPDATE ") + FkActionSql(fk.on_update);
      if (fk.on_delete != FkAction::kNoAction) d.sql += std::string(" ON DELETE ") + FkActionSql(fk.on_delete);
      if (fk.deferrable) d.sql += fk.initially_deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE";
      d.sql += " NOT VALID";
      out.push_back(d);
      out.push_back({DdlPhase::kPostData, "foreign key validation", tm.source, fk.name,
                     "ALTER TABLE " + qtable + " VALIDATE CONSTRAINT " + QuotePgIdent(cname), cname, true, false});
    }

    // CHECK constraints, in SQLite's expression syntax rewritten for names.
    // Every one is named, so a re-run can tell it exists.
    int check_no = 0;
    for (const auto& ck : t->checks) {
      if (!ck.column.empty() && colmap.find(Lower(ck.column)) == colmap.end()) continue;
      std::string cname = ck.name.empty() ? PgName(tm.target + "_check" + std::to_string(++check_no), NameStyle::kKeep)
                                          : PgName(ck.name, plan.options.names);
      std::string csql = "ALTER TABLE " + qtable + " ADD CONSTRAINT " + QuotePgIdent(cname) + " CHECK (" +
                         RewriteExpr(ck.expr, colmap) + ")";
      out.push_back({DdlPhase::kPostData, "check", tm.source, ck.name, csql, cname, true, false});
    }
  }
  return out;
}

std::vector<Note> RollbackRiskNotes(const SourceSchema& schema, const Plan& plan) {
  std::vector<Note> out;
  auto risk = [&](const std::string& table, const std::string& what) {
    Note n;
    n.severity = Severity::kWarning;
    n.table = table;
    n.message = what +
                ": SQLite enforces it and PostgreSQL will not, a rollback risk (after the cutover PostgreSQL accepts "
                "rows SQLite refuses, and the reverse stream stops at the first such row, naming it)";
    out.push_back(std::move(n));
  };
  for (const auto& tm : plan.tables) {
    const Table* t = schema.FindTable(tm.source);
    if (t == nullptr) continue;
    std::map<std::string, const ColumnMapping*> cols;
    for (const auto& c : tm.columns) cols[Lower(c.source)] = &c;
    for (const auto& ix : t->indexes) {
      if (!ix.unique) continue;
      const std::string what = ix.origin == IndexOrigin::kPrimaryKey ? "primary key" : "unique index " + ix.name;
      for (const auto& ic : ix.columns) {
        auto it = cols.find(Lower(ic.name));
        const ColumnMapping* cm = it == cols.end() ? nullptr : it->second;
        if (!ic.name.empty() && (cm == nullptr || cm->skip)) {
          risk(tm.source, what + " covers column " + ic.name + ", which is not migrated");
        } else if (ic.collation == "NOCASE" && (ic.name.empty() || !IsTextKind(cm->type.kind))) {
          risk(tm.source, what + " compares " + (ic.name.empty() ? ic.expr : ic.name) +
                              " by NOCASE, which a folded index carries only for a text column");
        } else if (!ic.collation.empty() && ic.collation != "NOCASE") {
          risk(tm.source, what + " compares " + (ic.name.empty() ? ic.expr : ic.name) + " by COLLATE " + ic.collation);
        }
      }
    }
    for (const auto& ck : t->checks) {
      auto it = cols.find(Lower(ck.column));
      if (!ck.column.empty() && (it == cols.end() || it->second->skip)) {
        risk(tm.source, "CHECK (" + ck.expr + ") on column " + ck.column + ", which is not migrated");
      }
    }
  }
  return out;
}

std::string RenderDdl(const Plan& plan) {
  std::string out = "-- slipway plan for " + plan.source_path + " (schema fingerprint " + plan.fingerprint + ")\n";
  for (int phase = 0; phase < 2; ++phase) {
    out += phase == 0 ? "\n-- before the data\n" : "\n-- after the data\n";
    for (const auto& d : plan.ddl) {
      if (static_cast<int>(d.phase) != phase) continue;
      if (d.dropped) {
        std::string text = d.sql.rfind("--", 0) == 0 ? d.sql : "-- not migrated: " + d.sql;
        for (size_t p = text.find('\n'); p != std::string::npos; p = text.find('\n', p + 1)) text.insert(p + 1, "-- ");
        out += text + "\n";
      } else {
        out += d.sql + ";\n";
      }
    }
  }
  return out;
}

}  // namespace slipway::schema
