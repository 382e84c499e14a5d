#include "replicator/target_privileges.h"

namespace slipway::replicator {
namespace {

struct Who {
  std::string role;
  std::string database;
};

Result<Who> CurrentRole(PgConn& pg) {
  ASSIGN_OR_RETURN(PgResult r, pg.Exec("SELECT current_user, current_database()"));
  return Who{r.Str(0, 0), r.Str(0, 1)};
}

// Whether the role may create in the schema, or, when the schema does not
// exist, create it in the database.
Result<bool> MayCreateIn(PgConn& pg, const std::string& schema, bool* schema_exists) {
  ASSIGN_OR_RETURN(PgResult r, pg.ExecParams("SELECT to_regnamespace($1) IS NOT NULL, "
                                             "CASE WHEN to_regnamespace($1) IS NULL "
                                             "THEN has_database_privilege(current_database(), 'CREATE') "
                                             "ELSE has_schema_privilege(to_regnamespace($1)::oid, 'CREATE') END",
                                             {QuotePgIdent(schema)}));
  *schema_exists = r.Str(0, 0) == "t";
  return r.Str(0, 1) == "t";
}

Status NoCreate(const Who& who, const std::string& schema, bool schema_exists, const std::string& why) {
  std::string grant = schema_exists ? "GRANT CREATE ON SCHEMA " + QuotePgIdent(schema) + " TO " + QuotePgIdent(who.role)
                                    : "GRANT CREATE ON DATABASE " + QuotePgIdent(who.database) + " TO " +
                                          QuotePgIdent(who.role);
  std::string what = schema_exists ? "CREATE on schema " + QuotePgIdent(schema)
                                   : "CREATE on database " + QuotePgIdent(who.database);
  return Status(Code::kPermissionDenied, "the target role " + QuotePgIdent(who.role) + " lacks the " + what +
                                             " privilege (" + why + "); nothing was written. Fix: " + grant);
}

}  // namespace

Status CheckReplicationRole(PgConn& pg) {
  ASSIGN_OR_RETURN(Who who, CurrentRole(pg));
  RETURN_IF_ERROR(pg.Run("BEGIN"));
  Status s = pg.Run("SET LOCAL session_replication_role = replica");
  RETURN_IF_ERROR(pg.Run("ROLLBACK"));
  if (s.ok()) return s;
  if (s.code() != Code::kPermissionDenied) return s;
  return Status(Code::kPermissionDenied,
                "the target role " + QuotePgIdent(who.role) +
                    " may not set session_replication_role (slipway applies changes with it set to replica, so the "
                    "app's triggers and foreign keys do not fire twice); nothing was written. Fix (PostgreSQL 15+): "
                    "GRANT SET ON PARAMETER session_replication_role TO " +
                    QuotePgIdent(who.role) + "; or connect as a superuser");
}

Status CheckCreatePrivileges(PgConn& pg, const std::string& pg_schema, bool creates_tables) {
  ASSIGN_OR_RETURN(Who who, CurrentRole(pg));
  bool exists = false;
  ASSIGN_OR_RETURN(bool may, MayCreateIn(pg, "slipway", &exists));
  if (!may) return NoCreate(who, "slipway", exists, "slipway keeps its state in schema \"slipway\"");
  if (!creates_tables) return Status::Ok();
  ASSIGN_OR_RETURN(may, MayCreateIn(pg, pg_schema, &exists));
  if (!may) return NoCreate(who, pg_schema, exists, "the snapshot creates the tables there");
  return Status::Ok();
}

}  // namespace slipway::replicator
