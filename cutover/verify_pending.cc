#include "cutover/verify_pending.h"

#include <algorithm>
#include <limits>

#include "replicator/changeset_keys.h"

namespace slipway::cutover {

Result<bool> TargetHasPositions(PgConn& conn) {
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT to_regclass('slipway.tables') IS NOT NULL AND "
                                         "to_regclass('slipway.migration') IS NOT NULL"));
  return r.Get(0, 0) == "t";
}

Result<bool> SourceHasChangelog(Db& db) {
  ASSIGN_OR_RETURN(auto n, db.QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                       "name IN ('_slipway_changelog', '_slipway_tables')"));
  return n.value_or(0) == 2;
}

namespace {

struct Positions {
  std::optional<int64_t> applied;  // slipway.migration.applied_seq
  std::optional<int64_t> start;    // the table's start_seq
};

Result<Positions> ReadPositions(PgConn& conn, const std::string& source_table) {
  // slipway.migration before slipway.tables: the order the stream's attach
  // locks them in, so a read transaction never waits for one holding the other.
  ASSIGN_OR_RETURN(PgResult r,
                   conn.ExecParams("SELECT (SELECT max(applied_seq) FROM slipway.migration), "
                                   "(SELECT max(start_seq) FROM slipway.tables WHERE source_table = $1)",
                                   {source_table}));
  Positions p;
  if (!r.IsNull(0, 0)) p.applied = std::stoll(r.Str(0, 0));
  if (!r.IsNull(0, 1)) p.start = std::stoll(r.Str(0, 1));
  return p;
}

}  // namespace

Result<std::optional<int64_t>> ReadTargetPosition(PgConn& conn, const std::string& source_table) {
  ASSIGN_OR_RETURN(Positions p, ReadPositions(conn, source_table));
  if (!p.start) return std::optional<int64_t>();
  return std::optional<int64_t>(std::max(*p.start, p.applied.value_or(*p.start)));
}

Result<int64_t> ReadAppliedPosition(PgConn& conn, const std::string& source_table) {
  ASSIGN_OR_RETURN(Positions p, ReadPositions(conn, source_table));
  return std::max(p.applied.value_or(0), p.start.value_or(0));
}

Result<std::optional<int64_t>> ReadChangelogHead(Db& db) {
  return db.QueryInt("SELECT max(seq) FROM _slipway_changelog");
}

Result<std::unordered_set<uint64_t>> ReadChangedKeys(Db& db, const schema::TableMapping& t,
                                                     const CompareColumns& cols, int64_t after) {
  RETURN_IF_ERROR(replicator::LoadChangesetKeys(db, after, std::numeric_limits<int64_t>::max()).status());
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT c.k1, c.k2, c.k3, c.k4 FROM _slipway_keys c "
                                       "JOIN _slipway_tables t ON t.tid = c.tid WHERE t.name = ?1 AND c.seq > ?2"));
  st.Bind(1, std::string_view(t.source)).Bind(2, after);
  std::unordered_set<uint64_t> keys;
  RowFrame frame;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    FrameChangelogKey(st.get(), 0, cols, &frame);
    keys.insert(HashRow(frame).pending);
  }
  return keys;
}

Result<std::unordered_set<uint64_t>> ReadPgChangedKeys(PgConn& conn, const CompareColumns& cols, int tid,
                                                       const std::string& applied) {
  const size_t nkey = cols.rowid ? 1 : cols.key.size();
  const size_t n = std::min<size_t>(nkey, kChangelogKeyColumns);
  // The recorded text cast to the key's type and back: the text this
  // session's COPY gives for the same key.
  std::string select;
  for (size_t i = 0; i < n; ++i) {
    const std::string type = cols.rowid ? "bigint" : cols.key[i]->type.Sql();
    select += (i ? ", " : "") + std::string("k") + std::to_string(i + 1) + "::" + type + "::text";
  }
  ASSIGN_OR_RETURN(PgResult r, conn.ExecParams("SELECT DISTINCT " + select +
                                                   " FROM slipway.changelog WHERE tid = $1 AND txid >= "
                                                   "pg_snapshot_xmin($2::pg_snapshot) AND NOT "
                                                   "pg_visible_in_snapshot(txid, $2::pg_snapshot)",
                                               {std::to_string(tid), applied}));
  std::unordered_set<uint64_t> keys;
  RowFrame frame;
  for (int row = 0; row < r.Rows(); ++row) {
    frame.Clear();
    for (size_t i = 0; i < n; ++i) {
      if (r.IsNull(row, static_cast<int>(i))) {
        frame.AddNull();
      } else {
        frame.AddPg(r.Get(row, static_cast<int>(i)), cols.KeyKind(i));
      }
    }
    frame.EndKey();
    keys.insert(HashRow(frame).pending);
  }
  return keys;
}

}  // namespace slipway::cutover
