#include "cutover/key_verify.h"

#include <cstring>
#include <limits>
#include <set>

#include "cutover/row_frame.h"
#include "replicator/changeset_keys.h"
#include "replicator/sqlite_values.h"
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

// The key as a message shows it: "id=5", "a='x', b=2", "rowid=7".
std::string KeyText(const schema::TableMapping& tm, const replicator::TableSql& sql, const std::vector<std::string>& canon,
                    const std::string& rowid) {
  if (sql.rowid_keyed) return "rowid=" + rowid;
  std::string key;
  for (size_t k = 0; k < tm.key_source.size(); ++k) {
    for (size_t c = 0; c < sql.column_index.size(); ++c) {
      if (tm.columns[static_cast<size_t>(sql.column_index[c])].source == tm.key_source[k]) {
        key += (k ? ", " : "") + tm.key_source[k] + "=" + canon[c];
      }
    }
  }
  return key;
}

std::string Shown(const std::string& canon) {
  if (canon == "\\N") return "NULL";
  return canon.size() > 80 ? "'" + canon.substr(0, 80) + "...'" : "'" + canon + "'";
}

struct KeyRow {
  std::string key_text;
  std::vector<std::string> canon;
};

}  // namespace

Status TouchedMismatch(const std::string& check, const std::vector<TouchedDifference>& diffs) {
  const TouchedDifference& d = diffs.at(0);
  return Status(Code::kMismatch, check + ": table " + d.table + " " + d.key + " " + d.what + " (" +
                                     std::to_string(diffs.size()) + " differences); the app's database stays live");
}

Result<std::vector<TouchedDifference>> VerifyTouchedKeys(Db& source, PgConn& target, const schema::Plan& plan,
                                                     const std::map<std::string, int>& tids, int64_t from, int64_t to,
                                                     bool skip_touched_after) {
  std::vector<TouchedDifference> out;
  if (to <= from) return out;
  RETURN_IF_ERROR(replicator::LoadChangesetKeys(source, tids, from,
                                                skip_touched_after ? std::numeric_limits<int64_t>::max() : to)
                      .status());
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
    std::map<std::string, KeyRow> src_rows;  // canonical key -> the row
    std::vector<std::vector<schema::SqlValue>> keys;
    std::vector<std::string> key_storage;
    // The keys of the range (less those touched again after it, when asked).
    const std::string range = "SELECT " + KeyList(nkey) + " FROM _slipway_keys WHERE tid = ?1 AND seq > ?2 AND seq <= ?3" +
                              (skip_touched_after ? " EXCEPT SELECT " + KeyList(nkey) +
                                                        " FROM _slipway_keys WHERE tid = ?1 AND seq > ?3"
                                                  : std::string());
    ASSIGN_OR_RETURN(Stmt ks, source.Prepare("SELECT DISTINCT * FROM (" + range + ")"));
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
    ASSIGN_OR_RETURN(Stmt rows, source.Prepare(select + " FROM " + sql.sqlite_table + " WHERE " + lhs + " IN (" + range + ")"));
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
        if (LosesKind(v, cm)) {
          canon[c] = "<" + KindLost(v, cm) + ">";
          continue;
        }
        std::string text;
        Status s = schema::EncodeForPg(v, cm, &text);
        canon[c] = s.ok() ? schema::Canonical(text, cm) : "<" + s.message() + ">";
      }
      const std::string rowid = std::to_string(rows.Int(0));
      src_rows[RowKey(tm, sql, canon, rowid)] = KeyRow{KeyText(tm, sql, canon, rowid), canon};
    }

    // Target: the same keys, through a staging table of keys.
    std::string stage = QuotePgIdent("_slipway_verify_" + std::to_string(tid));
    RETURN_IF_ERROR(target.Run("CREATE TEMP TABLE IF NOT EXISTS " + stage + " AS SELECT " + sql.PgKeyList() + " FROM " + sql.pg_table +
                               " WITH NO DATA; TRUNCATE " + stage));
    RETURN_IF_ERROR(target.CopyBegin("COPY " + stage + " FROM STDIN (FORMAT binary)"));
    RETURN_IF_ERROR(target.CopyPut(stage_buf.data(), stage_buf.size()));
    RETURN_IF_ERROR(target.CopyEnd().status());
    // Without statistics the planner takes the staged keys for thousands of
    // rows and hashes the whole table; with them it looks each key up.
    RETURN_IF_ERROR(target.Run("ANALYZE " + stage));
    std::string pg_select = "SELECT ";
    for (size_t i = 0; i < sql.pg_columns.size(); ++i) pg_select += (i ? ", " : "") + std::string("t.") + sql.pg_columns[i] + "::text";
    ASSIGN_OR_RETURN(PgResult r, target.Exec(pg_select + " FROM " + sql.pg_table + " t JOIN " + stage + " s ON " + sql.PgKeyJoin("t", "s")));
    std::map<std::string, KeyRow> dst_rows;
    const int pg_first = sql.rowid_keyed ? 1 : 0;
    for (int i = 0; i < r.Rows(); ++i) {
      std::vector<std::string> canon(sql.column_index.size());
      for (size_t c = 0; c < sql.column_index.size(); ++c) {
        int col = pg_first + static_cast<int>(c);
        canon[c] = r.IsNull(i, col) ? "\\N"
                                     : schema::Canonical(r.Get(i, col), tm.columns[static_cast<size_t>(sql.column_index[c])]);
      }
      dst_rows[RowKey(tm, sql, canon, r.Str(i, 0))] = KeyRow{KeyText(tm, sql, canon, r.Str(i, 0)), canon};
    }
    for (const auto& [k, row] : src_rows) {
      auto it = dst_rows.find(k);
      if (it == dst_rows.end()) {
        out.push_back({tm.source, row.key_text, "missing in target"});
        continue;
      }
      for (size_t c = 0; c < row.canon.size(); ++c) {
        if (row.canon[c] == it->second.canon[c]) continue;
        out.push_back({tm.source, row.key_text,
                       "different: column " + tm.columns[static_cast<size_t>(sql.column_index[c])].source + ": source " +
                           Shown(row.canon[c]) + ", target " + Shown(it->second.canon[c])});
      }
    }
    for (const auto& [k, row] : dst_rows) {
      if (src_rows.count(k) == 0) out.push_back({tm.source, row.key_text, "extra in target"});
    }
  }
  return out;
}

namespace {

// Equal as stored: the same storage class and bytes. A number may come back
// in the other numeric class when the column's affinity converted it on the
// way in (REAL affinity stores 2 as 2.0, INTEGER affinity 2.0 as 2).
bool SameStored(const schema::SqlValue& a, const schema::SqlValue& b) {
  auto numeric = [](const schema::SqlValue& v) { return v.type == SQLITE_INTEGER || v.type == SQLITE_FLOAT; };
  if (a.type != b.type) {
    if (!numeric(a) || !numeric(b)) return false;
    const double x = a.type == SQLITE_INTEGER ? static_cast<double>(a.i) : a.d;
    const double y = b.type == SQLITE_INTEGER ? static_cast<double>(b.i) : b.d;
    return x == y;
  }
  switch (a.type) {
    case SQLITE_INTEGER: return a.i == b.i;
    case SQLITE_FLOAT: return std::memcmp(&a.d, &b.d, sizeof a.d) == 0 || a.d == b.d;
    case SQLITE_TEXT:
    case SQLITE_BLOB: return a.bytes == b.bytes;
    default: return true;
  }
}

}  // namespace

Result<std::vector<TouchedDifference>> VerifyTouchedInSqlite(replicator::PgChangelogSource& source, Db& db,
                                                         const schema::Plan& plan,
                                                         const std::map<std::string, int>& tids,
                                                         const replicator::Position& from,
                                                         const replicator::Position& to,
                                                         bool skip_touched_after) {
  std::vector<TouchedDifference> out;
  ASSIGN_OR_RETURN(std::vector<replicator::TableTouch> touched, source.Touched(from, to));
  for (const auto& touch : touched) {
    const schema::TableMapping* tm = nullptr;
    for (const auto& t : plan.tables) {
      auto it = tids.find(t.source);
      if (it != tids.end() && it->second == touch.tid) tm = &t;
    }
    if (tm == nullptr) continue;
    const replicator::TableSql sql = replicator::BuildTableSql(*tm, plan.options.pg_schema);
    // A data row: the rowid first for a table keyed by it, then the columns.
    const int first = sql.rowid_keyed ? 1 : 0;
    std::vector<int> key_pos;
    std::vector<std::string> key_names;
    if (sql.rowid_keyed) {
      key_pos = {0};
      key_names = {"rowid"};
    } else {
      for (const auto& k : tm->key_source) {
        for (size_t c = 0; c < sql.column_index.size(); ++c) {
          if (tm->columns[static_cast<size_t>(sql.column_index[c])].source == k) key_pos.push_back(static_cast<int>(c));
        }
        key_names.push_back(k);
      }
    }
    std::string select = "SELECT ", where;
    if (sql.rowid_keyed) select += sql.sqlite_key[0] + ", ";
    for (size_t i = 0; i < sql.sqlite_columns.size(); ++i) select += (i ? ", " : "") + sql.sqlite_columns[i];
    for (size_t i = 0; i < sql.sqlite_key.size(); ++i) {
      where += (i ? " AND " : "") + sql.sqlite_key[i] + " = ?" + std::to_string(i + 1);
    }
    ASSIGN_OR_RETURN(Stmt lookup, db.Prepare(select + " FROM " + sql.sqlite_table + " WHERE " + where));
    auto find = [&](auto&& key_value) -> Result<bool> {
      (void)lookup.Reset();
      for (size_t i = 0; i < key_pos.size(); ++i) {
        const schema::SqlValue v = key_value(i);
        const int at = static_cast<int>(i) + 1;
        replicator::BindSqlValue(lookup, at, v);
      }
      return lookup.Step();
    };
    auto key_text = [&](auto&& key_value) {
      std::string k;
      for (size_t i = 0; i < key_pos.size(); ++i) k += (i ? ", " : "") + key_names[i] + "=" + replicator::SqlValueText(key_value(i));
      return k;
    };

    std::set<std::string> present;
    // Rows and keys leave out the same keys: a key skipped is neither
    // compared nor taken for deleted.
    ASSIGN_OR_RETURN(std::unique_ptr<replicator::RowCursor> rows, skip_touched_after
                                                                      ? source.SettledRows(touch.tid, from, to)
                                                                      : source.Rows(touch.tid, from, to));
    while (true) {
      ASSIGN_OR_RETURN(bool more, rows->Next());
      if (!more) break;
      auto key_value = [&](size_t i) { return rows->Value(sql.rowid_keyed ? 0 : first + key_pos[i]); };
      std::string kb;
      for (size_t i = 0; i < key_pos.size(); ++i) replicator::AppendKeyBytes(key_value(i), &kb);
      present.insert(kb);
      ASSIGN_OR_RETURN(bool found, find(key_value));
      if (!found) {
        out.push_back({tm->source, key_text(key_value), "missing in SQLite"});
        continue;
      }
      for (size_t c = 0; c < sql.column_index.size(); ++c) {
        const schema::SqlValue want = rows->Value(first + static_cast<int>(c));
        const schema::SqlValue have = schema::SqlValue::FromColumn(lookup.get(), first + static_cast<int>(c));
        if (SameStored(want, have)) continue;
        // Where the type cannot tell storage classes apart, the reverse sink
        // keeps the file's class for a value PostgreSQL holds as it became.
        const schema::ColumnMapping& cm = tm->columns[static_cast<size_t>(sql.column_index[c])];
        if (want.type != SQLITE_NULL && have.type != SQLITE_NULL && !schema::KindRecoverable(cm) &&
            schema::SameInPostgres(have, want, cm)) {
          continue;
        }
        out.push_back({tm->source, key_text(key_value),
                       "column " + tm->columns[static_cast<size_t>(sql.column_index[c])].source + ": PostgreSQL " +
                           replicator::SqlValueText(want) + ", SQLite " + replicator::SqlValueText(have)});
      }
    }
    ASSIGN_OR_RETURN(std::unique_ptr<replicator::RowCursor> keys, skip_touched_after
                                                                      ? source.SettledKeys(touch.tid, from, to)
                                                                      : source.Keys(touch.tid, from, to));
    while (true) {
      ASSIGN_OR_RETURN(bool more, keys->Next());
      if (!more) break;
      auto key_value = [&](size_t i) { return keys->Value(static_cast<int>(i)); };
      std::string kb;
      for (size_t i = 0; i < key_pos.size(); ++i) replicator::AppendKeyBytes(key_value(i), &kb);
      if (present.count(kb) != 0) continue;
      ASSIGN_OR_RETURN(bool found, find(key_value));
      if (found) out.push_back({tm->source, key_text(key_value), "deleted in PostgreSQL, still in SQLite"});
    }
    (void)lookup.Reset();
  }
  return out;
}

}  // namespace slipway::cutover
