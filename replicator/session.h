#pragma once
// Session settings every slipway connection to the target uses, so values are
// read and written in one well-known form whatever the server's defaults.

#include "common/pg.h"

namespace slipway::replicator {

enum class SessionRole {
  kLoader,    // snapshot: asynchronous commit (data and progress commit together)
  kApplier,   // stream: replica role so app triggers and FK checks don't fire
  kReader,    // verify/status
};

Status SetupSession(PgConn& conn, SessionRole role);

}  // namespace slipway::replicator
