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

constexpr size_t kCopyFlushBytes = 256 * 1024;
// Rows read ahead while the server deletes; the rest streams after.
constexpr size_t kPrefetchBytes = 8 * 1024 * 1024;

bool IsIntegerKind(schema::PgKind k) {
  return k == schema::PgKind::kBigint || k == schema::PgKind::kInteger || k == schema::PgKind::kSmallint;
}

}  // namespace

// Prepared statements are named per applier: a new applier (after a schema
// change added a column) never reuses a statement of the old column list.
std::atomic<int> g_generation{0};

Applier::Applier(PgConn& target, const schema::Plan& plan, std::map<std::string, int> tids)
    : target_(target), plan_(plan), generation_(++g_generation) {
  for (const auto& tm : plan.tables) {
    auto it = tids.find(tm.source);
    if (it == tids.end()) continue;
    Table t;
    t.tm = &tm;
    t.sql = BuildTableSql(tm, plan.options.pg_schema);
    t.tid = it->second;
    if (!t.sql.rowid_keyed) {
      for (const auto& k : tm.key_source) t.key_cols.push_back(tm.FindSource(k));
    }
    t.int_key = t.sql.rowid_keyed || (t.key_cols.size() == 1 && t.key_cols[0]->repr == schema::Repr::kNative &&
                                      IsIntegerKind(t.key_cols[0]->type.kind));
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

bool Applier::MayExist(Table& t, const schema::SqlValue& v) {
  if (!t.int_key) return true;
  if (v.type != SQLITE_INTEGER) {
    t.round_other = true;
    return true;
  }
  t.round_max = std::max(t.round_max, v.i);
  return !t.max_key || v.i <= *t.max_key;
}

std::string Applier::BeginPrefix() {
  if (!begin_pending_) return "";
  begin_pending_ = false;
  return "BEGIN; ";
}

Status Applier::LoadMaxKey(Table& t) {
  ASSIGN_OR_RETURN(PgResult r, target_.Exec(BeginPrefix() + "SELECT max(" + t.sql.pg_key[0] +
                                            ") FROM " + t.sql.pg_table));
  // An empty table: every key is above the bound.
  t.max_key = r.IsNull(0, 0) ? INT64_MIN : std::stoll(r.Str(0, 0));
  return Status::Ok();
}

Status Applier::EnsurePrepared(Table& t) {
  const std::string del = "slipway_del_" + std::to_string(t.tid) + "_" + std::to_string(generation_);
  const std::string ins = "slipway_ins_" + std::to_string(t.tid) + "_" + std::to_string(generation_);
  if (target_.IsPrepared(del)) return Status::Ok();
  const size_t nkey = t.sql.sqlite_key.size();
  std::string where;
  for (size_t i = 0; i < nkey; ++i) {
    where += (i ? " AND " : "") + t.sql.pg_key[i] + " = $" + std::to_string(i + 1);
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
    ++stats->keys;
    if (nkey == 1 && !MayExist(t, schema::SqlValue::FromColumn(keys.get(), 0))) continue;
    params.clear();
    RETURN_IF_ERROR(EncodeKey(t, keys.get(), 0, &params));
    RETURN_IF_ERROR(target_.QueuePrepared(del, params));
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
  ASSIGN_OR_RETURN(Stmt keys, source.Prepare("SELECT DISTINCT " + KeyColumnsList(nkey) + kRange));
  keys.Bind(1, static_cast<int64_t>(t.tid)).Bind(2, from).Bind(3, to);
  int64_t nkeys = 0;
  // An integer key: the keys to delete go as one array parameter.
  bool by_array = t.int_key;
  std::string array = "{";
  int64_t to_delete = 0;
  if (by_array) {
    while (true) {
      ASSIGN_OR_RETURN(bool row, keys.Step());
      if (!row) break;
      schema::SqlValue v = schema::SqlValue::FromColumn(keys.get(), 0);
      if (v.type != SQLITE_INTEGER) {
        by_array = false;
        break;
      }
      ++nkeys;
      if (!MayExist(t, v)) continue;
      if (to_delete++ > 0) array += ',';
      array += std::to_string(v.i);
    }
    array += '}';
  }
  const std::string stage = QuotePgIdent("_slipway_keys_" + std::to_string(t.tid));
  if (!by_array) {
    RETURN_IF_ERROR(keys.Reset());
    keys.Bind(1, static_cast<int64_t>(t.tid)).Bind(2, from).Bind(3, to);
    nkeys = 0;
    RETURN_IF_ERROR(target_.Run(BeginPrefix() + "CREATE TEMP TABLE IF NOT EXISTS " + stage +
                                " ON COMMIT DELETE ROWS AS SELECT " + t.sql.PgKeyList() + " FROM " + t.sql.pg_table +
                                " WITH NO DATA"));
    RETURN_IF_ERROR(target_.CopyBegin("COPY " + stage + " FROM STDIN (FORMAT binary)"));
    std::string buf, scratch;
    schema::AppendBinaryHeader(&buf);
    while (true) {
      ASSIGN_OR_RETURN(bool row, keys.Step());
      if (!row) break;
      ++nkeys;
      if (nkey == 1 && !MayExist(t, schema::SqlValue::FromColumn(keys.get(), 0))) continue;
      ++to_delete;
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
      if (buf.size() > kCopyFlushBytes) {
        RETURN_IF_ERROR(target_.CopyPut(buf.data(), buf.size()));
        buf.clear();
      }
    }
    schema::AppendBinaryTrailer(&buf);
    RETURN_IF_ERROR(target_.CopyPut(buf.data(), buf.size()));
    RETURN_IF_ERROR(target_.CopyEnd().status());
  }
  stats->keys += nkeys;

  // The DELETE is sent without waiting for it; the rows are read from
  // SQLite while the server runs it.
  bool pipelined = false;
  if (begin_pending_ || to_delete > 0) {
    RETURN_IF_ERROR(target_.BeginPipeline());
    pipelined = true;
    Status s;
    if (!BeginPrefix().empty()) s = target_.QueueSql("BEGIN");
    if (s.ok() && to_delete > 0 && by_array) {
      s = target_.QueueParams("DELETE FROM " + t.sql.pg_table + " WHERE " + t.sql.pg_key[0] +
                                  " = ANY($1::bigint[])",
                              {array});
    } else if (s.ok() && to_delete > 0) {
      // The staging table has no statistics; left alone the planner hashes
      // or merges the whole target table every round. Probing its key index
      // per staged key is what a delete of touched keys wants.
      for (const char* q : {"SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off"}) {
        if (s.ok()) s = target_.QueueSql(q);
      }
      if (s.ok()) s = target_.QueueSql("DELETE FROM " + t.sql.pg_table + " t USING " + stage + " s WHERE " + t.sql.PgKeyJoin("t", "s"));
      for (const char* q : {"SET LOCAL enable_hashjoin = on", "SET LOCAL enable_mergejoin = on"}) {
        if (s.ok()) s = target_.QueueSql(q);
      }
    }
    if (s.ok()) s = target_.SendPipelineSync();
    if (!s.ok()) {
      (void)target_.EndPipeline();
      return s;
    }
  }
  ASSIGN_OR_RETURN(Stmt rows, source.Prepare(RowsQuery(t)));
  rows.Bind(1, static_cast<int64_t>(t.tid)).Bind(2, from).Bind(3, to);
  std::string buf, scratch;
  schema::AppendBinaryHeader(&buf);
  int64_t n = 0;
  bool more = true;
  Status read;
  while (buf.size() < kPrefetchBytes) {
    auto row = rows.Step();
    if (!row.ok()) {
      read = row.status().Annotate("read " + t.tm->source);
      break;
    }
    if (!*row) {
      more = false;
      break;
    }
    read = AppendCopyRow(rows.get(), 0, *t.tm, t.sql, &buf, &scratch);
    if (!read.ok()) break;
    ++n;
  }
  if (pipelined) {
    Status deleted = target_.EndPipeline();
    if (read.ok()) read = deleted;
  }
  RETURN_IF_ERROR(read);
  RETURN_IF_ERROR(target_.CopyBegin(BinaryCopySql(t.sql)));
  while (more) {
    if (buf.size() >= kCopyFlushBytes) {
      RETURN_IF_ERROR(target_.CopyPut(buf.data(), buf.size()));
      buf.clear();
    }
    auto row = rows.Step();
    if (!row.ok()) return row.status().Annotate("read " + t.tm->source);
    if (!*row) break;
    RETURN_IF_ERROR(AppendCopyRow(rows.get(), 0, *t.tm, t.sql, &buf, &scratch));
    ++n;
  }
  schema::AppendBinaryTrailer(&buf);
  RETURN_IF_ERROR(target_.CopyPut(buf.data(), buf.size()));
  auto copied = target_.CopyEnd();
  if (!copied.ok()) return copied.status().Annotate("copy into " + t.tm->target);
  stats->upserts += n;
  stats->copy_path = true;
  return Status::Ok();
}

Status Applier::CopyWhole(Db& source, Table& t, RoundStats* stats) {
  // DELETE, not TRUNCATE: other tables' foreign keys may point here, and the
  // replica role skips their checks only for row-level changes.
  RETURN_IF_ERROR(target_.Run(BeginPrefix() + "DELETE FROM " + t.sql.pg_table));
  t.max_key.reset();
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
  begin_pending_ = true;
  RollbackGuard abort{target_};
  // After any failure no bound is trusted: a commit whose outcome is unknown
  // may have written keys above it.
  struct ForgetBounds {
    std::map<int, Table>& tables;
    bool active = true;
    ~ForgetBounds() {
      if (!active) return;
      for (auto& [tid, t] : tables) t.max_key.reset();
    }
  } forget{tables_};
  for (int tid : resync_) {
    auto it = tables_.find(tid);
    if (it == tables_.end()) continue;
    RETURN_IF_ERROR(CopyWhole(source, it->second, &stats));
    // The whole copy and clearing its mark commit together.
    RETURN_IF_ERROR(target_.ExecParams("UPDATE slipway.tables SET resync = false WHERE tid = $1", {std::to_string(tid)})
                        .status());
  }
  std::vector<Table*> small, applied;
  for (const auto& [tid, n] : touched) {
    auto it = tables_.find(tid);
    if (it == tables_.end() || resync_.count(tid) != 0) continue;  // not replicated, or copied whole
    Table& t = it->second;
    ++stats.tables;
    applied.push_back(&t);
    t.round_max = INT64_MIN;
    t.round_other = false;
    if (t.int_key && !t.max_key) RETURN_IF_ERROR(LoadMaxKey(t));
    if (n > pipeline_max_) {
      RETURN_IF_ERROR(ApplyByCopy(source, t, from, to, &stats));
    } else {
      small.push_back(&t);
    }
  }
  // Statements are prepared outside the pipeline (a synchronous call).
  for (Table* t : small) RETURN_IF_ERROR(EnsurePrepared(*t));
  // One round trip: the small tables, the position and the COMMIT.
  RETURN_IF_ERROR(target_.BeginPipeline());
  Status s;
  if (!BeginPrefix().empty()) s = target_.QueueSql("BEGIN");
  for (Table* t : small) {
    if (!s.ok()) break;
    s = ApplyPipelined(source, *t, from, to, &stats);
  }
  if (s.ok()) {
    s = target_.QueueParams("UPDATE slipway.migration SET applied_seq = $1, applied_at = now() WHERE applied_seq <= $1",
                            {std::to_string(to)});
  }
  if (s.ok()) s = FailpointStatus("stream.before_commit");
  if (s.ok()) s = target_.QueueSql("COMMIT");
  Status end = target_.EndPipeline();
  if (!s.ok()) return s;
  RETURN_IF_ERROR(end);
  abort.active = false;
  forget.active = false;
  stats.deletes = stats.keys - stats.upserts;
  for (Table* t : applied) {
    if (!t->max_key) continue;
    if (t->round_other) {
      t->max_key.reset();
    } else {
      t->max_key = std::max(*t->max_key, t->round_max);
    }
  }
  for (int tid : resync_) {
    auto it = tables_.find(tid);
    if (it != tables_.end()) it->second.max_key.reset();
  }
  resync_.clear();
  SLIPWAY_FAILPOINT("stream.after_commit");
  return stats;
}

}  // namespace slipway::replicator
