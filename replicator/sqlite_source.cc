#include "replicator/sqlite_source.h"

#include <algorithm>

#include "replicator/changeset_keys.h"

namespace slipway::replicator {
namespace {

constexpr const char* kRange = " FROM _slipway_changelog WHERE tid = ?1 AND seq > ?2 AND seq <= ?3";
// The same range with the keys of changesets (replicator/changeset_keys.h).
constexpr const char* kKeysRange = " FROM _slipway_keys WHERE tid = ?1 AND seq > ?2 AND seq <= ?3";

std::string KeyColumnsList(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i ? ", " : "") + std::string("k") + std::to_string(i + 1);
  return out;
}

std::string SelectColumns(const TableSql& sql) {
  std::string select = "SELECT ";
  if (sql.rowid_keyed) select += sql.sqlite_key[0] + ", ";
  for (size_t i = 0; i < sql.sqlite_columns.size(); ++i) select += (i ? ", " : "") + sql.sqlite_columns[i];
  return select;
}

}  // namespace

Result<int64_t> NewestChangelogSeq(Db& db) {
  ASSIGN_OR_RETURN(auto newest, db.QueryInt("SELECT max(seq) FROM _slipway_changelog"));
  return newest.value_or(0);
}

SqliteChangelogSource::SqliteChangelogSource(Db& db, const schema::Plan& plan, const std::map<std::string, int>& tids)
    : db_(db), tids_(tids) {
  for (const auto& tm : plan.tables) {
    auto it = tids.find(tm.source);
    if (it == tids.end()) continue;
    Table t;
    t.sql = BuildTableSql(tm, plan.options.pg_schema);
    const size_t nkey = t.sql.sqlite_key.size();
    std::string lhs;
    if (nkey == 1) {
      lhs = t.sql.sqlite_key[0];
    } else {
      lhs = "(";
      for (size_t i = 0; i < nkey; ++i) lhs += (i ? ", " : "") + t.sql.sqlite_key[i];
      lhs += ")";
    }
    for (const char* range : {kRange, kKeysRange}) {
      const int i = range == kRange ? 0 : 1;
      t.rows_query[i] = SelectColumns(t.sql) + " FROM " + t.sql.sqlite_table + " WHERE " + lhs + " IN (SELECT " +
                        KeyColumnsList(nkey) + range + ")";
      t.keys_query[i] = "SELECT DISTINCT " + KeyColumnsList(nkey) + range;
    }
    tables_.emplace(it->second, std::move(t));
  }
}

Result<const SqliteChangelogSource::Table*> SqliteChangelogSource::Find(int tid) const {
  auto it = tables_.find(tid);
  if (it == tables_.end()) return Status(Code::kInternal, "no replicated table with id " + std::to_string(tid));
  return &it->second;
}

Result<Position> SqliteChangelogSource::BeginRead() {
  RETURN_IF_ERROR(db_.Exec("BEGIN"));
  auto newest = NewestChangelogSeq(db_);
  if (!newest.ok()) {
    EndRead();
    return newest.status();
  }
  return Position{*newest, ""};
}

void SqliteChangelogSource::EndRead() { (void)db_.Exec("COMMIT"); }

Result<std::vector<TableTouch>> SqliteChangelogSource::Touched(const Position& from, const Position& to) {
  std::vector<TableTouch> out;
  changesets_ = 0;
  ASSIGN_OR_RETURN(Db::Lent lent, db_.Cached("SELECT tid, count(*) FROM _slipway_changelog WHERE seq > ?1 AND seq <= ?2 "
                                            "GROUP BY tid"));
  Stmt& st = *lent;
  st.Bind(1, from.seq).Bind(2, to.seq);
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    if (st.Int(0) == 0) {
      changesets_ = st.Int(1);
      continue;
    }
    // Tables that are not replicated (any more) are skipped.
    if (tables_.count(static_cast<int>(st.Int(0))) == 0) continue;
    out.push_back({static_cast<int>(st.Int(0)), st.Int(1)});
  }
  if (changesets_ == 0) return out;
  ASSIGN_OR_RETURN(DecodedKeys decoded, changesets_loader_.Load(tids_, from.seq, to.seq));
  for (const auto& [tid, n] : decoded.changes) {
    if (tables_.count(tid) == 0) continue;
    auto it = std::find_if(out.begin(), out.end(), [tid = tid](const TableTouch& t) { return t.tid == tid; });
    if (it == out.end()) {
      out.push_back({tid, n});
    } else {
      it->changes += n;
    }
  }
  return out;
}

Result<std::unique_ptr<RowCursor>> SqliteChangelogSource::Range(const std::string& sql, int tid, const Position& from,
                                                                const Position& to) {
  ASSIGN_OR_RETURN(Db::Lent st, db_.Cached(sql));
  st->Bind(1, static_cast<int64_t>(tid)).Bind(2, from.seq).Bind(3, to.seq);
  return std::unique_ptr<RowCursor>(std::make_unique<StmtCursor>(std::move(st)));
}

Result<std::unique_ptr<RowCursor>> SqliteChangelogSource::Keys(int tid, const Position& from, const Position& to) {
  ASSIGN_OR_RETURN(const Table* t, Find(tid));
  return Range(t->keys_query[changesets_ > 0 ? 1 : 0], tid, from, to);
}

Result<std::unique_ptr<RowCursor>> SqliteChangelogSource::Rows(int tid, const Position& from, const Position& to) {
  ASSIGN_OR_RETURN(const Table* t, Find(tid));
  return Range(t->rows_query[changesets_ > 0 ? 1 : 0], tid, from, to);
}

Result<std::unique_ptr<RowCursor>> SqliteChangelogSource::AllRows(int tid) {
  ASSIGN_OR_RETURN(const Table* t, Find(tid));
  ASSIGN_OR_RETURN(Stmt st, db_.Prepare(SelectColumns(t->sql) + " FROM " + t->sql.sqlite_table));
  return std::unique_ptr<RowCursor>(std::make_unique<StmtCursor>(std::move(st)));
}

}  // namespace slipway::replicator
