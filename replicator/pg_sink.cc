#include "replicator/pg_sink.h"

#include <atomic>

#include "common/failpoint.h"
#include "replicator/table_copy.h"
#include "schema/binary_codec.h"
#include "schema/codec.h"

namespace slipway::replicator {
namespace {

constexpr size_t kCopyFlushBytes = 256 * 1024;
// Rows read ahead while the server deletes; the rest streams after.
constexpr size_t kPrefetchBytes = 8 * 1024 * 1024;

}  // namespace

// Prepared statements are named per applier: a new applier (after a schema
// change added a column) never reuses a statement of the old column list.
std::atomic<int> g_generation{0};

PgSink::PgSink(PgConn& target, const schema::Plan& plan, const std::map<std::string, int>& tids)
    : target_(target), generation_(++g_generation) {
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
                                      schema::IsIntegerKind(t.key_cols[0]->type.kind));
    tables_.emplace(it->second, std::move(t));
  }
}

Status PgSink::EncodeKey(const Table& t, const RowCursor& key, std::vector<PgParam>* out) {
  for (size_t i = 0; i < t.sql.sqlite_key.size(); ++i) {
    schema::SqlValue v = key.Value(static_cast<int>(i));
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

bool PgSink::MayExist(Table& t, const schema::SqlValue& v) {
  if (!t.int_key) return true;
  if (v.type != SQLITE_INTEGER) {
    t.round_other = true;
    return true;
  }
  t.round_max = std::max(t.round_max, v.i);
  return !t.max_key || v.i <= *t.max_key;
}

std::string PgSink::BeginPrefix() {
  if (!begin_pending_) return "";
  begin_pending_ = false;
  return "BEGIN; ";
}

Status PgSink::LoadMaxKey(Table& t) {
  ASSIGN_OR_RETURN(PgResult r, target_.Exec(BeginPrefix() + "SELECT max(" + t.sql.pg_key[0] +
                                            ") FROM " + t.sql.pg_table));
  // An empty table: every key is above the bound.
  t.max_key = r.IsNull(0, 0) ? INT64_MIN : std::stoll(r.Str(0, 0));
  return Status::Ok();
}

Status PgSink::EnsurePrepared(Table& t) {
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

Status PgSink::ApplyPipelined(Table& t, TableRound& round, RoundStats* stats) {
  const std::string del = "slipway_del_" + std::to_string(t.tid) + "_" + std::to_string(generation_);
  const std::string ins = "slipway_ins_" + std::to_string(t.tid) + "_" + std::to_string(generation_);
  const size_t nkey = t.sql.sqlite_key.size();
  // Every touched key is deleted before any row is inserted.
  ASSIGN_OR_RETURN(std::unique_ptr<RowCursor> keys, round.keys());
  std::vector<PgParam> params;
  while (true) {
    ASSIGN_OR_RETURN(bool row, keys->Next());
    if (!row) break;
    ++stats->keys;
    if (nkey == 1 && !MayExist(t, keys->Value(0))) continue;
    params.clear();
    RETURN_IF_ERROR(EncodeKey(t, *keys, &params));
    RETURN_IF_ERROR(target_.QueuePrepared(del, params));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RowCursor> rows, round.rows());
  const int first_data = t.sql.rowid_keyed ? 1 : 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, rows->Next());
    if (!row) break;
    params.clear();
    if (t.sql.rowid_keyed) params.push_back(std::to_string(rows->Value(0).i));
    for (size_t c = 0; c < t.sql.column_index.size(); ++c) {
      schema::SqlValue v = rows->Value(first_data + static_cast<int>(c));
      if (v.type == SQLITE_NULL) {
        params.emplace_back(std::nullopt);
        continue;
      }
      const schema::ColumnMapping& cm = t.tm->columns[static_cast<size_t>(t.sql.column_index[c])];
      std::string text;
      Status s = schema::EncodeForPg(v, cm, &text);
      if (!s.ok()) {
        return Status(Code::kBlocked, "table " + t.tm->source + ", " + DescribeRowKey(*rows, *t.tm, t.sql) +
                                          ", column " + cm.source + ": " + s.message());
      }
      params.push_back(std::move(text));
    }
    RETURN_IF_ERROR(target_.QueuePrepared(ins, params));
    ++stats->upserts;
  }
  return Status::Ok();
}

Status PgSink::ApplyByCopy(Table& t, TableRound& round, RoundStats* stats) {
  const size_t nkey = t.sql.sqlite_key.size();
  ASSIGN_OR_RETURN(std::unique_ptr<RowCursor> keys, round.keys());
  int64_t nkeys = 0;
  // An integer key: the keys to delete go as one array parameter.
  bool by_array = t.int_key;
  std::string array = "{";
  int64_t to_delete = 0;
  if (by_array) {
    while (true) {
      ASSIGN_OR_RETURN(bool row, keys->Next());
      if (!row) break;
      schema::SqlValue v = keys->Value(0);
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
    ASSIGN_OR_RETURN(keys, round.keys());  // from the start
    nkeys = 0;
    to_delete = 0;
    RETURN_IF_ERROR(target_.Run(BeginPrefix() + "CREATE TEMP TABLE IF NOT EXISTS " + stage +
                                " ON COMMIT DELETE ROWS AS SELECT " + t.sql.PgKeyList() + " FROM " + t.sql.pg_table +
                                " WITH NO DATA"));
    RETURN_IF_ERROR(target_.CopyBegin("COPY " + stage + " FROM STDIN (FORMAT binary)"));
    std::string buf, scratch;
    schema::AppendBinaryHeader(&buf);
    while (true) {
      ASSIGN_OR_RETURN(bool row, keys->Next());
      if (!row) break;
      ++nkeys;
      if (nkey == 1 && !MayExist(t, keys->Value(0))) continue;
      ++to_delete;
      schema::AppendInt16(static_cast<int16_t>(nkey), &buf);
      for (size_t i = 0; i < nkey; ++i) {
        schema::SqlValue v = keys->Value(static_cast<int>(i));
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

  // The DELETE is sent without waiting for it; the rows are read from the
  // source while the server runs it.
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
  auto opened = round.rows();
  Status read = opened.status();
  std::string buf, scratch;
  schema::AppendBinaryHeader(&buf);
  int64_t n = 0;
  bool more = read.ok();
  while (more && buf.size() < kPrefetchBytes) {
    auto row = (*opened)->Next();
    if (!row.ok()) {
      read = row.status().Annotate("read " + t.tm->source);
      break;
    }
    if (!*row) {
      more = false;
      break;
    }
    read = AppendCopyRow(**opened, *t.tm, t.sql, &buf, &scratch);
    if (!read.ok()) break;
    ++n;
  }
  if (pipelined) {
    Status deleted = target_.EndPipeline();
    if (read.ok()) read = deleted;
  }
  RETURN_IF_ERROR(read);
  RowCursor& rows = **opened;
  RETURN_IF_ERROR(target_.CopyBegin(BinaryCopySql(t.sql)));
  while (more) {
    if (buf.size() >= kCopyFlushBytes) {
      RETURN_IF_ERROR(target_.CopyPut(buf.data(), buf.size()));
      buf.clear();
    }
    auto row = rows.Next();
    if (!row.ok()) return row.status().Annotate("read " + t.tm->source);
    if (!*row) break;
    RETURN_IF_ERROR(AppendCopyRow(rows, *t.tm, t.sql, &buf, &scratch));
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

Status PgSink::Begin() {
  begin_pending_ = true;
  small_.clear();
  applied_.clear();
  copied_.clear();
  return Status::Ok();
}

Status PgSink::CopyWhole(int tid, RowCursor& rows, RoundStats* stats) {
  auto it = tables_.find(tid);
  if (it == tables_.end()) return Status::Ok();
  Table& t = it->second;
  copied_.push_back(&t);
  // DELETE, not TRUNCATE: other tables' foreign keys may point here, and the
  // replica role skips their checks only for row-level changes.
  RETURN_IF_ERROR(target_.Run(BeginPrefix() + "DELETE FROM " + t.sql.pg_table));
  t.max_key.reset();
  RETURN_IF_ERROR(target_.CopyBegin(BinaryCopySql(t.sql)));
  std::string buf, scratch;
  schema::AppendBinaryHeader(&buf);
  int64_t n = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, rows.Next());
    if (!row) break;
    RETURN_IF_ERROR(AppendCopyRow(rows, *t.tm, t.sql, &buf, &scratch));
    ++n;
    if (buf.size() >= kCopyFlushBytes) {
      RETURN_IF_ERROR(target_.CopyPut(buf.data(), buf.size()));
      buf.clear();
    }
  }
  schema::AppendBinaryTrailer(&buf);
  RETURN_IF_ERROR(target_.CopyPut(buf.data(), buf.size()));
  auto copied = target_.CopyEnd();
  if (!copied.ok()) return copied.status().Annotate("copy into " + t.tm->target);
  stats->upserts += n;
  stats->copy_path = true;
  // The whole copy and clearing its mark commit together.
  return target_.ExecParams("UPDATE slipway.tables SET resync = false WHERE tid = $1", {std::to_string(tid)}).status();
}

Status PgSink::Apply(TableRound round, RoundStats* stats) {
  auto it = tables_.find(round.tid);
  if (it == tables_.end()) return Status::Ok();  // not replicated
  Table& t = it->second;
  ++stats->tables;
  applied_.push_back(&t);
  t.round_max = INT64_MIN;
  t.round_other = false;
  if (t.int_key && !t.max_key) RETURN_IF_ERROR(LoadMaxKey(t));
  if (round.changes > pipeline_max_) return ApplyByCopy(t, round, stats);
  small_.emplace_back(&t, std::move(round));
  return Status::Ok();
}

Status PgSink::Commit(const Position& to, RoundStats* stats) {
  // Statements are prepared outside the pipeline (a synchronous call).
  for (auto& [t, round] : small_) RETURN_IF_ERROR(EnsurePrepared(*t));
  // One round trip: the small tables, the position and the COMMIT.
  RETURN_IF_ERROR(target_.BeginPipeline());
  Status s;
  if (!BeginPrefix().empty()) s = target_.QueueSql("BEGIN");
  for (auto& [t, round] : small_) {
    if (!s.ok()) break;
    s = ApplyPipelined(*t, round, stats);
  }
  if (s.ok()) {
    s = target_.QueueParams("UPDATE slipway.migration SET applied_seq = $1, applied_at = now() WHERE applied_seq <= $1",
                            {std::to_string(to.seq)});
  }
  if (s.ok()) s = FailpointStatus("stream.before_commit");
  if (s.ok()) s = target_.QueueSql("COMMIT");
  Status end = target_.EndPipeline();
  small_.clear();
  if (!s.ok()) return s;
  RETURN_IF_ERROR(end);
  for (Table* t : applied_) {
    if (!t->max_key) continue;
    if (t->round_other) {
      t->max_key.reset();
    } else {
      t->max_key = std::max(*t->max_key, t->round_max);
    }
  }
  for (Table* t : copied_) t->max_key.reset();
  SLIPWAY_FAILPOINT("stream.after_commit");
  return Status::Ok();
}

void PgSink::Abort() {
  small_.clear();
  // After any failure no bound is trusted: a commit whose outcome is unknown
  // may have written keys above it.
  for (auto& [tid, t] : tables_) t.max_key.reset();
  if (!begin_pending_) (void)target_.Run("ROLLBACK");
  begin_pending_ = false;
}

}  // namespace slipway::replicator
