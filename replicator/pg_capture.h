#pragma once
// Reverse capture in PostgreSQL (see pg_capture.sql): statement triggers
// with transition tables record the touched keys of every replicated table
// in slipway.changelog, in the writer's transaction. Armed by the cutover in
// the transaction that lifts the guard, so no app write escapes it; disarmed
// by the rollback in the transaction that puts the guard back.
// Thread-safety: plain functions over the caller's connection.

#include "common/pg.h"
#include "schema/plan.h"

namespace slipway::replicator {

// The capture objects (changelog, functions) and the per-table triggers.
// REQUIRES: inside the caller's transaction; `tids` maps plan tables to ids.
Status ArmPgCapture(PgConn& pg, const schema::Plan& plan, const std::map<std::string, int>& tids);
// Drops the per-table triggers and empties the changelog.
Status DisarmPgCapture(PgConn& pg, const schema::Plan& plan);

// The key column expressions the triggers record, in key order: the
// target's key columns (_slipway_rowid for a table keyed by rowid).
std::vector<std::string> PgCaptureKeyColumns(const schema::TableMapping& tm);

}  // namespace slipway::replicator
