#include "replicator/table_sql.h"

#include <strings.h>

#include "common/pg.h"
#include "common/sqlite.h"

namespace slipway::replicator {

std::string FreeRowidName(const schema::TableMapping& tm) {
  for (const char* name : {"rowid", "oid", "_rowid_"}) {
    bool taken = false;
    for (const auto& c : tm.columns) taken = taken || strcasecmp(c.source.c_str(), name) == 0;
    if (!taken) return name;
  }
  return "rowid";
}

TableSql BuildTableSql(const schema::TableMapping& tm, const std::string& pg_schema) {
  TableSql s;
  s.sqlite_table = QuoteSqliteIdent(tm.source);
  s.pg_table = QuotePgIdent(pg_schema) + "." + QuotePgIdent(tm.target);
  s.rowid_keyed = tm.key_kind == schema::KeyKind::kRowid;
  for (const auto& k : tm.key_target) s.pg_key.push_back(QuotePgIdent(k));
  if (s.rowid_keyed) {
    s.sqlite_key.push_back(FreeRowidName(tm));
    s.pg_columns.push_back(QuotePgIdent(schema::kRowidColumn));
  } else {
    for (const auto& k : tm.key_source) s.sqlite_key.push_back(QuoteSqliteIdent(k));
  }
  if (tm.without_rowid) {
    s.chunk_key = s.sqlite_key;
  } else {
    s.chunk_key.push_back(FreeRowidName(tm));
  }
  for (size_t i = 0; i < tm.columns.size(); ++i) {
    const auto& c = tm.columns[i];
    if (c.skip) continue;
    s.sqlite_columns.push_back(QuoteSqliteIdent(c.source));
    s.column_index.push_back(static_cast<int>(i));
    s.pg_columns.push_back(QuotePgIdent(c.target));
  }
  return s;
}

std::string TableSql::SelectAll() const {
  std::string sql = "SELECT ";
  bool first = true;
  for (const auto& k : sqlite_key) {
    sql += (first ? "" : ", ") + k;
    first = false;
  }
  for (const auto& c : sqlite_columns) {
    sql += (first ? "" : ", ") + c;
    first = false;
  }
  return sql + " FROM " + sqlite_table;
}

std::string TableSql::SnapshotSelect(bool after) const {
  std::string keys;
  for (size_t i = 0; i < chunk_key.size(); ++i) keys += (i ? ", " : "") + chunk_key[i];
  std::string sql = "SELECT " + keys;
  if (rowid_keyed) sql += ", " + sqlite_key[0];
  for (const auto& c : sqlite_columns) sql += ", " + c;
  sql += " FROM " + sqlite_table;
  if (after) {
    if (chunk_key.size() == 1) {
      sql += " WHERE " + chunk_key[0] + " > ?";
    } else {
      std::string marks;
      for (size_t i = 0; i < chunk_key.size(); ++i) marks += i ? ", ?" : "?";
      sql += " WHERE (" + keys + ") > (" + marks + ")";
    }
  }
  return sql + " ORDER BY " + keys + " LIMIT ?";
}

std::string TableSql::OrderByKeyList() const {
  std::string out;
  for (size_t i = 0; i < sqlite_key.size(); ++i) out += (i ? ", " : "") + sqlite_key[i];
  return out;
}

std::string TableSql::PgKeyList() const {
  std::string out;
  for (size_t i = 0; i < pg_key.size(); ++i) out += (i ? ", " : "") + pg_key[i];
  return out;
}

std::string TableSql::PgKeyJoin(const std::string& a, const std::string& b) const {
  std::string out;
  for (size_t i = 0; i < pg_key.size(); ++i) out += (i ? " AND " : "") + a + "." + pg_key[i] + " = " + b + "." + pg_key[i];
  return out;
}

std::string TableSql::PgCopyIn() const {
  std::string cols;
  for (size_t i = 0; i < pg_columns.size(); ++i) cols += (i ? ", " : "") + pg_columns[i];
  return "COPY " + pg_table + " (" + cols + ") FROM STDIN";
}

}  // namespace slipway::replicator
