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
//
// With triggers off, an external-content full-text index (FTS4/FTS5,
// content='t') that the app keeps in step with a replicated table t by
// triggers would go stale; the sink keeps it in step itself, in the round's
// transaction: the index's 'delete' of a touched key's old values before the
// key is deleted, the new row indexed after it is inserted, a 'rebuild'
// after a whole-table copy. Contentless and internal-content indexes cannot
// be (their content is what the app's triggers put there): they are named
// once in the log and in the plan.
//
// A row SQLite refuses (a constraint PostgreSQL did not enforce) stops the
// round naming table, key and constraint (and, for a UNIQUE index, the key
// of the row already holding the value); the row is never dropped.
// Thread-safety: one sink per connection.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/sqlite.h"
#include "replicator/change_sink.h"
#include "replicator/table_sql.h"
#include "schema/plan.h"
#include "schema/reverse_codec.h"

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

  // Columns the next round adds to SQLite tables (ALTER TABLE ADD COLUMN)
  // in its transaction, before any row is written; one the table already
  // has (a round that committed before the plan was stored) is skipped.
  struct NewColumn {
    std::string table;  // SQLite table
    std::string column;
    std::string decl;   // declared type
  };
  void AddColumnsAtNextRound(std::vector<NewColumn> columns) { new_columns_ = std::move(columns); }

  Status Begin() override;
  Status CopyWhole(int tid, RowCursor& rows, RoundStats* stats) override;
  Status Apply(TableRound t, RoundStats* stats) override;
  Status Commit(const Position& to, RoundStats* stats) override;
  void Abort() override;

 private:
  // An external-content full-text index over a replicated table.
  struct Fts {
    std::string name;
    std::string remove_sql;   // the key's indexed old values out; binds the key as delete_sql does
    std::string add_sql;      // one content row into the index; ?1 = its rowid
    std::string rebuild_sql;  // the whole index again from its content table
  };
  struct Table {
    const schema::TableMapping* tm = nullptr;
    TableSql sql;
    std::string where;  // "key1 = ?1 AND ..."
    std::string delete_sql;
    std::string insert_sql;
    // A rowid table keyed by a primary key that is not its rowid: a row
    // written back keeps the rowid it had (its place in the file, what
    // `.dump` and an unordered SELECT show), so the delete returns it and the
    // insert names it.
    bool keep_rowid = false;
    std::vector<int> key_pos;  // position of each key value in an inserted row
    std::vector<Fts> fts;
    // Columns whose PostgreSQL type cannot tell a value's storage class
    // (schema::KindRecoverable): their position in an inserted row, their
    // mapping, and the SELECT of their values by key, read before the key is
    // deleted. A value PostgreSQL still holds as it became from the file's
    // value is written back as the file's value (INTEGER 7, not BLOB '7').
    std::vector<int> kind_pos;
    std::vector<const schema::ColumnMapping*> kind_cols;
    std::string kind_sql;
  };
  // Rowids of the keys deleted this round (keep_rowid tables), by key.
  using RowidsByKey = std::map<std::string, int64_t>;
  // The file's values of a table's kind_cols, by key, read before the delete.
  using KindsByKey = std::map<std::string, std::vector<schema::OwnedValue>>;
  // Finds the full-text indexes once, at the first round.
  Status LoadFts();
  Status InsertRows(const Table& t, RowCursor& rows, const RowidsByKey* rowids, const KindsByKey* kinds,
                    bool index_fts, RoundStats* stats);
  // The error for a row SQLite refused: table, key, constraint.
  Status Refused(const Table& t, const RowCursor& row, const Status& s);

  Db& db_;
  int cycle_;
  std::map<int, Table> tables_;
  bool fts_loaded_ = false;
  std::vector<NewColumn> new_columns_;
  bool open_ = false;
};

}  // namespace slipway::replicator
