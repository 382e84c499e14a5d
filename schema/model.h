#pragma once
// What a SQLite database holds, as read by Introspect(): tables with their
// columns, keys, constraints and indexes; views; triggers. Plain data, no
// behaviour; filled once and then read by the audit, the mapping and the DDL.
// Thread-safety: immutable after construction; share freely.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace slipway::schema {

// SQLite column affinity (https://sqlite.org/datatype3.html 3.1).
enum class Affinity { kInteger, kText, kBlob, kReal, kNumeric };
const char* AffinityName(Affinity a);
// Affinity from a declared type by SQLite's rules; STRICT tables use the same.
Affinity AffinityOf(const std::string& declared_type);

enum class Generated { kNone, kVirtual, kStored };

struct Column {
  std::string name;
  int cid = 0;                       // position in the table (table_xinfo order)
  std::string declared_type;         // as written, e.g. "VARCHAR(45)", "" when untyped
  Affinity affinity = Affinity::kBlob;
  bool not_null = false;
  std::optional<std::string> default_sql;  // the DEFAULT expression as written
  int pk_position = 0;               // 1-based position in the primary key, 0 when not
  Generated generated = Generated::kNone;
  std::string generated_expr;        // the expression, when generated
  std::string collation;             // "NOCASE", "RTRIM", "" for BINARY
  bool hidden = false;               // a hidden column of a virtual table
};

enum class FkAction { kNoAction, kRestrict, kSetNull, kSetDefault, kCascade };
const char* FkActionSql(FkAction a);

struct ForeignKey {
  int id = 0;
  std::vector<std::string> columns;      // in this table
  std::string ref_table;
  std::vector<std::string> ref_columns;  // empty: the referenced table's primary key
  FkAction on_update = FkAction::kNoAction;
  FkAction on_delete = FkAction::kNoAction;
  bool deferrable = false;               // DEFERRABLE
  bool initially_deferred = false;       // INITIALLY DEFERRED
  std::string name;                      // CONSTRAINT name, when given
};

struct CheckConstraint {
  std::string name;        // CONSTRAINT name, when given
  std::string expr;        // the expression inside CHECK( ... ), as written
  std::string column;      // set for a column constraint, empty for a table one
};

struct IndexColumn {
  std::string name;        // column name, empty for an expression
  std::string expr;        // the expression, for an expression index term
  bool desc = false;
  std::string collation;   // as in the index, "" for BINARY
};

enum class IndexOrigin { kCreateIndex, kUnique, kPrimaryKey };

struct Index {
  std::string name;
  bool unique = false;
  IndexOrigin origin = IndexOrigin::kCreateIndex;
  bool partial = false;
  std::string where_sql;   // for a partial index, the WHERE expression
  std::vector<IndexColumn> columns;
  std::string sql;         // CREATE INDEX statement, empty for automatic ones
};

enum class TableKind { kTable, kVirtual, kShadow, kInternal };

struct Table {
  std::string name;
  std::string sql;               // CREATE TABLE statement from sqlite_schema
  TableKind kind = TableKind::kTable;
  std::string virtual_module;    // fts5, rtree, ... for virtual tables
  std::string shadow_of;         // owning virtual table, for shadow tables
  bool without_rowid = false;
  bool strict = false;
  bool autoincrement = false;
  std::optional<int64_t> sqlite_sequence;  // the sqlite_sequence value, if any
  std::string rowid_alias;       // the INTEGER PRIMARY KEY column, "" when none
  std::vector<Column> columns;
  std::vector<std::string> primary_key;    // column names in key order
  std::vector<ForeignKey> foreign_keys;
  std::vector<CheckConstraint> checks;
  std::vector<Index> indexes;    // includes automatic UNIQUE indexes
  int64_t row_estimate = -1;     // filled by the audit (exact count), -1 unknown

  const Column* FindColumn(const std::string& column_name) const;
  // A table whose rows are identified only by the rowid (no declared key).
  bool KeyedByRowid() const { return primary_key.empty() && !without_rowid; }
};

struct View {
  std::string name;
  std::string sql;
};

struct Trigger {
  std::string name;
  std::string table;
  std::string sql;
};

struct SourceSchema {
  std::string path;
  std::string journal_mode;      // "wal", "delete", ...
  std::string encoding;          // "UTF-8", "UTF-16le", ...
  int64_t page_size = 0;
  int64_t page_count = 0;
  int64_t schema_version = 0;    // PRAGMA schema_version
  int64_t user_version = 0;
  bool foreign_keys_enforced = false;  // not a file property; informational
  std::vector<Table> tables;     // all kinds, in sqlite_schema order
  std::vector<View> views;
  std::vector<Trigger> triggers;

  const Table* FindTable(const std::string& table_name) const;
  // A stable hash of everything that shapes the mapping (tables, columns,
  // declared types, keys, constraints, indexes). Same schema, same value.
  std::string Fingerprint() const;
};

}  // namespace slipway::schema
