#pragma once
// Streams every row of one mapped table from one side, in the canonical form
// the verifier compares (see row_frame.h): the key first (the primary key
// columns, or the rowid / _slipway_rowid), then each mapped column in plan
// order. Neither reader keeps rows; `fn` sees each row once.
// Thread-safety: each reader uses only the connection it is given; run the
// two sides on two threads with two connections.

#include <functional>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/sqlite.h"
#include "cutover/row_frame.h"
#include "schema/mapping.h"

namespace slipway::cutover {

// Called for each row; a non-OK status stops the read and is returned.
using RowFn = std::function<Status(const RowFrame&)>;

// The columns both sides read for a table, in order.
struct CompareColumns {
  bool rowid = false;
  std::vector<const schema::ColumnMapping*> key;     // empty for rowid tables
  std::vector<const schema::ColumnMapping*> values;  // mapped, not skipped
  // REQUIRES: every key column of `t` is one of its columns.
  static Result<CompareColumns> For(const schema::TableMapping& t);
  // The kind of the i-th key component.
  schema::PgKind KeyKind(size_t i) const;
};

// SELECT of the key and the mapped columns from the SQLite table. The caller
// holds the read transaction (BEGIN ... COMMIT, never a write lock).
Status ReadSqliteTable(Db& db, const schema::TableMapping& t, const CompareColumns& cols, const RowFn& fn);

// COPY (SELECT key, columns FROM "schema"."table") TO STDOUT in text format.
// REQUIRES: the session runs schema::kCanonicalSessionSql.
Status ReadPgTable(PgConn& conn, const std::string& pg_schema, const schema::TableMapping& t,
                   const CompareColumns& cols, const RowFn& fn);

// The SQLite key components of a changelog row's k1..k4 values (the columns
// at `first` in `stmt`), framed like ReadSqliteTable frames keys.
void FrameChangelogKey(sqlite3_stmt* stmt, int first, const CompareColumns& cols, RowFrame* frame);

}  // namespace slipway::cutover
