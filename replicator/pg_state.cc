#include "replicator/pg_state.h"

#include "sql/embedded.h"

namespace slipway::replicator {

namespace {

// Which pg_state.sql made the schema: FNV-1a of its text, kept as the
// schema's comment.
std::string StateVersion() {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : std::string_view(sql::pg_state)) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return "slipway state " + std::to_string(h);
}

}  // namespace

Status EnsureStateSchema(PgConn& conn) {
  // Once the schema is current, nothing is run: its ALTER TABLEs would take
  // ACCESS EXCLUSIVE locks on the state tables at every attach, and wait
  // for (or deadlock with) a verify reading them.
  const std::string version = StateVersion();
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
                                         "WHERE nspname = 'slipway'"));
  if (r.Rows() == 1 && !r.IsNull(0, 0) && r.Str(0, 0) == version) return Status::Ok();
  RETURN_IF_ERROR(conn.Run(sql::pg_state));
  return conn.Run("COMMENT ON SCHEMA slipway IS " + QuotePgLiteral(version));
}

Result<std::optional<MigrationRow>> ReadMigration(PgConn& conn) {
  ASSIGN_OR_RETURN(PgResult exists, conn.Exec("SELECT to_regclass('slipway.migration') IS NOT NULL"));
  if (exists.Get(0, 0) != "t") return std::optional<MigrationRow>();
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT migration_id, source_path, source_fingerprint, phase, applied_seq, "
                                         "plan::text FROM slipway.migration"));
  if (r.Rows() == 0) return std::optional<MigrationRow>();
  MigrationRow m;
  m.migration_id = r.Str(0, 0);
  m.source_path = r.Str(0, 1);
  m.source_fingerprint = r.Str(0, 2);
  m.phase = r.Str(0, 3);
  m.applied_seq = std::stoll(r.Str(0, 4));
  m.plan = nlohmann::json::parse(r.Str(0, 5), nullptr, false);
  return std::optional<MigrationRow>(std::move(m));
}

Status InsertMigration(PgConn& conn, const MigrationRow& row) {
  return conn
      .ExecParams("INSERT INTO slipway.migration (migration_id, source_path, source_fingerprint, plan, phase) "
                  "VALUES ($1, $2, $3, $4::jsonb, $5)",
                  {row.migration_id, row.source_path, row.source_fingerprint, row.plan.dump(), row.phase})
      .status();
}

Status SetPhase(PgConn& conn, const std::string& phase) {
  return conn.ExecParams("UPDATE slipway.migration SET phase = $1, updated_at = now()", {phase}).status();
}

Result<std::map<std::string, TableState>> ReadTableStates(PgConn& conn) {
  std::map<std::string, TableState> out;
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT source_table, target_table, tid, state, start_seq, copied_rows, "
                                         "resume_after::text FROM slipway.tables"));
  for (int i = 0; i < r.Rows(); ++i) {
    TableState t;
    t.source_table = r.Str(i, 0);
    t.target_table = r.Str(i, 1);
    t.tid = std::stoi(r.Str(i, 2));
    t.state = r.Str(i, 3);
    if (!r.IsNull(i, 4)) t.start_seq = std::stoll(r.Str(i, 4));
    t.copied_rows = std::stoll(r.Str(i, 5));
    if (!r.IsNull(i, 6)) t.resume_after = nlohmann::json::parse(r.Str(i, 6), nullptr, false);
    out[t.source_table] = t;
  }
  return out;
}

Status InsertTableState(PgConn& conn, const TableState& t) {
  return conn
      .ExecParams("INSERT INTO slipway.tables (source_table, target_table, tid, state) VALUES ($1, $2, $3, $4)",
                  {t.source_table, t.target_table, std::to_string(t.tid), t.state})
      .status();
}

}  // namespace slipway::replicator
