#pragma once
// DEFAULT clauses: SQLite expressions translated to PostgreSQL where an
// equivalent exists (CURRENT_TIMESTAMP, datetime('now'), literals, TRUE/FALSE);
// everything else is dropped and reported.

#include <optional>
#include <string>

#include "schema/mapping.h"

namespace slipway::schema {

struct DefaultTranslation {
  std::optional<std::string> pg_sql;  // nullopt: no default in PostgreSQL
  std::string dropped_reason;         // set when a SQLite default was dropped
};

DefaultTranslation TranslateDefault(const std::string& sqlite_default, const ColumnMapping& col);

}  // namespace slipway::schema
