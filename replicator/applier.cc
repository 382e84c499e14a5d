#include "replicator/applier.h"

#include <atomic>

#include "common/failpoint.h"
#include "replicator/table_copy.h"
#include "schema/binary_codec.h"
#include "schema/codec.h"

namespace slipway::replicator {
namespace {

std::string KeyColumnsList(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i ? ", " : "") + std::string("k") + std::to_string(i + 1);
  return out;
}

constexpr const char* kRange = " FROM _slipway_changelog WHERE tid = ?1 AND seq > ?2 AND seq <= ?3";

}  // namespace

// Prepared statements are named per applier: a new applier (after a schema
// change added a column) never reuses a statement of the old column list.
std::atomic<int> g_generation{0};

Applier::Applier(PgConn& target, const schema::Plan& plan, std::map<std::string, int> tids)
    : target_(target), plan_(plan), generation_(++g_generation) {
  for (const auto& tm : plan.tables) {
    auto it = tids.find(tm.source);
    if (it == tids.end()) continue;
    Table t{&tm, BuildTableSql(tm, plan.options.pg_schema), it->second, {}};
    if (!t.sql.rowid_keyed) {
      for (const auto& k : tm.key_source) t.key_cols.push_back(tm.FindSource(k));
    }
    tables_.emplace(it->second, std::move(t));
  }
}

std::string Applier::RowsQuery(const Table& t) const {
  std::string select = "SELECT ";
  if (t.sql.rowid_keyed) select += t.sql.sqlite_key[0] + ", ";
  for (size_t i = 0; i < t.sql.sqlite_columns.size(); ++i) select += (i ? ", " : "") + t.sql.sqlite_columns[i];
  std::string lhs;
  if (t.sql.sqlite_key.size() == 1) {
    lhs = t.sql.sqlite_key[0];
  } else {
    lhs = "(";
    for (size_t i = 0; i < t.sql.sqlite_key.size(); ++i) lhs += (i ? ", " : "") + t.sql.sqlite_key[i];
    lhs += ")";
  }
  return select + " FROM " + t.sql.sqlite_table + " WHERE " + lhs + " IN (SELECT " +
         KeyColumnsList(t.sql.sqlite_key.size()) + kRange + ")";
}

Status Applier::EncodeKey(const Table& t, sqlite3_stmt* st, int first, std::vector<PgParam>* out) {
  for (size_t i = 0; i < t.sql.sqlite_key.size(); ++i) {
    schema::SqlValue v = schema::SqlValue::FromColumn(st, first + static_cast<int>(i));
    if (t.sql.rowid_keyed) {
      out->push_back(std::to_string(v.i));
      continue;
    }
    std::string text;
    Status s = schema::EncodeForPg(v, *t.key_cols[i], &text);
    if (!s.ok()) return s.Annotate("table " + t.tm->source + ", key column " + t.key_cols[i]->source);
    out->push_back(std::move(text));
  }
  return Status::Ok();
}

Status Applier::EnsurePrepared(Table& t) {
  const std::string del = "slipway_del_" + std::to_string(t.tid) + "_" + std::to_string(generation_);
  const std::string ins = "slipway_ins_" + std::to_string(t.tid) + "_" + std::to_string(generation_);
  if (target_.IsPrepared(del)) return Status::Ok();
  const size_t nkey = t.sql.sqlite_key.size();
  std::string where;
  for (size_t i = 0; i < nkey; ++i) {
    where += (i ? " AND " : "") + QuotePgIdent(t.tm->key_target[i]) + " = $" + std::to_string(i + 1);
  }
  std::string cols, marks;
  for (size_t i = 0; i < t.sql.pg_columns.size(); ++i) {
    cols += (i ? ", " : "") + t.sql.pg_columns[i];
    marks += (i ? ", $" : "$") + std::to_string(i + 1);
  }
  RETURN_IF_ERROR(target_.Prepare(del, "DELETE FROM " + t.sql.pg_table + " WHERE " + where, static_cast<int>(nkey)));
  return target_.Prepare(ins, "INSERT INTO " + t.sql.pg_table + " (" + cols + ") VALUES (" + marks + ")",
                         static_cast<int>(t.sql.pg_columns.size()));
}

Status Applier::ApplyPipelined(Db& source, Table& t, int64_t from, int64_t to, RoundStats* stats) {
  const std::string del = "slipway_del_" + std::to_string(t.tid) + "_" + std::to_string(generation_);
  const std::string ins = "slipway_ins_" + std::to_string(t.tid) + "_" + std::to_string(generation_);
  const size_t nkey = t.sql.sqlite_key.size();
  // Every touched key is deleted before any row is inserted.
  ASSIGN_OR_RETURN(Stmt keys, source.Prepare("SELECT DISTINCT " + KeyColumnsList(nkey) + kRange));
  keys.Bind(1, static_cast<int64_t>(t.tid)).Bind(2, from).Bind(3, to);
  std::vector<PgParam> params;
  while (true) {
    ASSIGN_OR_RETURN(bool row, keys.Step());
    if (!row) break;
    params.clear();
    RETURN_IF_ERROR(EncodeKey(t, keys.get(), 0, &params));
    RETURN_IF_ERROR(target_.QueuePrepared(del, params));
    ++stats->keys;
  }
  ASSIGN_OR_RETURN(Stmt rows, source.Prepare(RowsQuery(t)));
  rows.Bind(1, static_cast<int64_t>(t.tid)).Bind(2, from).Bind(3, to);
  const int first_data = t.sql.rowid_keyed ? 1 : 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    params.clear();
    if (t.sql.rowid_keyed) params.push_back(std::to_string(rows.Int(0)));
    for (size_t c = 0; c < t.sql.column_index.size(); ++c) {
      schema::SqlValue v = schema::SqlValue::FromColumn(rows.get(), first_data + static_cast<int>(c));
      if (v.type == SQLITE_NULL) {
        params.emplace_back(std::nullopt);
        continue;
      }
      const schema::ColumnMapping& cm = t.tm->columns[static_cast<size_t>(t.sql.column_index[c])];
      std::string text;
      Status s = schema::EncodeForPg(v, cm, &text);
      if (!s.ok()) {
        std::string kdesc;
        if (t.sql.rowid_keyed) {
          kdesc = "rowid=" + std::to_string(rows.Int(0));
        } else {
          for (const auto& k : t.tm->key_source) {
            for (size_t c2 = 0; c2 < t.sql.column_index.size(); ++c2) {
              if (t.tm->columns[static_cast<size_t>(t.sql.column_index[c2])].source != k) continue;
              kdesc += (kdesc.empty() ? "" : ", ") + k + "=" +
                       schema::DescribeValue(schema::SqlValue::FromColumn(rows.get(), static_cast<int>(c2)));
            }
          }
        }
        return Status(Code::kBlocked, "table " + t.tm->source + ", " + kdesc + ", column " + cm.source + ": " + s.message());
      }
      params.push_back(std::move(text));
    }
    RETURN_IF_ERROR(target_.QueuePrepared(ins, params));
    ++stats->upserts;
  }
  return Status::Ok();
}

Status Applier::ApplyByCopy(Db& source, Table& t, int64_t from, int64_t to, RoundStats* stats) {
  const size_t nkey = t.sql.sqlite_key.size();
  const std::string stage = QuotePgIdent("_slipway_keys_" + std::to_string(t.tid));
  std::string keycols, join;
  for (size_t i = 0; i < nkey; ++i) {
    const std::string k = QuotePgIdent(t.tm->key_target[i]);
    keycols += (i ? ", " : "") + k;
    join += (i ? " AND " : "") + std::string("t.") + k + " = s." + k;
  }
  RETURN_IF_ERROR(target_.Run("CREATE TEMP TABLE IF NOT EXISTS " + stage + " ON COMMIT DELETE ROWS AS SELECT " + keycols +
                              " FROM " + t.sql.pg_table + " WITH NO DATA"));
  RETURN_IF_ERROR(target_.CopyBegin("COPY " + stage + " FROM STDIN (FORMAT binary)"));
  ASSIGN_OR_RETURN(Stmt keys, source.Prepare("SELECT DISTINCT " + KeyColumnsList(nkey) + kRange));
  keys.Bind(1, static_cast<int64_t>(t.tid)).Bind(2, from).Bind(3, to);
  std::string buf, scratch;
  schema::AppendBinaryHeader(&buf);
  while (true) {
    ASSIGN_OR_RETURN(bool row, keys.Step());
    if (!row) break;
    schema::AppendInt16(static_cast<int16_t>(nkey), &buf);
    for (size_t i = 0; i < nkey; ++i) {
      schema::SqlValue v = schema::SqlValue::FromColumn(keys.get(), static_cast<int>(i));
      if (t.sql.rowid_keyed) {
        schema::AppendInt32(8, &buf);
        schema::AppendInt64(v.i, &buf);
      } else {
        Status s = schema::EncodeBinaryField(v, *t.key_cols[i], &buf, &scratch);
        if (!s.ok()) return s.Annotate("table " + t.tm->source + ", key column " + t.key_cols[i]->source);
      }
    }
    ++stats->keys;
    if (buf.size() > 256 * 1024) {
      RETURN_IF_ERROR(target_.CopyPut(buf.data(), buf.size()));
      buf.clear();
    }
  }
  schema::AppendBinaryTrailer(&buf);
  RETURN_IF_ERROR(target_.CopyPut(buf.data(), buf.size()));
  RETURN_IF_ERROR(target_.CopyEnd().status());
  // The staging table has no statistics; left alone the planner hashes or
  // merges the whole target table every round. Probing its key index per
  // staged key is what a delete of touched keys wants.
  RETURN_IF_ERROR(target_.Run("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"));
  RETURN_IF_ERROR(target_.Run("DELETE FROM " + t.sql.pg_table + " t USING " + stage + " s WHERE " + join));
  RETURN_IF_ERROR(target_.Run("SET LOCAL enable_hashjoin = on; SET LOCAL enable_mergejoin = on"));
  ASSIGN_OR_RETURN(Stmt rows, source.Prepare(RowsQuery(t)));
  rows.Bind(1, static_cast<int64_t>(t.tid)).Bind(2, from).Bind(3, to);
  RETURN_IF_ERROR(target_.CopyBegin(BinaryCopySql(t.sql)));
  ASSIGN_OR_RETURN(int64_t n, StreamRows(rows, 0, target_, *t.tm, t.sql, nullptr, 0));
  stats->upserts += n;
  stats->copy_path = true;
  return Status::Ok();
}

Status Applier::CopyWhole(Db& source, Table& t, RoundStats* stats) {
  // DELETE, not TRUNCATE: other tables' foreign keys may point here, and the
  // replica role skips their checks only for row-level changes.
  RETURN_IF_ERROR(target_.Run("DELETE FROM " + t.sql.pg_table));
  std::string select = "SELECT ";
  if (t.sql.rowid_keyed) select += t.sql.sqlite_key[0] + ", ";
  for (size_t i = 0; i < t.sql.sqlite_columns.size(); ++i) select += (i ? ", " : "") + t.sql.sqlite_columns[i];
  ASSIGN_OR_RETURN(Stmt rows, source.Prepare(select + " FROM " + t.sql.sqlite_table));
  RETURN_IF_ERROR(target_.CopyBegin(BinaryCopySql(t.sql)));
  ASSIGN_OR_RETURN(int64_t n, StreamRows(rows, 0, target_, *t.tm, t.sql, nullptr, 0));
  stats->upserts += n;
  stats->copy_path = true;
  return Status::Ok();
}

Result<RoundStats> Applier::ApplyRange(Db& source, int64_t from, int64_t to) {
  RoundStats stats;
  // Which tables were touched, and how much.
  std::vector<std::pair<int, int64_t>> touched;
  {
    ASSIGN_OR_RETURN(Stmt st, source.Prepare("SELECT tid, count(*) FROM _slipway_changelog WHERE seq > ?1 AND seq <= ?2 "
                                             "GROUP BY tid"));
    st.Bind(1, from).Bind(2, to);
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      touched.emplace_back(static_cast<int>(st.Int(0)), st.Int(1));
      stats.changes += st.Int(1);
    }
  }
  RETURN_IF_ERROR(target_.Run("BEGIN"));
  RollbackGuard abort{target_};
  for (int tid : resync_) {
    auto it = tables_.find(tid);
    if (it == tables_.end()) continue;
    RETURN_IF_ERROR(CopyWhole(source, it->second, &stats));
    // The whole copy and clearing its mark commit together.
    RETURN_IF_ERROR(target_.ExecParams("UPDATE slipway.tables SET resync = false WHERE tid = $1", {std::to_string(tid)})
                        .status());
  }
  std::vector<Table*> small;
  for (const auto& [tid, n] : touched) {
    auto it = tables_.find(tid);
    if (it == tables_.end() || resync_.count(tid) != 0) continue;  // not replicated, or copied whole
    ++stats.tables;
    if (n > pipeline_max_) {
      RETURN_IF_ERROR(ApplyByCopy(source, it->second, from, to, &stats));
    } else {
      small.push_back(&it->second);
    }
  }
  // Statements are prepared outside the pipeline (a synchronous call).
  for (Table* t : small) RETURN_IF_ERROR(EnsurePrepared(*t));
  RETURN_IF_ERROR(target_.BeginPipeline());
  Status s;
  for (Table* t : small) {
    s = ApplyPipelined(source, *t, from, to, &stats);
    if (!s.ok()) break;
  }
  if (s.ok()) {
    s = target_.QueueSql("UPDATE slipway.migration SET applied_seq = " + std::to_string(to) +
                         ", applied_at = now() WHERE applied_seq <= " + std::to_string(to));
  }
  Status end = target_.EndPipeline();
  if (!s.ok()) return s;
  RETURN_IF_ERROR(end);
  stats.deletes = stats.keys - stats.upserts;
  SLIPWAY_FAILPOINT("stream.before_commit");
  RETURN_IF_ERROR(target_.Run("COMMIT"));
  abort.active = false;
  resync_.clear();
  SLIPWAY_FAILPOINT("stream.after_commit");
  return stats;
}

}  // namespace slipway::replicator
