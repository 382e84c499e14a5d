#pragma once
// The reverse change source: PostgreSQL after the cutover, whose capture
// triggers record touched keys in slipway.changelog (pg_capture.h).
// PostgreSQL hands out sequence values at insert time, not commit time, so a
// position is a transaction snapshot, not a seq: the changes in (from, to]
// are the changelog rows whose transaction is visible in `to` and not in
// `from` (as PgQ reads its queues). A round's read is one REPEATABLE READ
// transaction; `to` is that transaction's own snapshot, so the rows of every
// touched key are read in exactly the snapshot that ends the window, and a
// transaction that commits late, out of order, falls in a later window.
// Values are mapped back to their SQLite form through the plan
// (schema/reverse_codec.h); a value the recorded representation cannot hold
// stops the round naming table, key, column and value.
// Thread-safety: one source per connection.

#include <map>
#include <string>
#include <vector>

#include "common/pg.h"
#include "replicator/change_source.h"
#include "replicator/table_sql.h"
#include "schema/plan.h"

namespace slipway::replicator {

class PgChangelogSource : public ChangeSource {
 public:
  // REQUIRES: `pg` has the session settings of SetupSession(); `pg` and
  // `plan` outlive the source.
  PgChangelogSource(PgConn& pg, const schema::Plan& plan, const std::map<std::string, int>& tids);

  Result<Position> BeginRead() override;
  void EndRead() override;
  Result<std::vector<TableTouch>> Touched(const Position& from, const Position& to) override;
  Result<std::unique_ptr<RowCursor>> Keys(int tid, const Position& from, const Position& to) override;
  Result<std::unique_ptr<RowCursor>> Rows(int tid, const Position& from, const Position& to) override;
  Result<std::unique_ptr<RowCursor>> AllRows(int tid) override;

  // Keys() and Rows() less the keys a transaction after `to` touched again,
  // of those this read sees. REQUIRES: inside BeginRead(), which returned a
  // position no older than `to`. Every write to a replicated table records
  // its keys in its own transaction, so a key no transaction between `to`
  // and the read touched has, in the read, exactly its row as of `to`: a
  // side that holds exactly `to` can be compared with it while the app goes
  // on writing (the keys left out are compared later, once they settle).
  Result<std::unique_ptr<RowCursor>> SettledKeys(int tid, const Position& from, const Position& to);
  Result<std::unique_ptr<RowCursor>> SettledRows(int tid, const Position& from, const Position& to);

  // REQUIRES: inside BeginRead(), which returned `to`. A position between
  // `from` and `to` whose window holds about `max_changes` changes (whole
  // transactions: one bigger transaction is taken whole), or `to` when the
  // window is no bigger. A round applies at most that much in one SQLite
  // transaction, so the file's write lock is never held long.
  Result<Position> Bound(const Position& from, const Position& to, int64_t max_changes);

  // Changes captured after `from` and committed by now, and the age of the
  // oldest (outside a round).
  struct Lag {
    int64_t changes = 0;
    double ms = 0;
  };
  Result<Lag> Pending(const Position& from);
  // Deletes the changelog rows every snapshot from `applied` on holds.
  Status Prune(const Position& applied);

  // How the replicated tables in PostgreSQL differ from the plan: the app
  // may change the schema after the cutover. Columns are selected by name,
  // so a column the plan does not know would be silently left behind.
  struct AddedColumn {
    int tid = 0;
    std::string table;   // the plan's SQLite table
    std::string column;  // as named in PostgreSQL
    std::string type;    // format_type() text
    bool not_null = false;
  };
  struct SchemaDrift {
    std::vector<AddedColumn> added;
    // Changes the reverse stream cannot follow, each naming table and column:
    // dropped/renamed/retyped columns, dropped/renamed tables, tables created
    // (or altered) after the cutover that the plan does not replicate.
    std::vector<std::string> changes;
    bool empty() const { return added.empty() && changes.empty(); }
  };
  // Reads the catalog (one query over the plan's schema); cheap enough for
  // once a second. Tables created after the cutover are those whose catalog
  // row was written by a transaction the cutover's snapshot (reverse_start)
  // does not see.
  Result<SchemaDrift> CheckSchema();

  struct Table {
    const schema::TableMapping* tm = nullptr;
    TableSql sql;
    std::vector<const schema::ColumnMapping*> key_cols;  // empty for rowid tables
  };

 private:
  Result<const Table*> Find(int tid) const;
  Result<std::unique_ptr<RowCursor>> WindowKeys(int tid, const Position& from, const Position& to, bool settled);
  Result<std::unique_ptr<RowCursor>> WindowRows(int tid, const Position& from, const Position& to, bool settled);

  PgConn& pg_;
  std::string pg_schema_;
  std::map<int, Table> tables_;
};

}  // namespace slipway::replicator
