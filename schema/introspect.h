#pragma once
// Reads a SQLite database's schema, read-only: tables (rowid, WITHOUT ROWID,
// STRICT, virtual and shadow tables), columns, keys, constraints, indexes,
// views, triggers and file-level settings. The CREATE TABLE text is parsed
// for what the pragmas do not say (CHECK, DEFERRABLE, generated expressions,
// AUTOINCREMENT, COLLATE, constraint names).
// Thread-safety: reads through the given Db; one call at a time per Db.

#include "common/sqlite.h"
#include "schema/model.h"

namespace slipway::schema {

Result<SourceSchema> Introspect(Db& db);

}  // namespace slipway::schema
