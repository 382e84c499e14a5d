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

// For readers of part of a table (continuous_verifier.h): SQLite's
// expressions for the key components (the rowid under a name no column
// hides, or the key columns, quoted), and "SELECT <key>, <columns> FROM
// <table>" for the caller to add WHERE / ORDER BY / LIMIT to.
Result<std::vector<std::string>> SqliteKeyExprs(const schema::TableMapping& t, const CompareColumns& cols);
Result<std::string> SqliteRowsSelect(const schema::TableMapping& t, const CompareColumns& cols);
// Frames the current row of a statement prepared from SqliteRowsSelect.
void FrameSqliteRow(sqlite3_stmt* stmt, const CompareColumns& cols, RowFrame* frame);

// The same for PostgreSQL: the key columns, quoted, and "SELECT <key>,
// <columns> FROM <schema>.<table>".
std::vector<std::string> PgKeyColumns(const CompareColumns& cols);
std::string PgRowsSelect(const std::string& pg_schema, const schema::TableMapping& t, const CompareColumns& cols);
// Frames row `row` of a text-format result of a PgRowsSelect query.
// REQUIRES: the session runs schema::kCanonicalSessionSql.
void FramePgRow(const PgResult& r, int row, const CompareColumns& cols, RowFrame* frame);

// COPY (SELECT key, columns FROM "schema"."table") TO STDOUT in text format.
// REQUIRES: the session runs schema::kCanonicalSessionSql.
Status ReadPgTable(PgConn& conn, const std::string& pg_schema, const schema::TableMapping& t,
                   const CompareColumns& cols, const RowFn& fn);

// A read transaction on the source: a deferred BEGIN takes no lock until the
// first read, and only ever a read lock.
template <typename F>
Status InSqliteRead(Db& db, F body) {
  RETURN_IF_ERROR(db.Exec("BEGIN"));
  Status s = body();
  Status end = db.Exec(s.ok() ? "COMMIT" : "ROLLBACK");
  return s.ok() ? end : s;
}

// One snapshot of the target for a position and the rows compared with it;
// after a failure the connection is left outside any transaction.
template <typename F>
Status InPgRead(PgConn& conn, F body) {
  RETURN_IF_ERROR(conn.Run("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
  Status s = body();
  Status end = conn.Run(s.ok() ? "COMMIT" : "ROLLBACK");
  if (!s.ok() && PQtransactionStatus(conn.get()) != PQTRANS_IDLE) (void)conn.Run("ROLLBACK");
  return s.ok() ? end : s;
}

// The SQLite key components of a changelog row's k1..k4 values (the columns
// at `first` in `stmt`), framed like ReadSqliteTable frames keys.
void FrameChangelogKey(sqlite3_stmt* stmt, int first, const CompareColumns& cols, RowFrame* frame);

}  // namespace slipway::cutover
