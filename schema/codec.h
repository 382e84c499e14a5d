#pragma once
// Value codecs: a SQLite value into the text form PostgreSQL reads for the
// mapped column (COPY text format fields and query parameters). A value that
// does not fit the mapping exactly is an error naming the value, never
// converted: the caller adds table, key and column.
// Thread-safety: pure functions.

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "schema/mapping.h"

namespace slipway::schema {

// A borrowed SQLite value (from a statement column or a literal).
struct SqlValue {
  int type = SQLITE_NULL;  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL
  int64_t i = 0;
  double d = 0;
  std::string_view bytes;  // TEXT or BLOB content

  static SqlValue FromColumn(sqlite3_stmt* stmt, int col);
};

// Appends the PostgreSQL text input form of `v` to *out. REQUIRES: v is not
// NULL (the caller writes NULL its own way).
Status EncodeForPg(const SqlValue& v, const ColumnMapping& col, std::string* out);

// SQLite's text form of a REAL that reads back as the same double: shortest
// round-trip digits, ".0" added to integral values, "Inf"/"-Inf".
std::string RealToText(double d);

// Renders a value for messages: 'text' (cut to 60 chars), x'ab..', 12, 1.5.
std::string DescribeValue(const SqlValue& v);

// Appends `field` to a COPY text-format line, escaping backslash, tab,
// newline and carriage return.
void AppendCopyEscaped(std::string_view field, std::string* line);

}  // namespace slipway::schema
