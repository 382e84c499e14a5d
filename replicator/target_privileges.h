#pragma once
// Pre-flight checks of what the target role must be allowed to do, run
// before slipway writes anything (to either database), so that a role set up
// without them fails at once with the GRANT that fixes it (kPermissionDenied,
// exit 12) rather than half-way with a raw "permission denied".
// Thread-safety: uses the given connection only.

#include <string>

#include "common/pg.h"

namespace slipway::replicator {

// The applier's writes run with session_replication_role = replica (no app
// triggers, no FK checks, nothing captured back). Tried inside a transaction
// that is rolled back. REQUIRES: no transaction open on `pg`.
Status CheckReplicationRole(PgConn& pg);

// CREATE where the snapshot creates: the state schema "slipway" (CREATE on
// the database while it does not exist) and, when creates_tables, the tables
// in pg_schema (CREATE on that schema, or on the database if it is absent).
Status CheckCreatePrivileges(PgConn& pg, const std::string& pg_schema, bool creates_tables);

}  // namespace slipway::replicator
