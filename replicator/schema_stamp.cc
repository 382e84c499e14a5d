#include "replicator/schema_stamp.h"

#include <cstdio>

#include "common/log.h"
#include "replicator/table_sql.h"

namespace slipway::replicator {
namespace {

// FNV-1a: the same value in every process and build, unlike std::hash.
void Mix(uint64_t* h, std::string_view s) {
  for (unsigned char c : s) {
    *h ^= c;
    *h *= 1099511628211ULL;
  }
  *h ^= 0xff;  // field separator
  *h *= 1099511628211ULL;
}

}  // namespace

Result<SchemaStamp> ReadSchemaStamp(Db& db) {
  SchemaStamp s;
  ASSIGN_OR_RETURN(auto v, db.QueryInt("PRAGMA schema_version"));
  s.version = v.value_or(0);
  // rootpage is left out: VACUUM may move a table's root page.
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema WHERE name "
                                       "NOT LIKE '\\_slipway\\_%' ESCAPE '\\' ORDER BY type, name"));
  uint64_t h = 14695981039346656037ULL;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    for (int i = 0; i < 4; ++i) Mix(&h, st.Text(i));
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  s.hash = buf;
  return s;
}

Result<std::optional<SchemaStamp>> ReadStoredStamp(PgConn& pg) {
  ASSIGN_OR_RETURN(PgResult r, pg.Exec("SELECT source_schema_version, source_schema_hash FROM slipway.migration"));
  if (r.Rows() == 0 || r.IsNull(0, 0) || r.IsNull(0, 1)) return std::optional<SchemaStamp>();
  return std::optional<SchemaStamp>(SchemaStamp{std::stoll(r.Str(0, 0)), r.Str(0, 1)});
}

Status StoreStamp(PgConn& pg, const SchemaStamp& stamp) {
  return pg
      .ExecParams("UPDATE slipway.migration SET source_schema_version = $1, source_schema_hash = $2",
                  {std::to_string(stamp.version), stamp.hash})
      .status();
}

Status FollowStamp(PgConn& pg, const SchemaStamp& before, const SchemaStamp& after) {
  ASSIGN_OR_RETURN(auto stored, ReadStoredStamp(pg));
  if (!stored || !(*stored == before)) return Status::Ok();
  return StoreStamp(pg, after);
}

bool MayHaveRenumbered(const SchemaStamp& before, const SchemaStamp& now) {
  if (before.version == now.version) return false;
  if (before.hash == now.hash) return true;
  // Schema statements each move the cookie by one: more than one step may be
  // a VACUUM among them.
  return now.version - before.version != 1;
}

Status RecordCaptureRefresh(Db& db, const SchemaStamp& before, const SchemaStamp& after) {
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("INSERT INTO _slipway_meta (key, value) VALUES ('capture_refresh', ?1) "
                                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  const std::string v = std::to_string(before.version) + " " + before.hash + " " + std::to_string(after.version) + " " +
                        after.hash;
  st.Bind(1, std::string_view(v));
  return st.Run();
}

Result<bool> IsCaptureRefresh(Db& db, const SchemaStamp& before, const SchemaStamp& now) {
  if (before.hash != now.hash) return false;
  ASSIGN_OR_RETURN(auto has, db.QueryInt("SELECT count(*) FROM sqlite_schema WHERE name = '_slipway_meta'"));
  if (has.value_or(0) == 0) return false;
  ASSIGN_OR_RETURN(auto v, db.QueryText("SELECT value FROM _slipway_meta WHERE key = 'capture_refresh'"));
  const std::string expected = std::to_string(before.version) + " " + before.hash + " " + std::to_string(now.version) +
                               " " + now.hash;
  return v.value_or("") == expected;
}

std::map<int, std::string> RowidKeyedTables(const schema::Plan& plan, const std::map<std::string, int>& tids) {
  std::map<int, std::string> out;
  for (const auto& tm : plan.tables) {
    auto it = tids.find(tm.source);
    if (it == tids.end() || !BuildTableSql(tm, plan.options.pg_schema).rowid_keyed) continue;
    out[it->second] = tm.source;
  }
  return out;
}

Status MarkRenumbered(PgConn& pg, const std::map<int, std::string>& tables, const SchemaStamp& from,
                      const SchemaStamp& to) {
  auto log = Logger("stream");
  for (const auto& [tid, name] : tables) {
    RETURN_IF_ERROR(pg.ExecParams("UPDATE slipway.tables SET resync = true WHERE tid = $1", {std::to_string(tid)})
                        .status());
    log->warn("VACUUM renumbered rowids: table {} copied whole (schema_version {} -> {}{})", name, from.version,
              to.version, from.hash == to.hash ? ", schema unchanged" : ", with a schema change");
  }
  return Status::Ok();
}

Result<std::set<int>> RenumberCheck::Check(Db& db, PgConn& pg, const schema::Plan& plan,
                                           const std::map<std::string, int>& tids) {
  std::set<int> out;
  ASSIGN_OR_RETURN(SchemaStamp now, ReadSchemaStamp(db));
  if (!known_) {
    ASSIGN_OR_RETURN(known_, ReadStoredStamp(pg));
    if (!known_) {
      // A migration from before stamps were kept: this is the first one.
      RETURN_IF_ERROR(StoreStamp(pg, now));
      known_ = now;
    }
  }
  if (known_->version == now.version) return out;
  ASSIGN_OR_RETURN(bool refresh, IsCaptureRefresh(db, *known_, now));
  if (refresh) {
    RETURN_IF_ERROR(StoreStamp(pg, now));
    known_ = now;
    return out;
  }
  if (known_->hash != now.hash) {
    return Status(Code::kSchemaChanged, "the source schema changed since the stream last applied (schema_version " +
                                            std::to_string(known_->version) + " -> " + std::to_string(now.version) +
                                            "): run `slipway stream` to carry it over first");
  }
  const auto tables = RowidKeyedTables(plan, tids);
  RETURN_IF_ERROR(pg.Run("BEGIN"));
  RollbackGuard abort{pg};
  RETURN_IF_ERROR(MarkRenumbered(pg, tables, *known_, now));
  RETURN_IF_ERROR(StoreStamp(pg, now));
  RETURN_IF_ERROR(pg.Run("COMMIT"));
  abort.active = false;
  known_ = now;
  for (const auto& [tid, name] : tables) out.insert(tid);
  return out;
}

}  // namespace slipway::replicator
