#include "replicator/sqlite_sink.h"

#include <nlohmann/json.hpp>

#include "common/failpoint.h"
#include "common/log.h"
#include "schema/fts.h"
#include "replicator/sqlite_values.h"
#include "schema/sql_lexer.h"

namespace slipway::replicator {
namespace {

constexpr const char* kPositionKey = "reverse_position";

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
  // Touched keys land anywhere in the file, each on a table page and one
  // page per index: with SQLite's default 2 MB cache every round reads most
  // of them back from the OS. 64 MB keeps them across rounds.
  RETURN_IF_ERROR(db.Exec("PRAGMA cache_size = -65536"));
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
    for (size_t i = 0; i < t.sql.sqlite_key.size(); ++i) {
      t.where += (i ? " AND " : "") + t.sql.sqlite_key[i] + " = ?" + std::to_string(i + 1);
    }
    t.delete_sql = "DELETE FROM " + t.sql.sqlite_table + " WHERE " + t.where;
    if (t.sql.rowid_keyed) {
      t.key_pos = {0};
    } else {
      for (const auto& k : tm.key_source) {
        for (size_t c = 0; c < t.sql.column_index.size(); ++c) {
          if (tm.columns[static_cast<size_t>(t.sql.column_index[c])].source == k) t.key_pos.push_back(static_cast<int>(c));
        }
      }
    }
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
    }
    t.insert_sql = "INSERT INTO " + t.sql.sqlite_table + " (" + cols + ") VALUES (" + marks + ")";
    std::string kind_cols;
    for (size_t c = 0; c < t.sql.column_index.size(); ++c) {
      const schema::ColumnMapping& cm = tm.columns[static_cast<size_t>(t.sql.column_index[c])];
      if (schema::KindRecoverable(cm)) continue;
      t.kind_pos.push_back(static_cast<int>(c) + (t.sql.rowid_keyed ? 1 : 0));
      t.kind_cols.push_back(&cm);
      kind_cols += (kind_cols.empty() ? "" : ", ") + t.sql.sqlite_columns[c];
    }
    if (!kind_cols.empty()) t.kind_sql = "SELECT " + kind_cols + " FROM " + t.sql.sqlite_table + " WHERE " + t.where;
    tables_.emplace(it->second, std::move(t));
  }
}

Status SqliteSink::LoadFts() {
  ASSIGN_OR_RETURN(Stmt st, db_.Prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND "
                                        "sql LIKE 'CREATE VIRTUAL TABLE%'"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::optional<schema::FtsTable> f = schema::ParseFts(st.Text(0), st.Text(1));
    if (!f) continue;
    Table* content = nullptr;
    for (auto& [tid, t] : tables_) {
      if (f->external() && schema::EqualsIgnoreCase(*f->content, t.tm->source)) content = &t;
    }
    if (content == nullptr || content->tm->without_rowid) {
      if (!f->external()) {
        Logger("stream")->warn("full-text index {} ({}) is not kept in step with rows changed in PostgreSQL; after a "
                               "rollback fill it again from its source table",
                               f->name, f->content ? "contentless" : "internal content");
      }
      continue;
    }
    const std::string qf = QuoteSqliteIdent(f->name);
    const std::string rowid = f->version == 5 && f->content_rowid != "rowid" ? QuoteSqliteIdent(f->content_rowid)
                                                                             : std::string("rowid");
    std::string cols;
    for (const auto& c : f->columns) cols += ", " + QuoteSqliteIdent(c);
    Fts x;
    x.name = f->name;
    if (f->version == 5) {
      // FTS5 takes the old values with its 'delete' command.
      x.remove_sql = "INSERT INTO " + qf + "(" + qf + ", rowid" + cols + ") SELECT 'delete', " + rowid + cols +
                     " FROM " + content->sql.sqlite_table + " WHERE " + content->where;
      x.add_sql = "INSERT INTO " + qf + "(rowid" + cols + ") SELECT " + rowid + cols + " FROM " +
                  content->sql.sqlite_table + " WHERE rowid = ?1";
    } else {
      // FTS4 reads the old values from the content table itself, so the
      // index row goes before the content row.
      x.remove_sql = "DELETE FROM " + qf + " WHERE docid IN (SELECT rowid FROM " + content->sql.sqlite_table +
                     " WHERE " + content->where + ")";
      x.add_sql = "INSERT INTO " + qf + "(docid" + cols + ") SELECT rowid" + cols + " FROM " +
                  content->sql.sqlite_table + " WHERE rowid = ?1";
    }
    x.rebuild_sql = "INSERT INTO " + qf + "(" + qf + ") VALUES('rebuild')";
    content->fts.push_back(std::move(x));
  }
  fts_loaded_ = true;
  return Status::Ok();
}

Status SqliteSink::Begin() {
  RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
  open_ = true;
  for (const auto& c : new_columns_) {
    ASSIGN_OR_RETURN(Stmt has, db_.Prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2"));
    has.Bind(1, std::string_view(c.table)).Bind(2, std::string_view(c.column));
    ASSIGN_OR_RETURN(bool exists, has.Step());
    if (exists) continue;
    RETURN_IF_ERROR(db_.Exec("ALTER TABLE " + QuoteSqliteIdent(c.table) + " ADD COLUMN " + QuoteSqliteIdent(c.column) +
                             " " + c.decl));
  }
  if (!fts_loaded_) RETURN_IF_ERROR(LoadFts());
  return Status::Ok();
}

Status SqliteSink::Refused(const Table& t, const RowCursor& row, const Status& s) {
  // Busy or I/O: not the row's fault; the caller retries or stops as usual.
  if (s.code() != Code::kConflict) return s.Annotate("table " + t.tm->source + ": writing back a row");
  std::string key;
  for (size_t i = 0; i < t.key_pos.size(); ++i) {
    key += (i ? ", " : "") + (t.sql.rowid_keyed ? std::string("rowid") : t.tm->key_source[i]) + "=" +
           SqlValueText(row.Value(t.key_pos[i]));
  }
  std::string msg = "table " + t.tm->source + ", key " + key + ": SQLite refuses the row written in PostgreSQL (" +
                    s.message() + ")";
  // Name the UNIQUE index and the row already holding the value.
  const std::string unique = "UNIQUE constraint failed: ";
  const size_t at = s.message().find(unique);
  if (at != std::string::npos) {
    std::vector<std::string> cols;
    std::string list = s.message().substr(at + unique.size());
    for (size_t p = 0; p != std::string::npos;) {
      const size_t comma = list.find(", ", p);
      std::string item = list.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
      const size_t dot = item.find('.');
      cols.push_back(dot == std::string::npos ? item : item.substr(dot + 1));
      p = comma == std::string::npos ? comma : comma + 2;
    }
    auto st = db_.Prepare("SELECT l.name FROM pragma_index_list(?1) l WHERE l.\"unique\" AND (SELECT group_concat(name, "
                          "', ') FROM (SELECT i.name FROM pragma_index_info(l.name) i ORDER BY i.seqno)) = ?2");
    if (st.ok()) {
      std::string joined;
      for (const auto& c : cols) joined += (joined.empty() ? "" : ", ") + c;
      st->Bind(1, std::string_view(t.tm->source)).Bind(2, std::string_view(joined));
      auto found = st->Step();
      if (found.ok() && *found) {
        const std::string name = st->Text(0);
        msg += "; constraint: unique index " + (name.rfind("sqlite_autoindex_", 0) == 0 ? "UNIQUE (" + joined + ")" : name);
      }
    }
    std::string where;
    std::vector<int> pos;
    for (const auto& c : cols) {
      for (size_t i = 0; i < t.sql.column_index.size(); ++i) {
        if (t.tm->columns[static_cast<size_t>(t.sql.column_index[i])].source == c) {
          where += (where.empty() ? "" : " AND ") + QuoteSqliteIdent(c) + " = ?" + std::to_string(pos.size() + 1);
          pos.push_back(static_cast<int>(i) + (t.sql.rowid_keyed ? 1 : 0));
        }
      }
    }
    std::string keys;
    for (const auto& k : t.sql.sqlite_key) keys += (keys.empty() ? "" : ", ") + k;
    if (pos.size() == cols.size()) {
      auto other = db_.Prepare("SELECT " + keys + " FROM " + t.sql.sqlite_table + " WHERE " + where + " LIMIT 1");
      if (other.ok()) {
        for (size_t i = 0; i < pos.size(); ++i) BindSqlValue(*other, static_cast<int>(i) + 1, row.Value(pos[i]));
        auto found = other->Step();
        if (found.ok() && *found) {
          std::string held;
          for (int i = 0; i < other->ColumnCount(); ++i) {
            held += (i ? ", " : "") + other->ColumnName(i) + "=" + other->Text(i);
          }
          msg += ", already held by the row " + held;
        }
      }
    }
  }
  msg += ". The stream stops here and drops nothing: change the row in PostgreSQL so SQLite accepts it (or undo it), "
         "then start the stream again";
  return Status(Code::kBlocked, msg);
}

Status SqliteSink::InsertRows(const Table& t, RowCursor& rows, const RowidsByKey* rowids, const KindsByKey* kinds,
                               bool index_fts, RoundStats* stats) {
  ASSIGN_OR_RETURN(Stmt ins, db_.Prepare(t.insert_sql));
  std::vector<Stmt> adds;
  if (index_fts) {
    for (const auto& f : t.fts) {
      ASSIGN_OR_RETURN(Stmt a, db_.Prepare(f.add_sql));
      adds.push_back(std::move(a));
    }
  }
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
    for (int c = 0; c < ncols; ++c) BindSqlValue(ins, c + 1, rows.Value(c));
    if (kinds != nullptr && !kinds->empty()) {
      key.clear();
      for (int p : t.key_pos) AppendKeyBytes(rows.Value(p), &key);
      auto old = kinds->find(key);
      for (size_t j = 0; old != kinds->end() && j < t.kind_pos.size(); ++j) {
        const schema::SqlValue was = old->second[j].view();
        const schema::SqlValue now = rows.Value(t.kind_pos[j]);
        if (was.type != SQLITE_NULL && now.type != SQLITE_NULL && was.type != now.type &&
            schema::SameInPostgres(was, now, *t.kind_cols[j])) {
          BindSqlValue(ins, t.kind_pos[j] + 1, was);
        }
      }
    }
    if (t.keep_rowid) {
      // The rowid the row had; a new row the next one.
      key.clear();
      for (int p : t.key_pos) AppendKeyBytes(rows.Value(p), &key);
      auto it = rowids != nullptr ? rowids->find(key) : RowidsByKey::const_iterator();
      if (rowids != nullptr && it != rowids->end()) {
        ins.Bind(ncols + 1, it->second);
      } else {
        ins.Bind(ncols + 1, ++next_rowid);
      }
    }
    Status s = ins.Run();
    // A constraint SQLite enforces and PostgreSQL did not: the round stops.
    if (!s.ok()) return Refused(t, rows, s);
    const int64_t rowid = sqlite3_last_insert_rowid(db_.get());
    for (auto& a : adds) {
      RETURN_IF_ERROR(a.Reset());
      a.Bind(1, rowid);
      Status fs = a.Run();
      if (!fs.ok()) return fs.Annotate("table " + t.tm->source + ": indexing the row in its full-text index");
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
  RETURN_IF_ERROR(InsertRows(it->second, rows, nullptr, nullptr, /*index_fts=*/false, stats));
  for (const auto& f : it->second.fts) RETURN_IF_ERROR(db_.Exec(f.rebuild_sql));
  return Status::Ok();
}

Status SqliteSink::Apply(TableRound round, RoundStats* stats) {
  auto it = tables_.find(round.tid);
  if (it == tables_.end()) return Status::Ok();
  const Table& t = it->second;
  ++stats->tables;
  // Every touched key is deleted before any row is written.
  ASSIGN_OR_RETURN(std::unique_ptr<RowCursor> keys, round.keys());
  ASSIGN_OR_RETURN(Stmt del, db_.Prepare(t.delete_sql));
  std::vector<Stmt> removes;  // full-text entries of the old rows, before the rows go
  for (const auto& f : t.fts) {
    ASSIGN_OR_RETURN(Stmt r, db_.Prepare(f.remove_sql));
    removes.push_back(std::move(r));
  }
  const int nkey = static_cast<int>(t.sql.sqlite_key.size());
  RowidsByKey rowids;
  KindsByKey kinds;
  std::optional<Stmt> kind_read;
  if (!t.kind_sql.empty()) {
    ASSIGN_OR_RETURN(Stmt k, db_.Prepare(t.kind_sql));
    kind_read = std::move(k);
  }
  std::string key;
  while (true) {
    ASSIGN_OR_RETURN(bool row, keys->Next());
    if (!row) break;
    ++stats->keys;
    if (kind_read) {
      RETURN_IF_ERROR(kind_read->Reset());
      for (int i = 0; i < nkey; ++i) BindSqlValue(*kind_read, i + 1, keys->Value(i));
      ASSIGN_OR_RETURN(bool found, kind_read->Step());
      if (found) {
        key.clear();
        for (int i = 0; i < nkey; ++i) AppendKeyBytes(keys->Value(i), &key);
        std::vector<schema::OwnedValue>& values = kinds[key];
        values.resize(t.kind_pos.size());
        for (size_t j = 0; j < t.kind_pos.size(); ++j) {
          values[j] = schema::OwnedValue::Of(schema::SqlValue::FromColumn(kind_read->get(), static_cast<int>(j)));
        }
      }
    }
    for (auto& r : removes) {
      RETURN_IF_ERROR(r.Reset());
      for (int i = 0; i < nkey; ++i) BindSqlValue(r, i + 1, keys->Value(i));
      RETURN_IF_ERROR(r.Run());
    }
    RETURN_IF_ERROR(del.Reset());
    for (int i = 0; i < nkey; ++i) BindSqlValue(del, i + 1, keys->Value(i));
    if (!t.keep_rowid) {
      RETURN_IF_ERROR(del.Run());
      continue;
    }
    ASSIGN_OR_RETURN(bool deleted, del.Step());
    if (!deleted) continue;
    key.clear();
    for (int i = 0; i < nkey; ++i) AppendKeyBytes(keys->Value(i), &key);
    rowids[key] = del.Int(0);
    RETURN_IF_ERROR(del.Run());
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RowCursor> rows, round.rows());
  return InsertRows(t, *rows, &rowids, &kinds, /*index_fts=*/true, stats);
}

Status SqliteSink::Commit(const Position& to, RoundStats* /*stats*/) {
  const nlohmann::json pos = {{"cycle", cycle_}, {"seq", to.seq}, {"snapshot", to.snapshot}};
  ASSIGN_OR_RETURN(Stmt st, db_.Prepare("INSERT OR REPLACE INTO _slipway_meta (key, value) VALUES (?1, ?2)"));
  st.Bind(1, std::string_view(kPositionKey)).Bind(2, std::string_view(pos.dump()));
  RETURN_IF_ERROR(st.Run());
  RETURN_IF_ERROR(FailpointStatus("reverse.before_commit"));
  RETURN_IF_ERROR(db_.Exec("COMMIT"));
  open_ = false;
  new_columns_.clear();
  SLIPWAY_FAILPOINT("reverse.after_commit");
  return Status::Ok();
}

void SqliteSink::Abort() {
  if (open_) (void)db_.Exec("ROLLBACK");
  open_ = false;
}

}  // namespace slipway::replicator
