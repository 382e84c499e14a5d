#pragma once
// Applies the changes in a changelog range to the target, exactly once.
//
// A changelog row says only "this key was touched". The applier reads, in one
// SQLite read transaction, the range's keys and the current rows for them;
// then, in one target transaction, deletes every touched key and inserts the
// rows that exist, and advances slipway.migration.applied_seq to the range's
// end. The target then holds, for every touched key, the state of the same
// SQLite snapshot, so:
//  - a crash anywhere resumes from the stored position with nothing lost and
//    nothing doubled (the position commits with the data);
//  - re-applying a key is harmless (its current state is written again);
//  - several changes to one key fold into one write;
//  - unique constraints never see a transient clash: touched keys are deleted
//    before any is inserted, and untouched rows already match that snapshot.
// Small batches go through one pipelined round trip; large ones through a
// DELETE of the keys (an array parameter for an integer key, else a staging
// table filled by COPY) and COPY of the rows, read from SQLite while the
// DELETE runs.
// For a table keyed by one integer, the applier keeps an upper bound of the
// keys the target holds (read with max() when it first touches the table,
// raised after each commit, forgotten after any failure and after a whole
// copy); touched keys above it are not deleted, since the target cannot hold
// them (only the applier writes the replicated tables).
// Thread-safety: one Applier per connection pair.

#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/table_sql.h"
#include "schema/codec.h"
#include "schema/plan.h"

namespace slipway::replicator {

struct RoundStats {
  int64_t changes = 0;   // changelog rows in the range
  int64_t keys = 0;      // distinct keys touched
  int64_t upserts = 0;   // rows written
  int64_t deletes = 0;   // keys whose row is gone
  int tables = 0;
  bool copy_path = false;
};

class Applier {
 public:
  // REQUIRES: `tids` maps every plan table to its changelog table id.
  Applier(PgConn& target, const schema::Plan& plan, std::map<std::string, int> tids);

  // REQUIRES: `source` has a read transaction open in which `to` was read.
  // Applies (from, to] and sets the position to `to`, in one transaction.
  Result<RoundStats> ApplyRange(Db& source, int64_t from, int64_t to);

  // The next ApplyRange() copies these tables whole (after a schema change),
  // in the same transaction as the range.
  void Resync(const std::set<int>& tids) { resync_.insert(tids.begin(), tids.end()); }
  bool has_resync() const { return !resync_.empty(); }

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
  Status ApplyPipelined(Db& source, Table& t, int64_t from, int64_t to, RoundStats* stats);
  Status ApplyByCopy(Db& source, Table& t, int64_t from, int64_t to, RoundStats* stats);
  Status CopyWhole(Db& source, Table& t, RoundStats* stats);
  Status EncodeKey(const Table& t, sqlite3_stmt* st, int first, std::vector<PgParam>* out);
  std::string RowsQuery(const Table& t) const;

  PgConn& target_;
  const schema::Plan& plan_;
  std::map<int, Table> tables_;  // by tid
  int64_t pipeline_max_ = 500;
  std::set<int> resync_;
  int generation_ = 0;
  bool begin_pending_ = false;  // this round's BEGIN not sent yet
};

}  // namespace slipway::replicator
