#include "cutover/key_verify.h"

#include <thread>

#include "cutover/row_frame.h"
#include "replicator/table_sql.h"
#include "schema/binary_codec.h"
#include "schema/canonical.h"
#include "schema/codec.h"
#include "schema/reverse_codec.h"

namespace slipway::cutover {
namespace {

std::string KeyList(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i ? ", " : "") + std::string("k") + std::to_string(i + 1);
  return out;
}

constexpr char kSep = '\x1f';

// A row's key for matching both sides: the rowid (passed in) for tables keyed
// by it, else the canonical values of its key columns.
std::string RowKey(const schema::TableMapping& tm, const replicator::TableSql& sql, const std::vector<std::string>& canon,
                   const std::string& rowid) {
  if (sql.rowid_keyed) return rowid;
  std::string key;
  for (size_t k = 0; k < tm.key_source.size(); ++k) {
    for (size_t c = 0; c < sql.column_index.size(); ++c) {
      if (tm.columns[static_cast<size_t>(sql.column_index[c])].source == tm.key_source[k]) {
        key += (k ? std::string(1, kSep) : "") + canon[c];
      }
    }
  }
  return key;
}

std::string JoinRow(const std::vector<std::string>& canon) {
  std::string joined;
  for (const auto& c : canon) joined += c + kSep;
  return joined;
}

}  // namespace

Result<std::vector<TouchedDifference>> VerifyTouchedKeys(Db& source, PgConn& target, const schema::Plan& plan,
                                                     const std::map<std::string, int>& tids, int64_t from, int64_t to) {
  std::vector<TouchedDifference> out;
  if (to <= from) return out;
  for (const auto& tm : plan.tables) {
    auto tid_it = tids.find(tm.source);
    if (tid_it == tids.end()) continue;
    const int tid = tid_it->second;
    const replicator::TableSql sql = replicator::BuildTableSql(tm, plan.options.pg_schema);
    const size_t nkey = sql.sqlite_key.size();
    std::vector<const schema::ColumnMapping*> key_cols;
    if (!sql.rowid_keyed) {
      for (const auto& k : tm.key_source) key_cols.push_back(tm.FindSource(k));
    }
    // Source: the touched keys and their current rows, canonical.
    std::map<std::string, std::string> src_rows;  // canonical key -> canonical row
    std::vector<std::vector<schema::SqlValue>> keys;
    std::vector<std::string> key_storage;
    ASSIGN_OR_RETURN(Stmt ks, source.Prepare("SELECT DISTINCT " + KeyList(nkey) +
                                             " FROM _slipway_changelog WHERE tid = ?1 AND seq > ?2 AND seq <= ?3"));
    ks.Bind(1, static_cast<int64_t>(tid)).Bind(2, from).Bind(3, to);
    std::string stage_buf, scratch;
    schema::AppendBinaryHeader(&stage_buf);
    int64_t nkeys = 0;
    while (true) {
      ASSIGN_OR_RETURN(bool row, ks.Step());
      if (!row) break;
      schema::AppendInt16(static_cast<int16_t>(nkey), &stage_buf);
      for (size_t i = 0; i < nkey; ++i) {
        schema::SqlValue v = schema::SqlValue::FromColumn(ks.get(), static_cast<int>(i));
        if (sql.rowid_keyed) {
          schema::AppendInt32(8, &stage_buf);
          schema::AppendInt64(v.i, &stage_buf);
        } else {
          RETURN_IF_ERROR(schema::EncodeBinaryField(v, *key_cols[i], &stage_buf, &scratch));
        }
      }
      ++nkeys;
    }
    if (nkeys == 0) continue;
    schema::AppendBinaryTrailer(&stage_buf);

    std::string select = "SELECT ";
    if (sql.rowid_keyed) select += sql.sqlite_key[0] + ", ";
    for (size_t i = 0; i < sql.sqlite_columns.size(); ++i) select += (i ? ", " : "") + sql.sqlite_columns[i];
    std::string lhs = nkey == 1 ? sql.sqlite_key[0] : "(" + sql.OrderByKeyList() + ")";
    ASSIGN_OR_RETURN(Stmt rows, source.Prepare(select + " FROM " + sql.sqlite_table + " WHERE " + lhs + " IN (SELECT " +
                                               KeyList(nkey) + " FROM _slipway_changelog WHERE tid = ?1 AND seq > ?2 AND seq <= ?3)"));
    rows.Bind(1, static_cast<int64_t>(tid)).Bind(2, from).Bind(3, to);
    const int first = sql.rowid_keyed ? 1 : 0;
    while (true) {
      ASSIGN_OR_RETURN(bool row, rows.Step());
      if (!row) break;
      std::vector<std::string> canon(sql.column_index.size());
      for (size_t c = 0; c < sql.column_index.size(); ++c) {
        schema::SqlValue v = schema::SqlValue::FromColumn(rows.get(), first + static_cast<int>(c));
        if (v.type == SQLITE_NULL) {
          canon[c] = "\\N";
          continue;
        }
        const auto& cm = tm.columns[static_cast<size_t>(sql.column_index[c])];
        if (!schema::KindComesBack(v, cm)) {
          canon[c] = "<" + KindLost(v, cm) + ">";
          continue;
        }
        std::string text;
        Status s = schema::EncodeForPg(v, cm, &text);
        canon[c] = s.ok() ? schema::Canonical(text, cm) : "<" + s.message() + ">";
      }
      src_rows[RowKey(tm, sql, canon, std::to_string(rows.Int(0)))] = JoinRow(canon);
    }

    // Target: the same keys, through a staging table of keys.
    std::string stage = QuotePgIdent("_slipway_verify_" + std::to_string(tid));
    RETURN_IF_ERROR(target.Run("CREATE TEMP TABLE IF NOT EXISTS " + stage + " AS SELECT " + sql.PgKeyList() + " FROM " + sql.pg_table +
                               " WITH NO DATA; TRUNCATE " + stage));
    RETURN_IF_ERROR(target.CopyBegin("COPY " + stage + " FROM STDIN (FORMAT binary)"));
    RETURN_IF_ERROR(target.CopyPut(stage_buf.data(), stage_buf.size()));
    RETURN_IF_ERROR(target.CopyEnd().status());
    std::string pg_select = "SELECT ";
    for (size_t i = 0; i < sql.pg_columns.size(); ++i) pg_select += (i ? ", " : "") + std::string("t.") + sql.pg_columns[i] + "::text";
    ASSIGN_OR_RETURN(PgResult r, target.Exec(pg_select + " FROM " + sql.pg_table + " t JOIN " + stage + " s ON " + sql.PgKeyJoin("t", "s")));
    std::map<std::string, std::string> dst_rows;
    const int pg_first = sql.rowid_keyed ? 1 : 0;
    for (int i = 0; i < r.Rows(); ++i) {
      std::vector<std::string> canon(sql.column_index.size());
      for (size_t c = 0; c < sql.column_index.size(); ++c) {
        int col = pg_first + static_cast<int>(c);
        canon[c] = r.IsNull(i, col) ? "\\N"
                                     : schema::Canonical(r.Get(i, col), tm.columns[static_cast<size_t>(sql.column_index[c])]);
      }
      dst_rows[RowKey(tm, sql, canon, r.Str(i, 0))] = JoinRow(canon);
    }
    for (const auto& [k, row] : src_rows) {
      auto it = dst_rows.find(k);
      if (it == dst_rows.end()) {
        out.push_back({tm.source, k, "missing in target"});
      } else if (it->second != row) {
        out.push_back({tm.source, k, "different: source " + row + " target " + it->second});
      }
    }
    for (const auto& [k, row] : dst_rows) {
      if (src_rows.count(k) == 0) out.push_back({tm.source, k, "extra in target"});
    }
  }
  return out;
}

Result<std::vector<TouchedDifference>> CompareCounts(Db& source, PgConn& target, const schema::Plan& plan) {
  std::vector<TouchedDifference> out;
  if (plan.tables.empty()) return out;
  // Both sides count at once: SQLite on a thread while PostgreSQL answers one
  // query for every table. This runs inside the freeze.
  std::vector<int64_t> src(plan.tables.size(), -1);
  Status src_status;
  std::thread counter([&] {
    for (size_t i = 0; i < plan.tables.size(); ++i) {
      auto n = source.QueryInt("SELECT count(*) FROM " + QuoteSqliteIdent(plan.tables[i].source));
      if (!n.ok()) {
        src_status = n.status();
        return;
      }
      src[i] = n->value_or(0);
    }
  });
  std::string q;
  for (size_t i = 0; i < plan.tables.size(); ++i) {
    q += (i ? " UNION ALL " : "") + std::string("SELECT ") + std::to_string(i) + ", count(*) FROM " +
         QuotePgIdent(plan.options.pg_schema) + "." + QuotePgIdent(plan.tables[i].target);
  }
  auto r = target.Exec(q);
  counter.join();
  RETURN_IF_ERROR(src_status);
  if (!r.ok()) return r.status();
  for (int row = 0; row < r->Rows(); ++row) {
    size_t i = static_cast<size_t>(std::stoi(r->Str(row, 0)));
    if (std::to_string(src[i]) != r->Str(row, 1)) {
      out.push_back({plan.tables[i].source, "", "count: source " + std::to_string(src[i]) + ", target " + r->Str(row, 1)});
    }
  }
  return out;
}

}  // namespace slipway::cutover
