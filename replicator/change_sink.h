#pragma once
// The change sink: the other side, written one round at a time. A round is
// one transaction of the sink: for each touched table every touched key is
// deleted before any row is written (so unique constraints never see a
// transient clash), then the rows that exist are written, and Commit()
// stores the position in the same transaction: a crash anywhere resumes from
// the stored position, nothing lost, nothing applied twice.
//
// Implementations: PgSink (forward, into PostgreSQL) and SqliteSink
// (reverse, into the app's SQLite file).
// Thread-safety: one sink per thread.

#include <functional>
#include <memory>

#include "common/status.h"
#include "replicator/change_source.h"
#include "replicator/row_cursor.h"

namespace slipway::replicator {

struct RoundStats {
  int64_t changes = 0;   // captured changes in the range
  int64_t changesets = 0;  // of them, app transactions recorded as changesets
  int64_t keys = 0;      // distinct keys touched
  int64_t upserts = 0;   // rows written (rows_copied included)
  int64_t rows_copied = 0;  // rows written by whole-table copies (CopyWhole): no touched key of theirs
  int64_t deletes = 0;   // touched keys whose row is gone
  int tables = 0;
  bool copy_path = false;
  bool more = false;     // the round was cut short: more changes were already waiting
};

// One table's share of a round. Its cursors read the source on demand, inside
// the round's read, so a sink may send its deletes before reading any row.
struct TableRound {
  int tid = 0;
  int64_t changes = 0;
  std::function<Result<std::unique_ptr<RowCursor>>()> keys;
  std::function<Result<std::unique_ptr<RowCursor>>()> rows;
};

class ChangeSink {
 public:
  virtual ~ChangeSink() = default;

  // Starts the round's transaction.
  virtual Status Begin() = 0;
  // Replaces the whole content of `tid` with `rows`.
  virtual Status CopyWhole(int tid, RowCursor& rows, RoundStats* stats) = 0;
  // Deletes every key of `t`, then writes its rows. A sink may defer the
  // work to Commit() (the round's read is still open then).
  virtual Status Apply(TableRound t, RoundStats* stats) = 0;
  // Stores `to` and commits, together with everything since Begin().
  virtual Status Commit(const Position& to, RoundStats* stats) = 0;
  // Undoes whatever the round wrote (after a failure).
  virtual void Abort() = 0;
};

}  // namespace slipway::replicator
