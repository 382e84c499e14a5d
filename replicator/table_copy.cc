#include "replicator/table_copy.h"

#include "replicator/sqlite_source.h"

#include "common/failpoint.h"
#include "schema/binary_codec.h"
#include "schema/codec.h"

namespace slipway::replicator {
namespace {

constexpr size_t kCopyFlushBytes = 256 * 1024;

std::string Hex(std::string_view bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Ends a SQLite read transaction on every path.
struct ReadTx {
  Db& db;
  ~ReadTx() { (void)db.Exec("COMMIT"); }
};

// Streams the rows of `st` into an open COPY as binary tuples. Columns of
// `st`: [skip] leading columns, then [rowid if rowid-keyed], then the mapped
// columns in TableSql order. Returns the number of rows.
nlohmann::json ValuesToJson(const std::vector<schema::SqlValue>& vals) {
  nlohmann::json key = nlohmann::json::array();
  for (const auto& v : vals) {
    switch (v.type) {
      case SQLITE_INTEGER: key.push_back({{"i", v.i}}); break;
      case SQLITE_FLOAT: key.push_back({{"r", v.d}}); break;
      case SQLITE_TEXT: key.push_back({{"t", Hex(v.bytes)}}); break;
      case SQLITE_BLOB: key.push_back({{"b", Hex(v.bytes)}}); break;
      default: key.push_back(nullptr); break;
    }
  }
  return key;
}

}  // namespace

Status AppendCopyRow(const RowCursor& row, const schema::TableMapping& tm, const TableSql& sql, std::string* buf,
                     std::string* scratch) {
  const int16_t nfields = static_cast<int16_t>(sql.pg_columns.size());
  const int first_data = sql.rowid_keyed ? 1 : 0;
  schema::AppendInt16(nfields, buf);
  if (sql.rowid_keyed) {
    schema::AppendInt32(8, buf);
    schema::AppendInt64(row.Value(0).i, buf);
  }
  for (size_t c = 0; c < sql.column_index.size(); ++c) {
    const schema::SqlValue v = row.Value(first_data + static_cast<int>(c));
    if (v.type == SQLITE_NULL) {
      schema::AppendBinaryNull(buf);
      continue;
    }
    const schema::ColumnMapping& cm = tm.columns[static_cast<size_t>(sql.column_index[c])];
    Status s = schema::EncodeBinaryField(v, cm, buf, scratch);
    if (!s.ok()) return Status(Code::kBlocked, "table " + tm.source + ", " + DescribeRowKey(row, tm, sql) + ", column " + cm.source + ": " + s.message());
  }
  return Status::Ok();
}

std::string DescribeRowKey(const RowCursor& row, const schema::TableMapping& tm, const TableSql& sql) {
  // The rowid for tables keyed by it, else the primary key's values among
  // the mapped columns.
  if (sql.rowid_keyed) return "rowid=" + std::to_string(row.Value(0).i);
  std::string key;
  for (const auto& k : tm.key_source) {
    for (size_t c = 0; c < sql.column_index.size(); ++c) {
      if (tm.columns[static_cast<size_t>(sql.column_index[c])].source != k) continue;
      key += (key.empty() ? "" : ", ") + k + "=" + schema::DescribeValue(row.Value(static_cast<int>(c)));
    }
  }
  return key;
}

Result<int64_t> StreamRows(Stmt& st, int skip, PgConn& target, const schema::TableMapping& tm, const TableSql& sql,
                           TableProgress* progress, nlohmann::json* last_key) {
  TableProgress unused;
  if (progress == nullptr) progress = &unused;
  std::vector<schema::SqlValue> key_vals(static_cast<size_t>(last_key != nullptr ? skip : 0));
  std::vector<std::string> key_bytes(key_vals.size());
  std::string buf, scratch;
  buf.reserve(kCopyFlushBytes + 64 * 1024);
  schema::AppendBinaryHeader(&buf);
  int64_t rows = 0;
  int64_t reported = 0;  // rows of this call already added to progress->rows
  while (true) {
    auto has = st.Step();
    if (!has.ok()) return has.status().Annotate("read " + tm.source);
    if (!*has) break;
    sqlite3_stmt* raw = st.get();
    for (size_t k = 0; k < key_vals.size(); ++k) {
      key_vals[k] = schema::SqlValue::FromColumn(raw, static_cast<int>(k));
      key_bytes[k].assign(key_vals[k].bytes);
      key_vals[k].bytes = key_bytes[k];
    }
    RETURN_IF_ERROR(AppendCopyRow(StmtCursor(raw, skip), tm, sql, &buf, &scratch));
    ++rows;
    if (buf.size() >= kCopyFlushBytes) {
      RETURN_IF_ERROR(target.CopyPut(buf.data(), buf.size()));
      progress->bytes.fetch_add(static_cast<int64_t>(buf.size()));
      progress->rows.fetch_add(rows - reported);
      reported = rows;
      buf.clear();
    }
  }
  schema::AppendBinaryTrailer(&buf);
  RETURN_IF_ERROR(target.CopyPut(buf.data(), buf.size()));
  progress->bytes.fetch_add(static_cast<int64_t>(buf.size()));
  auto copied = target.CopyEnd();
  if (!copied.ok()) return copied.status().Annotate("copy into " + tm.target);
  progress->rows.fetch_add(rows - reported);
  if (last_key != nullptr && rows > 0) *last_key = ValuesToJson(key_vals);
  return rows;
}

std::string BinaryCopySql(const TableSql& sql) { return sql.PgCopyIn() + " (FORMAT binary)"; }

nlohmann::json KeyToJson(sqlite3_stmt* stmt, int ncols) {
  std::vector<schema::SqlValue> vals;
  for (int i = 0; i < ncols; ++i) vals.push_back(schema::SqlValue::FromColumn(stmt, i));
  return ValuesToJson(vals);
}

Status BindKeyJson(Stmt& stmt, const nlohmann::json& key) {
  int i = 1;
  for (const auto& k : key) {
    if (k.is_null()) {
      stmt.BindNull(i);
    } else if (k.contains("i")) {
      stmt.Bind(i, k["i"].get<int64_t>());
    } else if (k.contains("r")) {
      stmt.Bind(i, k["r"].get<double>());
    } else if (k.contains("t")) {
      stmt.Bind(i, std::string_view(Unhex(k["t"].get<std::string>())));
    } else if (k.contains("b")) {
      std::string b = Unhex(k["b"].get<std::string>());
      stmt.BindBlob(i, b.data(), static_cast<int>(b.size()));
    } else {
      return Internal("bad resume key " + key.dump());
    }
    ++i;
  }
  return Status::Ok();
}

Result<std::vector<Chunk>> StartTableCopy(Db& source, PgConn& target, const schema::TableMapping& tm,
                                          const TableSql& sql, int64_t chunk_rows) {
  std::vector<Chunk> chunks;
  int64_t start_seq = 0;
  {
    // One read transaction: the start position and the rowid range it
    // splits are of the same state of the file.
    RETURN_IF_ERROR(source.Exec("BEGIN"));
    ReadTx end{source};
    ASSIGN_OR_RETURN(start_seq, NewestChangelogSeq(source));
    if (!tm.without_rowid) {
      const std::string r = sql.chunk_key[0];
      // min() and max() alone are index lookups; a count would scan the
      // table, so the plan's row count sizes the chunks when it has one.
      ASSIGN_OR_RETURN(auto lo_v, source.QueryInt("SELECT min(" + r + ") FROM " + sql.sqlite_table));
      ASSIGN_OR_RETURN(auto hi_v, source.QueryInt("SELECT max(" + r + ") FROM " + sql.sqlite_table));
      int64_t count = tm.rows;
      if (count <= 0 && lo_v) {
        ASSIGN_OR_RETURN(auto c, source.QueryInt("SELECT count(*) FROM " + sql.sqlite_table));
        count = c.value_or(0);
      }
      if (lo_v && hi_v) {
        const int64_t lo = *lo_v, hi = *hi_v;
        const int64_t n = std::max<int64_t>(1, (count + chunk_rows - 1) / chunk_rows);
        // Widths in 128 bits: rowids may span the whole int64 range.
        const __int128 span = static_cast<__int128>(hi) - lo + 1;
        const __int128 width = (span + n - 1) / n;
        for (int64_t i = 0; i < n; ++i) {
          __int128 a = lo + width * i;
          if (a > hi) break;
          __int128 b = std::min<__int128>(a + width - 1, hi);
          chunks.push_back({static_cast<int>(i), static_cast<int64_t>(a), static_cast<int64_t>(b)});
        }
      }
    }
  }
  RETURN_IF_ERROR(target.Run("BEGIN"));
  RollbackGuard guard{target};
  for (const auto& c : chunks) {
    RETURN_IF_ERROR(target
                        .ExecParams("INSERT INTO slipway.chunks (source_table, chunk_no, lo, hi) VALUES ($1, $2, $3, $4)",
                                    {tm.source, std::to_string(c.chunk_no), std::to_string(c.lo), std::to_string(c.hi)})
                        .status());
  }
  RETURN_IF_ERROR(target
                      .ExecParams("UPDATE slipway.tables SET state = 'copying', start_seq = $2, started_at = now() "
                                  "WHERE source_table = $1",
                                  {tm.source, std::to_string(start_seq)})
                      .status());
  SLIPWAY_FAILPOINT("snapshot.before_table_start_commit");
  RETURN_IF_ERROR(target.Run("COMMIT"));
  guard.active = false;
  return chunks;
}

Result<std::vector<Chunk>> PendingChunks(PgConn& target, const std::string& source_table) {
  ASSIGN_OR_RETURN(PgResult r, target.ExecParams("SELECT chunk_no, lo, hi FROM slipway.chunks WHERE source_table = $1 "
                                                 "AND NOT done ORDER BY chunk_no",
                                                 {source_table}));
  std::vector<Chunk> out;
  for (int i = 0; i < r.Rows(); ++i) out.push_back({std::stoi(r.Str(i, 0)), std::stoll(r.Str(i, 1)), std::stoll(r.Str(i, 2))});
  return out;
}

Status CopyRowidChunk(Db& source, PgConn& target, const schema::TableMapping& tm, const TableSql& sql,
                      const Chunk& chunk, TableProgress* progress) {
  RETURN_IF_ERROR(source.Exec("BEGIN"));
  ReadTx end{source};
  std::string select = "SELECT " + sql.chunk_key[0];
  if (sql.rowid_keyed) select += ", " + sql.sqlite_key[0];
  for (const auto& c : sql.sqlite_columns) select += ", " + c;
  select += " FROM " + sql.sqlite_table + " WHERE " + sql.chunk_key[0] + " BETWEEN ? AND ?";
  ASSIGN_OR_RETURN(Stmt st, source.Prepare(select));
  st.Bind(1, chunk.lo).Bind(2, chunk.hi);

  RETURN_IF_ERROR(target.Run("BEGIN"));
  RollbackGuard guard{target};
  RETURN_IF_ERROR(target.CopyBegin(BinaryCopySql(sql)));
  ASSIGN_OR_RETURN(int64_t rows, StreamRows(st, 1, target, tm, sql, progress));
  RETURN_IF_ERROR(target
                      .ExecParams("WITH c AS (UPDATE slipway.chunks SET done = true, rows = $3 "
                                  "WHERE source_table = $1 AND chunk_no = $2) "
                                  "UPDATE slipway.tables SET copied_rows = copied_rows + $3 WHERE source_table = $1",
                                  {tm.source, std::to_string(chunk.chunk_no), std::to_string(rows)})
                      .status());
  SLIPWAY_FAILPOINT("snapshot.before_chunk_commit");
  RETURN_IF_ERROR(target.Run("COMMIT"));
  guard.active = false;
  SLIPWAY_FAILPOINT("snapshot.after_chunk_commit");
  return Status::Ok();
}

Status CopyByKey(Db& source, PgConn& target, const schema::TableMapping& tm, const TableSql& sql, TableState* state,
                 int64_t chunk_rows, TableProgress* progress) {
  const int nkey = static_cast<int>(sql.chunk_key.size());
  while (true) {
    const bool after = state->resume_after.has_value() && !state->resume_after->is_null();
    RETURN_IF_ERROR(source.Exec("BEGIN"));
    ReadTx end{source};
    ASSIGN_OR_RETURN(Stmt st, source.Prepare(sql.SnapshotSelect(after)));
    int bind = 1;
    if (after) {
      RETURN_IF_ERROR(BindKeyJson(st, *state->resume_after));
      bind += static_cast<int>(state->resume_after->size());
    }
    st.Bind(bind, chunk_rows);
    RETURN_IF_ERROR(target.Run("BEGIN"));
    RollbackGuard guard{target};
    RETURN_IF_ERROR(target.CopyBegin(BinaryCopySql(sql)));
    nlohmann::json last_key;
    ASSIGN_OR_RETURN(int64_t rows, StreamRows(st, nkey, target, tm, sql, progress, &last_key));
    RETURN_IF_ERROR(target
                        .ExecParams("UPDATE slipway.tables SET copied_rows = copied_rows + $2, "
                                    "resume_after = coalesce($3::jsonb, resume_after) WHERE source_table = $1",
                                    {tm.source, std::to_string(rows), last_key.is_null() ? PgParam() : PgParam(last_key.dump())})
                        .status());
    SLIPWAY_FAILPOINT("snapshot.before_chunk_commit");
    RETURN_IF_ERROR(target.Run("COMMIT"));
    guard.active = false;
    SLIPWAY_FAILPOINT("snapshot.after_chunk_commit");
    state->copied_rows += rows;
    if (!last_key.is_null()) state->resume_after = last_key;
    progress->rows.store(state->copied_rows);
    if (rows < chunk_rows) return Status::Ok();
  }
}

Status RunPostData(PgConn& target, const std::string& pg_schema, const schema::DdlStatement& d,
                   std::vector<std::string>* warnings) {
  // Skip what a run before a crash already built.
  if (!d.pg_name.empty()) {
    std::string check;
    if (d.kind == "index" || d.kind == "unique index") {
      check = "SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2)) IS NOT NULL";
    } else if (d.kind == "foreign key validation") {
      check = "SELECT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
              "WHERE n.nspname = $1 AND c.conname = $2 AND c.convalidated)";
    } else {
      check = "SELECT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
              "WHERE n.nspname = $1 AND c.conname = $2)";
    }
    ASSIGN_OR_RETURN(PgResult r, target.ExecParams(check, {pg_schema, d.pg_name}));
    if (r.Get(0, 0) == "t") return Status::Ok();
  }
  auto r = target.Exec(d.sql);
  if (r.ok()) return Status::Ok();
  if (IsRetryable(r.status().code()) || !d.optional) {
    return r.status().Annotate("table " + d.table + ": " + d.kind);
  }
  warnings->push_back("table " + d.table + ": " + d.kind + (d.name.empty() ? "" : " " + d.name) +
                      " skipped: " + r.status().message());
  return Status::Ok();
}

}  // namespace slipway::replicator
