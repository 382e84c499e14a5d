#pragma once
// The change source: one side's captured changes, read as touched keys and
// the current rows of those keys, up to a position. A round reads everything
// inside one consistent read of the source (the caller opens it: BeginRead),
// so the rows of every touched key come from one snapshot.
//
// Implementations: SqliteChangelogSource (triggers into _slipway_changelog,
// forward) and PgChangelogSource (triggers into slipway.changelog, read by
// transaction-snapshot windows, reverse).
// Thread-safety: one source per thread.

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "replicator/row_cursor.h"

namespace slipway::replicator {

// Where a direction stands. `seq` orders positions and measures lag in
// changes (the SQLite changelog's seq; for PostgreSQL the snapshot's xmax);
// `snapshot` is what the PostgreSQL source needs to tell which transactions a
// position holds (empty for SQLite).
struct Position {
  int64_t seq = 0;
  std::string snapshot;
  bool operator==(const Position& o) const { return seq == o.seq && snapshot == o.snapshot; }
};

struct TableTouch {
  int tid = 0;
  int64_t changes = 0;  // captured changes in the range (a size hint)
};

class ChangeSource {
 public:
  virtual ~ChangeSource() = default;

  // Opens the round's read; returns the newest position it sees.
  virtual Result<Position> BeginRead() = 0;
  // Ends the round's read (never fails the round: nothing was written).
  virtual void EndRead() = 0;

  // REQUIRES: inside BeginRead(), `to` no newer than what it returned.
  // The tables with changes in (from, to].
  virtual Result<std::vector<TableTouch>> Touched(const Position& from, const Position& to) = 0;
  // Whole app transactions recorded as changesets in the range of the last
  // Touched() (session capture), else 0.
  virtual int64_t changesets() const { return 0; }
  // The distinct keys of `tid` touched in (from, to].
  virtual Result<std::unique_ptr<RowCursor>> Keys(int tid, const Position& from, const Position& to) = 0;
  // The current rows of those keys (keys whose row is gone yield nothing).
  virtual Result<std::unique_ptr<RowCursor>> Rows(int tid, const Position& from, const Position& to) = 0;
  // Every row of `tid` (a whole-table copy after a schema change).
  virtual Result<std::unique_ptr<RowCursor>> AllRows(int tid) = 0;
};

}  // namespace slipway::replicator
