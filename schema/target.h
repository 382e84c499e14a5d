#pragma once
// Plan checks against the target PostgreSQL, which leave it as it was:
// ValidateDdl() runs the plan's DDL inside a transaction that is rolled back;
// MatchExistingSchema() fits the plan to tables an app's own migrations made.

#include "common/pg.h"
#include "schema/plan.h"

namespace slipway::schema {

// Proves PostgreSQL accepts the DDL. An optional statement it rejects is
// marked dropped with a warning naming the error; a rejected CREATE TABLE
// blocks. Always rolls back.
Status ValidateDdl(PgConn& conn, Plan* plan);

// --target-schema existing: matches tables and columns by name, takes each
// column's existing type, checks every present value fits it (type, NOT NULL,
// length, range) and that the key is unique there. Replaces the plan's DDL
// (the app's tables are left as they are).
Status MatchExistingSchema(PgConn& conn, Plan* plan);

}  // namespace slipway::schema
