#pragma once
// Copying one table's rows from SQLite to PostgreSQL with binary COPY.
//
// Rowid tables are split into rowid ranges when their copy starts (in the
// same SQLite read transaction that reads the table's start position in the
// changelog); each range is one task that any worker may take, read in its
// own short SQLite read transaction (so the app's WAL can be checkpointed
// between chunks) and written in one target transaction that also marks the
// range done. WITHOUT ROWID tables are copied by one worker in key order,
// each chunk after the last key stored. Rows that change while the copy runs
// have changelog entries after the start position; the stream re-reads their
// current state, so the copy and the stream converge.
// Thread-safety: functions use the caller's connections; one per thread.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/pg_state.h"
#include "replicator/progress.h"
#include "replicator/row_cursor.h"
#include "replicator/table_sql.h"
#include "schema/plan.h"

namespace slipway::replicator {

struct Chunk {
  int chunk_no = 0;
  int64_t lo = 0, hi = 0;
};

// Reads the start position and plans the rowid ranges; records both and the
// 'copying' state in the target. Returns the chunks to copy (none for an
// empty table; WITHOUT ROWID tables get no chunks and are copied by key).
Result<std::vector<Chunk>> StartTableCopy(Db& source, PgConn& target, const schema::TableMapping& tm,
                                          const TableSql& sql, int64_t chunk_rows);
// The chunks of a table whose copy started earlier and are not done yet.
Result<std::vector<Chunk>> PendingChunks(PgConn& target, const std::string& source_table);

// Copies one rowid range.
Status CopyRowidChunk(Db& source, PgConn& target, const schema::TableMapping& tm, const TableSql& sql,
                      const Chunk& chunk, TableProgress* progress);

// Copies a WITHOUT ROWID table in key order from the stored resume key.
Status CopyByKey(Db& source, PgConn& target, const schema::TableMapping& tm, const TableSql& sql, TableState* state,
                 int64_t chunk_rows, TableProgress* progress);

// Runs one post-data statement unless what it creates already exists (a
// re-run after a crash). Optional statements the target rejects become
// warnings; required ones fail.
Status RunPostData(PgConn& target, const std::string& pg_schema, const schema::DdlStatement& d,
                   std::vector<std::string>* warnings);

// Streams the rows of `st` into an open COPY (FORMAT binary), header to
// trailer, and ends the COPY. Columns of `st`: `skip` leading columns, then
// the rowid if the table is keyed by rowid, then the mapped columns in
// TableSql order. With last_key, the leading columns are the chunk key and the
// last row's is returned there. `progress` may be null; its rows grow by the
// rows sent at each flush and by the rest once the COPY has ended, so chunks
// of one table copied at the same time all count.
Result<int64_t> StreamRows(Stmt& st, int skip, PgConn& target, const schema::TableMapping& tm, const TableSql& sql,
                           TableProgress* progress, nlohmann::json* last_key = nullptr);
std::string BinaryCopySql(const TableSql& sql);
// Appends the current data row of `row` (replicator/row_cursor.h) to `buf`
// as one binary COPY tuple. Values the mapping cannot hold are kBlocked,
// naming the row by its key.
Status AppendCopyRow(const RowCursor& row, const schema::TableMapping& tm, const TableSql& sql, std::string* buf,
                     std::string* scratch);
// "rowid=5" or "id=5, lang='en'": a data row named by its key, for messages.
std::string DescribeRowKey(const RowCursor& row, const schema::TableMapping& tm, const TableSql& sql);

// The chunk key of the current row as JSON (typed, so text/blob/int survive).
nlohmann::json KeyToJson(sqlite3_stmt* stmt, int ncols);
// Binds a JSON key made by KeyToJson to parameters 1..n.
Status BindKeyJson(Stmt& stmt, const nlohmann::json& key);

}  // namespace slipway::replicator
