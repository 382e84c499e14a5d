#pragma once
// The reverse change sink: the app's SQLite file after the cutover. One
// BEGIN IMMEDIATE transaction per round: touched keys deleted, the rows that
// exist inserted with their values in the original SQLite form, and the
// reverse position stored in _slipway_meta, committed together.
//
// The sink's connection runs with triggers off (SQLITE_DBCONFIG_ENABLE_TRIGGER):
// neither the fence that refuses the app's writes, nor forward capture (no
// ping-pong), nor the app's own triggers fire for rows that arrive from
// PostgreSQL already holding their effects. AUTOINCREMENT state follows by
// itself: SQLite raises sqlite_sequence for every explicit id inserted.
// Foreign keys are not enforced on it (PostgreSQL enforced them).
// Thread-safety: one sink per connection.

#include <map>
#include <optional>
#include <string>

#include "common/sqlite.h"
#include "replicator/change_sink.h"
#include "replicator/table_sql.h"
#include "schema/plan.h"

namespace slipway::replicator {

// Opens the app's file for the reverse applier: read-write, triggers and
// foreign keys off on this connection only.
Result<Db> OpenReverseSinkDb(const std::string& path);

// The reverse position stored in the file for cutover `cycle`; nullopt when
// none is (a new cutover starts from the snapshot it armed capture in).
Result<std::optional<Position>> ReadReversePosition(Db& db, int cycle);

class SqliteSink : public ChangeSink {
 public:
  // REQUIRES: `db` from OpenReverseSinkDb(); `tids` maps plan tables to ids;
  // `db` and `plan` outlive the sink.
  SqliteSink(Db& db, const schema::Plan& plan, const std::map<std::string, int>& tids, int cycle);

  Status Begin() override;
  Status CopyWhole(int tid, RowCursor& rows, RoundStats* stats) override;
  Status Apply(TableRound t, RoundStats* stats) override;
  Status Commit(const Position& to, RoundStats* stats) override;
  void Abort() override;

 private:
  struct Table {
    const schema::TableMapping* tm = nullptr;
    TableSql sql;
    std::string delete_sql;
    std::string insert_sql;
    // A rowid table keyed by a primary key that is not its rowid: a row
    // written back keeps the rowid it had (its place in the file, what
    // `.dump` and an unordered SELECT show), so the delete returns it and the
    // insert names it. key_pos: the key columns among the data columns.
    bool keep_rowid = false;
    std::vector<int> key_pos;
  };
  // Rowids of the keys deleted this round (keep_rowid tables), by key.
  using RowidsByKey = std::map<std::string, int64_t>;
  Status InsertRows(const Table& t, RowCursor& rows, const RowidsByKey* rowids, RoundStats* stats);

  Db& db_;
  int cycle_;
  std::map<int, Table> tables_;
  bool open_ = false;
};

}  // namespace slipway::replicator
