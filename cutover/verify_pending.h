#pragma once
// What lets verify tell a key that changed after the target's position
// ("pending": the stream has not applied it yet) from a real mismatch. Both
// halves are optional: the target's positions (slipway.tables.start_seq per
// table, slipway.migration.applied_seq) and the source's changelog
// (_slipway_changelog with k1..k4 = the key values, _slipway_tables naming
// each tid). Without either, every difference is a mismatch.
// Thread-safety: each function uses only the connection it is given.

#include <cstdint>
#include <optional>
#include <unordered_set>

#include "common/pg.h"
#include "common/sqlite.h"
#include "cutover/verify_read.h"
#include "schema/mapping.h"

namespace slipway::cutover {

// True when slipway.tables and slipway.migration exist in the target.
Result<bool> TargetHasPositions(PgConn& conn);
// True when _slipway_changelog and _slipway_tables exist in the source.
Result<bool> SourceHasChangelog(Db& db);

// The position the target has applied for `source_table`: the greater of the
// table's start_seq and migration.applied_seq; nullopt when the table has no
// start position. Read it in the same transaction as the rows.
Result<std::optional<int64_t>> ReadTargetPosition(PgConn& conn, const std::string& source_table);

// The same, for a table whose copy may not have started: 0 stands for no
// position.
Result<int64_t> ReadAppliedPosition(PgConn& conn, const std::string& source_table);

// The newest changelog seq, read in the same read transaction as the rows.
Result<std::optional<int64_t>> ReadChangelogHead(Db& db);

// The changelog keys of table `t` changed after `after`, as the pending hash
// of RowHashes (the first kChangelogKeyColumns key components).
Result<std::unordered_set<uint64_t>> ReadChangedKeys(Db& db, const schema::TableMapping& t,
                                                     const CompareColumns& cols, int64_t after);

// After the cutover the changes flow the other way: the keys of table `tid`
// that PostgreSQL's changelog (reverse capture) holds for transactions not
// visible in `applied` (the pg_snapshot SQLite holds), framed like the
// target's keys. REQUIRES: the session runs schema::kCanonicalSessionSql.
Result<std::unordered_set<uint64_t>> ReadPgChangedKeys(PgConn& conn, const CompareColumns& cols, int tid,
                                                       const std::string& applied);

}  // namespace slipway::cutover
