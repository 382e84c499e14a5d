#include "replicator/guard.h"

#include "sql/embedded.h"

namespace slipway::replicator {

Status InstallGuard(PgConn& pg, const schema::Plan& plan) {
  RETURN_IF_ERROR(pg.Run(sql::pg_guard));
  const std::string qs = QuotePgIdent(plan.options.pg_schema);
  for (const auto& tm : plan.tables) {
    const std::string qt = qs + "." + QuotePgIdent(tm.target);
    RETURN_IF_ERROR(pg.Run("DROP TRIGGER IF EXISTS _slipway_guard ON " + qt +
                           "; CREATE TRIGGER _slipway_guard BEFORE INSERT OR UPDATE OR DELETE ON " + qt +
                           " FOR EACH STATEMENT EXECUTE FUNCTION slipway.guard()"));
    RETURN_IF_ERROR(pg.Run("DROP TRIGGER IF EXISTS _slipway_guard_truncate ON " + qt +
                           "; CREATE TRIGGER _slipway_guard_truncate BEFORE TRUNCATE ON " + qt +
                           " FOR EACH STATEMENT EXECUTE FUNCTION slipway.guard()"));
  }
  return Status::Ok();
}

Status InstallGuardLocked(PgConn& pg, const schema::Plan& plan) {
  RETURN_IF_ERROR(pg.Run(sql::pg_guard));
  const std::string create = pg.ServerVersion() >= 140000 ? "CREATE OR REPLACE TRIGGER " : "CREATE TRIGGER ";
  const std::string qs = QuotePgIdent(plan.options.pg_schema);
  for (const auto& tm : plan.tables) {
    const std::string qt = qs + "." + QuotePgIdent(tm.target);
    RETURN_IF_ERROR(pg.Run(create + "_slipway_guard BEFORE INSERT OR UPDATE OR DELETE ON " + qt +
                           " FOR EACH STATEMENT EXECUTE FUNCTION slipway.guard()"));
    RETURN_IF_ERROR(pg.Run(create + "_slipway_guard_truncate BEFORE TRUNCATE ON " + qt +
                           " FOR EACH STATEMENT EXECUTE FUNCTION slipway.guard()"));
  }
  return Status::Ok();
}

Status LiftGuard(PgConn& pg, const schema::Plan& plan) {
  const std::string qs = QuotePgIdent(plan.options.pg_schema);
  for (const auto& tm : plan.tables) {
    const std::string qt = qs + "." + QuotePgIdent(tm.target);
    RETURN_IF_ERROR(pg.Run("DROP TRIGGER IF EXISTS _slipway_guard ON " + qt +
                           "; DROP TRIGGER IF EXISTS _slipway_guard_truncate ON " + qt));
  }
  return Status::Ok();
}

}  // namespace slipway::replicator
