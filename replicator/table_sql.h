#pragma once
// The SQL both sides need for one mapped table, built in one place from the
// plan: the SQLite key expression(s) and column list, the PostgreSQL column
// list in the same order, chunk predicates. Every name is quoted.

#include <string>
#include <vector>

#include "schema/mapping.h"

namespace slipway::replicator {

struct TableSql {
  // SQLite side.
  std::string sqlite_table;                // quoted
  std::vector<std::string> sqlite_key;     // quoted key expressions (rowid name or PK columns)
  std::vector<std::string> sqlite_columns; // quoted non-skipped columns
  std::vector<int> column_index;           // index into TableMapping::columns for each
  // PostgreSQL side, same order: key columns that are not also data columns
  // (the rowid column), then the data columns.
  std::string pg_table;                    // "schema"."table"
  std::vector<std::string> pg_columns;     // quoted, COPY order
  std::vector<std::string> pg_key;         // quoted key columns of the target table
  bool rowid_keyed = false;
  // What a chunked copy orders by: the rowid for rowid tables (their storage
  // order), the primary key for WITHOUT ROWID tables.
  std::vector<std::string> chunk_key;

  // "SELECT key..., cols... FROM t" (no WHERE).
  std::string SelectAll() const;
  // SELECT chunk_key..., [rowid,] columns... in chunk order; with `after`
  // a "(k1, k2) > (?, ?)" predicate; LIMIT ? last.
  std::string SnapshotSelect(bool after) const;
  std::string PgCopyIn() const;           // COPY "s"."t" (cols) FROM STDIN
  std::string OrderByKeyList() const;      // the SQLite key expressions, comma-separated
  std::string PgKeyList() const;           // pg_key, comma-separated
  // "a.k1 = b.k1 AND a.k2 = b.k2" over pg_key.
  std::string PgKeyJoin(const std::string& a, const std::string& b) const;
};

// REQUIRES: tm comes from a plan; pg_schema is the plan's schema.
TableSql BuildTableSql(const schema::TableMapping& tm, const std::string& pg_schema);

// SQLite's name for the rowid that no column of the table shadows.
std::string FreeRowidName(const schema::TableMapping& tm);

}  // namespace slipway::replicator
