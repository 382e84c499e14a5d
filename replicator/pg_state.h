#pragma once
// slipway's state in the target (schema "slipway"): the migration row (id,
// source, plan, phase, stream position) and one row per table (copy state,
// start position, resume key). See pg_state.sql.
// Thread-safety: plain functions over a caller's connection.

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/pg.h"

namespace slipway::replicator {

struct MigrationRow {
  std::string migration_id;
  std::string source_path;
  std::string source_fingerprint;
  std::string phase;
  int64_t applied_seq = 0;
  nlohmann::json plan;
};

struct TableState {
  std::string source_table;
  std::string target_table;
  int tid = 0;
  std::string state;  // pending | copying | loaded | done
  std::optional<int64_t> start_seq;
  int64_t copied_rows = 0;
  std::optional<nlohmann::json> resume_after;
};

Status EnsureStateSchema(PgConn& conn);
// nullopt when the target has no slipway state.
Result<std::optional<MigrationRow>> ReadMigration(PgConn& conn);
Status InsertMigration(PgConn& conn, const MigrationRow& row);
Status SetPhase(PgConn& conn, const std::string& phase);
Result<std::map<std::string, TableState>> ReadTableStates(PgConn& conn);
Status InsertTableState(PgConn& conn, const TableState& t);

}  // namespace slipway::replicator
