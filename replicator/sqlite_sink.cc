#include "replicator/sqlite_sink.h"

#include <nlohmann/json.hpp>

#include "common/failpoint.h"
#include "replicator/table_copy.h"

namespace slipway::replicator {
namespace {

constexpr const char* kPositionKey = "reverse_position";

void BindValue(Stmt& st, int i, const schema::SqlValue& v) {
  switch (v.type) {
    case SQLITE_INTEGER: st.Bind(i, v.i); break;
    case SQLITE_FLOAT: st.Bind(i, v.d); break;
    case SQLITE_TEXT: st.Bind(i, v.bytes); break;
    case SQLITE_BLOB: st.BindBlob(i, v.bytes.data(), static_cast<int>(v.bytes.size())); break;
    default: st.BindNull(i); break;
  }
}

// The bytes of a key, for matching a deleted row's key to its new row; each
// part is self-delimiting so that (1, 11) and (11, 1) differ.
void AppendKeyPart(const schema::SqlValue& v, std::string* out) {
  out->push_back(static_cast<char>('0' + v.type));
  switch (v.type) {
    case SQLITE_INTEGER: out->append(std::to_string(v.i)).append(";"); break;
    case SQLITE_FLOAT: out->append(reinterpret_cast<const char*>(&v.d), sizeof v.d); break;
    case SQLITE_TEXT:
    case SQLITE_BLOB: out->append(std::to_string(v.bytes.size())).append(":").append(v.bytes); break;
    default: break;
  }
}

// Whether the table's one-column INTEGER primary key is its rowid.
bool KeyIsRowid(Db& db, const schema::TableMapping& tm) {
  if (tm.key_source.size() != 1) return false;
  auto st = db.Prepare("SELECT upper(type) FROM pragma_table_info(?1) WHERE pk > 0");
  if (!st.ok()) return false;
  st->Bind(1, std::string_view(tm.source));
  auto row = st->Step();
  return row.ok() && *row && st->Text(0) == "INTEGER";
}

}  // namespace

Result<Db> OpenReverseSinkDb(const std::string& path) {
  ASSIGN_OR_RETURN(Db db, Db::Open(path, Db::Mode::kReadWrite));
  int on = 1;
  if (sqlite3_db_config(db.get(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &on) != SQLITE_OK || on != 0) {
    return Status(Code::kInternal, "could not turn triggers off on the reverse applier's connection");
  }
  RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys = OFF"));
  return db;
}

Result<std::optional<Position>> ReadReversePosition(Db& db, int cycle) {
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT value FROM _slipway_meta WHERE key = ?1"));
  st.Bind(1, std::string_view(kPositionKey));
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row || st.IsNull(0)) return std::optional<Position>();
  auto j = nlohmann::json::parse(st.Text(0), nullptr, false);
  if (j.is_discarded() || j.value("cycle", -1) != cycle) return std::optional<Position>();
  return std::optional<Position>(Position{j.value("seq", int64_t{0}), j.value("snapshot", std::string())});
}

SqliteSink::SqliteSink(Db& db, const schema::Plan& plan, const std::map<std::string, int>& tids, int cycle)
    : db_(db), cycle_(cycle) {
  for (const auto& tm : plan.tables) {
    auto it = tids.find(tm.source);
    if (it == tids.end()) continue;
    Table t;
    t.tm = &tm;
    t.sql = BuildTableSql(tm, plan.options.pg_schema);
    std::string where;
    for (size_t i = 0; i < t.sql.sqlite_key.size(); ++i) {
      where += (i ? " AND " : "") + t.sql.sqlite_key[i] + " = ?" + std::to_string(i + 1);
    }
    t.delete_sql = "DELETE FROM " + t.sql.sqlite_table + " WHERE " + where;
    std::string cols, marks;
    int n = 0;
    if (t.sql.rowid_keyed) {
      cols = t.sql.sqlite_key[0];
      marks = "?1";
      n = 1;
    }
    for (const auto& c : t.sql.sqlite_columns) {
      cols += (n ? ", " : "") + c;
      marks += (n ? ", ?" : "?") + std::to_string(n + 1);
      ++n;
    }
    t.keep_rowid = !t.sql.rowid_keyed && !tm.without_rowid && !KeyIsRowid(db, tm);
    if (t.keep_rowid) {
      const std::string rowid = FreeRowidName(tm);
      t.delete_sql += " RETURNING " + rowid;
      cols = rowid + ", " + cols;
      marks = "?" + std::to_string(n + 1) + ", " + marks;
      for (const auto& k : tm.key_source) {
        for (size_t c = 0; c < t.sql.column_index.size(); ++c) {
          if (tm.columns[static_cast<size_t>(t.sql.column_index[c])].source == k) t.key_pos.push_back(static_cast<int>(c));
        }
      }
    }
    t.insert_sql = "INSERT INTO " + t.sql.sqlite_table + " (" + cols + ") VALUES (" + marks + ")";
    tables_.emplace(it->second, std::move(t));
  }
}

Status SqliteSink::Begin() {
  RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
  open_ = true;
  return Status::Ok();
}

Status SqliteSink::InsertRows(const Table& t, RowCursor& rows, const RowidsByKey* rowids, RoundStats* stats) {
  ASSIGN_OR_RETURN(Stmt ins, db_.Prepare(t.insert_sql));
  const int ncols = static_cast<int>(t.sql.sqlite_columns.size()) + (t.sql.rowid_keyed ? 1 : 0);
  std::string key;
  // A new row takes the rowid SQLite would give it, past every rowid kept
  // for a row still to be written back in this round.
  int64_t next_rowid = 0;
  if (t.keep_rowid) {
    ASSIGN_OR_RETURN(auto top, db_.QueryInt("SELECT max(" + FreeRowidName(*t.tm) + ") FROM " + t.sql.sqlite_table));
    next_rowid = top.value_or(0);
    if (rowids != nullptr) {
      for (const auto& [k, r] : *rowids) next_rowid = std::max(next_rowid, r);
    }
  }
  while (true) {
    ASSIGN_OR_RETURN(bool row, rows.Next());
    if (!row) break;
    RETURN_IF_ERROR(ins.Reset());
    for (int c = 0; c < ncols; ++c) BindValue(ins, c + 1, rows.Value(c));
    if (t.keep_rowid) {
      // The rowid the row had; a new row gets a new one (NULL).
      key.clear();
      for (int p : t.key_pos) AppendKeyPart(rows.Value(p), &key);
      auto it = rowids != nullptr ? rowids->find(key) : RowidsByKey::const_iterator();
      if (rowids != nullptr && it != rowids->end()) {
        ins.Bind(ncols + 1, it->second);
      } else {
        ins.Bind(ncols + 1, ++next_rowid);
      }
    }
    Status s = ins.Run();
    if (!s.ok()) {
      // A constraint SQLite enforces and PostgreSQL did not (e.g. a NOCASE
      // unique index): the round stops, naming the row; never dropped.
      return Status(s.code() == Code::kRetryable ? Code::kRetryable : Code::kBlocked,
                    "table " + t.tm->source + ", " + DescribeRowKey(rows, *t.tm, t.sql) +
                        ": writing back a row changed in PostgreSQL: " + s.message());
    }
    ++stats->upserts;
  }
  return Status::Ok();
}

Status SqliteSink::CopyWhole(int tid, RowCursor& rows, RoundStats* stats) {
  auto it = tables_.find(tid);
  if (it == tables_.end()) return Status::Ok();
  RETURN_IF_ERROR(db_.Exec("DELETE FROM " + it->second.sql.sqlite_table));
  stats->copy_path = true;
  return InsertRows(it->second, rows, nullptr, stats);
}

Status SqliteSink::Apply(TableRound round, RoundStats* stats) {
  auto it = tables_.find(round.tid);
  if (it == tables_.end()) return Status::Ok();
  const Table& t = it->second;
  ++stats->tables;
  // Every touched key is deleted before any row is written.
  ASSIGN_OR_RETURN(std::unique_ptr<RowCursor> keys, round.keys());
  ASSIGN_OR_RETURN(Stmt del, db_.Prepare(t.delete_sql));
  const int nkey = static_cast<int>(t.sql.sqlite_key.size());
  RowidsByKey rowids;
  std::string key;
  while (true) {
    ASSIGN_OR_RETURN(bool row, keys->Next());
    if (!row) break;
    ++stats->keys;
    RETURN_IF_ERROR(del.Reset());
    for (int i = 0; i < nkey; ++i) BindValue(del, i + 1, keys->Value(i));
    if (!t.keep_rowid) {
      RETURN_IF_ERROR(del.Run());
      continue;
    }
    ASSIGN_OR_RETURN(bool deleted, del.Step());
    if (!deleted) continue;
    key.clear();
    for (int i = 0; i < nkey; ++i) AppendKeyPart(keys->Value(i), &key);
    rowids[key] = del.Int(0);
    RETURN_IF_ERROR(del.Run());
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RowCursor> rows, round.rows());
  return InsertRows(t, *rows, &rowids, stats);
}

Status SqliteSink::Commit(const Position& to, RoundStats* /*stats*/) {
  const nlohmann::json pos = {{"cycle", cycle_}, {"seq", to.seq}, {"snapshot", to.snapshot}};
  ASSIGN_OR_RETURN(Stmt st, db_.Prepare("INSERT OR REPLACE INTO _slipway_meta (key, value) VALUES (?1, ?2)"));
  st.Bind(1, std::string_view(kPositionKey)).Bind(2, std::string_view(pos.dump()));
  RETURN_IF_ERROR(st.Run());
  RETURN_IF_ERROR(FailpointStatus("reverse.before_commit"));
  RETURN_IF_ERROR(db_.Exec("COMMIT"));
  open_ = false;
  SLIPWAY_FAILPOINT("reverse.after_commit");
  return Status::Ok();
}

void SqliteSink::Abort() {
  if (open_) (void)db_.Exec("ROLLBACK");
  open_ = false;
}

}  // namespace slipway::replicator
