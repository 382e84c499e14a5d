#pragma once
// The forward change source: the app's SQLite file, whose capture triggers
// record every touched key in _slipway_changelog inside the app's own
// transaction (replicator/capture.h), and whose session capture records each
// app transaction there as one changeset (replicator/changeset_keys.h). seq
// is commit order (SQLite has one writer), so a position is a seq and a
// round's read is one SQLite read transaction: the rows read for the touched
// keys are the state after whole app transactions.
// Thread-safety: one source per thread, over the caller's connection.

#include <map>
#include <optional>
#include <string>

#include "common/sqlite.h"
#include "replicator/change_source.h"
#include "replicator/changeset_keys.h"
#include "replicator/table_sql.h"
#include "schema/plan.h"

namespace slipway::replicator {

// The newest changelog seq (0 when the changelog is empty).
Result<int64_t> NewestChangelogSeq(Db& db);

class SqliteChangelogSource : public ChangeSource {
 public:
  // REQUIRES: `tids` maps plan tables to changelog table ids; `db` and `plan`
  // outlive the source.
  SqliteChangelogSource(Db& db, const schema::Plan& plan, const std::map<std::string, int>& tids);

  Result<Position> BeginRead() override;
  void EndRead() override;
  Result<std::vector<TableTouch>> Touched(const Position& from, const Position& to) override;
  int64_t changesets() const override { return changesets_; }
  Result<std::unique_ptr<RowCursor>> Keys(int tid, const Position& from, const Position& to) override;
  Result<std::unique_ptr<RowCursor>> Rows(int tid, const Position& from, const Position& to) override;
  Result<std::unique_ptr<RowCursor>> AllRows(int tid) override;

  Db& db() { return db_; }

 private:
  struct Table {
    TableSql sql;
    // [0]: the triggers' key rows; [1]: those and the changesets' keys.
    // Compiled once per connection (Db::Cached).
    std::string rows_query[2];
    std::string keys_query[2];
  };
  Result<const Table*> Find(int tid) const;
  Result<std::unique_ptr<RowCursor>> Range(const std::string& sql, int tid, const Position& from, const Position& to);

  Db& db_;
  ChangesetKeyLoader changesets_loader_{db_};
  std::map<std::string, int> tids_;
  std::map<int, Table> tables_;
  int64_t changesets_ = 0;  // changesets in the range read by the last Touched()
};

}  // namespace slipway::replicator
