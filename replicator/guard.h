#pragma once
// The PostgreSQL guard: statement triggers that refuse writes to the
// replicated tables from anyone but slipway (slipway's sessions run with
// session_replication_role = replica, which skips them), from the snapshot on,
// so an app misconfigured early cannot write to PostgreSQL behind the move's
// back. The cutover lifts it at the flip, in the transaction that records the
// phase.

#include "common/pg.h"
#include "schema/plan.h"

namespace slipway::replicator {

Status InstallGuard(PgConn& pg, const schema::Plan& plan);
Status LiftGuard(PgConn& pg, const schema::Plan& plan);

}  // namespace slipway::replicator
