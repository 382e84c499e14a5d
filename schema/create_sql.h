#pragma once
// Reads what the pragmas do not report out of CREATE TABLE / CREATE INDEX /
// CREATE VIRTUAL TABLE text: CHECK expressions, constraint names,
// DEFERRABLE, generated-column expressions, COLLATE, AUTOINCREMENT, table
// options, index expressions and partial-index WHERE clauses. Best effort
// and never failing: the text was accepted by SQLite, and whatever is not
// understood is left empty rather than guessed.
// Thread-safety: pure functions over their arguments.

#include <string>
#include <string_view>
#include <vector>

#include "schema/model.h"

namespace slipway::schema {

// A FOREIGN KEY clause (table-level) or REFERENCES clause (column-level).
// The ON UPDATE / ON DELETE actions are left to PRAGMA foreign_key_list.
struct ParsedForeignKey {
  std::string name;                  // CONSTRAINT name, "" when none
  std::vector<std::string> columns;  // in this table
  std::string ref_table;
  std::vector<std::string> ref_columns;  // empty: the referenced primary key
  bool deferrable = false;
  bool initially_deferred = false;
};

struct ParsedColumn {
  std::string name;
  std::string collation;          // upper-cased; "" when absent or BINARY
  std::string generated_expr;     // inside AS ( ... ), as written
  bool primary_key = false;       // a column-level PRIMARY KEY
  bool primary_key_desc = false;  // PRIMARY KEY DESC: never a rowid alias
};

struct ParsedTable {
  bool found = false;  // the text had a parenthesised column list
  bool without_rowid = false;
  bool strict = false;
  bool autoincrement = false;                  // the AUTOINCREMENT keyword, outside strings/comments
  std::vector<ParsedColumn> columns;           // declaration order
  std::vector<CheckConstraint> checks;         // column ones first, then table ones
  std::vector<ParsedForeignKey> foreign_keys;  // declaration order
};

ParsedTable ParseCreateTable(std::string_view sql);

struct ParsedIndex {
  bool found = false;
  // One entry per indexed term, in order, without its trailing COLLATE and
  // ASC/DESC (PRAGMA index_xinfo reports those): "a", "lower(b)".
  std::vector<std::string> terms;
  std::string where_sql;  // the partial-index condition, "" when none
};

ParsedIndex ParseCreateIndex(std::string_view sql);

// The module of CREATE VIRTUAL TABLE ... USING module(...), lower-cased;
// "" when the text is not a virtual table.
std::string ParseVirtualModule(std::string_view sql);

}  // namespace slipway::schema
