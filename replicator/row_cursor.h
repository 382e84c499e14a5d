#pragma once
// What flows through the pipeline between a change source and a change sink:
// rows of SQLite values. Both directions speak the SQLite form, because the
// plan's mapping is defined from SQLite values: a SQLite source yields its
// values as they are, a PostgreSQL source maps its values back through the
// plan (schema/reverse_codec.h); a PostgreSQL sink maps them forward
// (schema/codec.h), a SQLite sink binds them as they are.
//
// A key row holds the table's key values in key order (the rowid alone for a
// table keyed by rowid). A data row holds the rowid first for a table keyed
// by rowid, then the mapped columns in TableSql order.
// Thread-safety: a cursor belongs to one thread.

#include <sqlite3.h>

#include <optional>

#include "common/sqlite.h"
#include "common/status.h"
#include "schema/codec.h"

namespace slipway::replicator {

class RowCursor {
 public:
  virtual ~RowCursor() = default;
  // Moves to the next row; false when there is none.
  virtual Result<bool> Next() = 0;
  // REQUIRES: the last Next() returned true. The value stays valid until the
  // next call of Next().
  virtual schema::SqlValue Value(int i) const = 0;
};

// A cursor over a prepared SQLite statement, starting at column `skip`;
// borrowed, owned when made from a Stmt, or lent by Db::Cached() (reset and
// given back when the cursor goes).
class StmtCursor : public RowCursor {
 public:
  explicit StmtCursor(sqlite3_stmt* stmt, int skip = 0) : stmt_(stmt), skip_(skip) {}
  explicit StmtCursor(Stmt owned, int skip = 0) : owned_(std::move(owned)), stmt_(owned_.get()), skip_(skip) {}
  explicit StmtCursor(Db::Lent lent, int skip = 0) : lent_(std::move(lent)), stmt_((*lent_)->get()), skip_(skip) {}
  Result<bool> Next() override {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteStatus(rc, sqlite3_db_handle(stmt_), "read");
  }
  schema::SqlValue Value(int i) const override { return schema::SqlValue::FromColumn(stmt_, skip_ + i); }

 private:
  Stmt owned_;
  std::optional<Db::Lent> lent_;
  sqlite3_stmt* stmt_;
  int skip_;
};

}  // namespace slipway::replicator
