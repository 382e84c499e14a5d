#pragma once
// The forward change sink: PostgreSQL. One target transaction per round:
// every touched key deleted, the rows that exist inserted, and
// slipway.migration.applied_seq advanced to the round's end, committed
// together (the session runs with session_replication_role = replica, so
// neither the guard nor the app's triggers nor reverse capture fire).
//
// Small tables (at most pipeline_max changes) go through one pipelined round
// trip with the position and the COMMIT; larger ones through a DELETE of the
// keys (an array parameter for an integer key, else a staging table filled by
// COPY), sent without waiting so the source is read meanwhile, then a binary
// COPY of the rows.
// For a table keyed by one integer the sink keeps an upper bound of the keys
// the target holds (read with max() when it first touches the table, raised
// after each commit, forgotten after any failure and after a whole copy);
// touched keys above it are not deleted, since the target cannot hold them
// (only the applier writes the replicated tables).
// Thread-safety: one sink per connection.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/pg.h"
#include "replicator/change_sink.h"
#include "replicator/table_sql.h"
#include "schema/plan.h"

namespace slipway::replicator {

class PgSink : public ChangeSink {
 public:
  // REQUIRES: `tids` maps every plan table to its changelog table id;
  // `target` and `plan` outlive the sink.
  PgSink(PgConn& target, const schema::Plan& plan, const std::map<std::string, int>& tids);

  Status Begin() override;
  Status CopyWhole(int tid, RowCursor& rows, RoundStats* stats) override;
  Status Apply(TableRound t, RoundStats* stats) override;
  Status Commit(const Position& to, RoundStats* stats) override;
  void Abort() override;

  // Keys of at most this many per table go through the pipeline.
  void set_pipeline_max(int64_t n) { pipeline_max_ = n; }

 private:
  struct Table {
    const schema::TableMapping* tm = nullptr;
    TableSql sql;
    int tid = 0;
    std::vector<const schema::ColumnMapping*> key_cols;  // empty for rowid tables
    // One integer key column (the rowid, or an integer type held natively).
    bool int_key = false;
    // No key in the target is above this; nullopt when not known.
    std::optional<int64_t> max_key;
    // This round: the largest integer key touched, and whether a key that is
    // not an integer was touched.
    int64_t round_max = INT64_MIN;
    bool round_other = false;
  };
  // Whether the target may hold key `v` of `t` (false only for an integer
  // above t.max_key); records the key in the round's bookkeeping.
  bool MayExist(Table& t, const schema::SqlValue& v);
  Status LoadMaxKey(Table& t);
  // "BEGIN; " the first time in a round, then "".
  std::string BeginPrefix();
  Status EnsurePrepared(Table& t);
  Status ApplyPipelined(Table& t, TableRound& round, RoundStats* stats);
  Status ApplyByCopy(Table& t, TableRound& round, RoundStats* stats);
  Status EncodeKey(const Table& t, const RowCursor& key, std::vector<PgParam>* out);

  PgConn& target_;
  std::map<int, Table> tables_;  // by tid
  int64_t pipeline_max_ = 500;
  int generation_ = 0;
  bool begin_pending_ = false;  // this round's BEGIN not sent yet
  // This round: tables deferred to the final pipeline, tables touched, tables
  // copied whole.
  std::vector<std::pair<Table*, TableRound>> small_;
  std::vector<Table*> applied_;
  std::vector<Table*> copied_;
};

}  // namespace slipway::replicator
