#pragma once
// The PostgreSQL guard: statement triggers that refuse writes to the
// replicated tables from anyone but slipway (slipway's sessions run with
// session_replication_role = replica, which skips them), from the snapshot on,
// so an app misconfigured early cannot write to PostgreSQL behind the move's
// back. The cutover lifts it at the flip, in the transaction that records the
// phase; a rollback puts it back as its fence.

#include "common/pg.h"
#include "schema/plan.h"

namespace slipway::replicator {

Status InstallGuard(PgConn& pg, const schema::Plan& plan);
Status LiftGuard(PgConn& pg, const schema::Plan& plan);
// The guard put back by a rollback inside its freeze, where the tables are
// locked IN EXCLUSIVE MODE: creates the triggers without dropping any (DROP
// TRIGGER would wait for the app's readers). REQUIRES: in a transaction.
Status InstallGuardLocked(PgConn& pg, const schema::Plan& plan);

}  // namespace slipway::replicator
