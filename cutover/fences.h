#pragma once
// The SQLite fence: BEFORE triggers that reject every app write with a
// message naming the move; installed inside the transaction that holds the
// write lock, together with the recorded phase, so the app sees either no
// fence or a fence with the phase. (The PostgreSQL side's barrier is the
// guard, replicator/guard.h.)

#include <map>
#include <string>

#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/schema_stamp.h"
#include "schema/plan.h"

namespace slipway::cutover {

inline constexpr const char* kFenceMessage =
    "slipway: this database was moved to PostgreSQL; reconnect with the new configuration and retry";

// REQUIRES: db holds the write lock (inside BEGIN IMMEDIATE).
Status InstallFence(Db& db, const schema::Plan& plan, const std::map<std::string, int>& tids);
// Own transaction. With `before`/`after`: the file's schema stamp just before
// and just after, read in that transaction (the fence's DDL moves SQLite's
// schema cookie, as a VACUUM does; a caller that knows the target's stamp was
// `before` can store `after` and spare the forward stream a whole copy).
Status RemoveFence(Db& db, replicator::SchemaStamp* before = nullptr, replicator::SchemaStamp* after = nullptr);
bool FenceInstalled(Db& db);

// The phase recorded in the SQLite file (_slipway_meta), "" if none.
Result<std::string> SqlitePhase(Db& db);
// REQUIRES: inside the caller's write transaction.
Status SetSqlitePhase(Db& db, const std::string& phase);


}  // namespace slipway::cutover
