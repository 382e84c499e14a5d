#include "cutover/verify_read.h"

#include <strings.h>

#include <algorithm>

#include "cutover/copy_text.h"

namespace slipway::cutover {
namespace {

// The rowid as a column: a bigint, written natively.
const schema::ColumnMapping& RowidMapping() {
  static const schema::ColumnMapping kRowid = [] {
    schema::ColumnMapping m;
    m.source = "rowid";
    m.target = schema::kRowidColumn;
    m.type.kind = schema::PgKind::kBigint;
    m.repr = schema::Repr::kNative;
    return m;
  }();
  return kRowid;
}

// SQLite's names for the rowid; a column of the same name hides one.
Result<std::string> RowidAlias(const schema::TableMapping& t) {
  for (const char* alias : {"rowid", "_rowid_", "oid"}) {
    bool taken = false;
    for (const auto& c : t.columns) taken = taken || strcasecmp(c.source.c_str(), alias) == 0;
    if (!taken) return std::string(alias);
  }
  return Status(Code::kConflict, "table \"" + t.source + "\" has columns named rowid, _rowid_ and oid: its rowid cannot be read");
}

}  // namespace

Result<CompareColumns> CompareColumns::For(const schema::TableMapping& t) {
  CompareColumns c;
  c.rowid = t.key_kind == schema::KeyKind::kRowid;
  if (!c.rowid) {
    if (t.key_source.empty()) return Internal("table \"" + t.source + "\" has no key in the plan");
    for (const auto& name : t.key_source) {
      const schema::ColumnMapping* m = t.FindSource(name);
      if (m == nullptr) return Internal("key column \"" + name + "\" of \"" + t.source + "\" is not in the plan");
      c.key.push_back(m);
    }
  }
  for (const auto& m : t.columns) {
    if (!m.skip) c.values.push_back(&m);
  }
  return c;
}

schema::PgKind CompareColumns::KeyKind(size_t i) const {
  return rowid ? schema::PgKind::kBigint : key[i]->type.kind;
}

Result<std::vector<std::string>> SqliteKeyExprs(const schema::TableMapping& t, const CompareColumns& cols) {
  std::vector<std::string> out;
  if (cols.rowid) {
    ASSIGN_OR_RETURN(std::string alias, RowidAlias(t));
    out.push_back(alias);
  } else {
    for (const auto* k : cols.key) out.push_back(QuoteSqliteIdent(k->source));
  }
  return out;
}

Result<std::string> SqliteRowsSelect(const schema::TableMapping& t, const CompareColumns& cols) {
  ASSIGN_OR_RETURN(std::vector<std::string> keys, SqliteKeyExprs(t, cols));
  std::string sql = "SELECT ";
  for (size_t i = 0; i < keys.size(); ++i) sql += (i ? ", " : "") + keys[i];
  for (const auto* m : cols.values) sql += ", " + QuoteSqliteIdent(m->source);
  return sql + " FROM " + QuoteSqliteIdent(t.source);
}

void FrameSqliteRow(sqlite3_stmt* stmt, const CompareColumns& cols, RowFrame* frame) {
  const int nkey = cols.rowid ? 1 : static_cast<int>(cols.key.size());
  frame->Clear();
  for (int i = 0; i < nkey; ++i) {
    frame->AddSqlite(schema::SqlValue::FromColumn(stmt, i), cols.rowid ? RowidMapping() : *cols.key[static_cast<size_t>(i)]);
  }
  frame->EndKey();
  for (size_t i = 0; i < cols.values.size(); ++i) {
    frame->AddSqlite(schema::SqlValue::FromColumn(stmt, nkey + static_cast<int>(i)), *cols.values[i]);
  }
}

Status ReadSqliteTable(Db& db, const schema::TableMapping& t, const CompareColumns& cols, const RowFn& fn) {
  ASSIGN_OR_RETURN(std::string sql, SqliteRowsSelect(t, cols));
  ASSIGN_OR_RETURN(Stmt st, db.Prepare(sql));
  RowFrame frame;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    FrameSqliteRow(st.get(), cols, &frame);
    RETURN_IF_ERROR(fn(frame));
  }
  return Status::Ok();
}

std::vector<std::string> PgKeyColumns(const CompareColumns& cols) {
  std::vector<std::string> out;
  if (cols.rowid) {
    out.push_back(QuotePgIdent(schema::kRowidColumn));
  } else {
    for (const auto* k : cols.key) out.push_back(QuotePgIdent(k->target));
  }
  return out;
}

std::string PgRowsSelect(const std::string& pg_schema, const schema::TableMapping& t, const CompareColumns& cols) {
  std::string sql = "SELECT ";
  const std::vector<std::string> keys = PgKeyColumns(cols);
  for (size_t i = 0; i < keys.size(); ++i) sql += (i ? ", " : "") + keys[i];
  for (const auto* m : cols.values) sql += ", " + QuotePgIdent(m->target);
  return sql + " FROM " + QuotePgIdent(pg_schema) + "." + QuotePgIdent(t.target);
}

void FramePgRow(const PgResult& r, int row, const CompareColumns& cols, RowFrame* frame) {
  const size_t nkey = cols.rowid ? 1 : cols.key.size();
  const size_t width = nkey + cols.values.size();
  frame->Clear();
  for (size_t i = 0; i < width; ++i) {
    if (i == nkey) frame->EndKey();
    const schema::PgKind kind = i < nkey ? cols.KeyKind(i) : cols.values[i - nkey]->type.kind;
    if (r.IsNull(row, static_cast<int>(i))) {
      frame->AddNull();
    } else {
      frame->AddPg(r.Get(row, static_cast<int>(i)), kind);
    }
  }
  if (width == nkey) frame->EndKey();
}

Status ReadPgTable(PgConn& conn, const std::string& pg_schema, const schema::TableMapping& t,
                   const CompareColumns& cols, const RowFn& fn) {
  const std::string sql = "COPY (" + PgRowsSelect(pg_schema, t, cols) + ") TO STDOUT";
  RETURN_IF_ERROR(conn.Run(sql));
  const size_t nkey = cols.rowid ? 1 : cols.key.size();
  const size_t width = nkey + cols.values.size();
  CopyTextParser parser;
  RowFrame frame;
  Status failed;
  while (true) {
    char* buf = nullptr;
    const int n = PQgetCopyData(conn.get(), &buf, /*async=*/0);
    if (n < 0) break;  // -1: done; -2: error, reported by the result below
    std::string_view line(buf, static_cast<size_t>(n));
    // After an error keep draining: the connection must leave COPY state.
    if (failed.ok()) {
      if (!parser.Parse(line) || parser.size() != width) {
        failed = Internal("unexpected COPY row from \"" + t.target + "\"");
      } else {
        frame.Clear();
        for (size_t i = 0; i < width; ++i) {
          if (i == nkey) frame.EndKey();
          const schema::PgKind kind = i < nkey ? cols.KeyKind(i) : cols.values[i - nkey]->type.kind;
          if (parser.IsNull(i)) {
            frame.AddNull();
          } else {
            frame.AddPg(parser.Field(i), kind);
          }
        }
        if (width == nkey) frame.EndKey();
        failed = fn(frame);
      }
    }
    PQfreemem(buf);
  }
  Status copy_status;
  while (PGresult* raw = PQgetResult(conn.get())) {
    PgResult r(raw);
    if (PQresultStatus(raw) != PGRES_COMMAND_OK && copy_status.ok()) {
      const Code code = PQstatus(conn.get()) != CONNECTION_OK ? Code::kRetryable : Code::kInternal;
      std::string msg = PQresultErrorMessage(raw);
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      copy_status = Status(code, "COPY from \"" + t.target + "\": " + msg);
    }
  }
  if (!failed.ok()) return failed;
  return copy_status;
}

void FrameChangelogKey(sqlite3_stmt* stmt, int first, const CompareColumns& cols, RowFrame* frame) {
  frame->Clear();
  const size_t nkey = cols.rowid ? 1 : cols.key.size();
  const size_t n = std::min<size_t>(nkey, kChangelogKeyColumns);
  for (size_t i = 0; i < n; ++i) {
    frame->AddSqlite(schema::SqlValue::FromColumn(stmt, first + static_cast<int>(i)),
                     cols.rowid ? RowidMapping() : *cols.key[i]);
  }
  frame->EndKey();
}

}  // namespace slipway::cutover
