#include "replicator/session.h"

namespace slipway::replicator {

Status SetupSession(PgConn& conn, SessionRole role) {
  RETURN_IF_ERROR(conn.Run(
      "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; "
      "SET extra_float_digits = 1; SET bytea_output = 'hex'; SET standard_conforming_strings = on"));
  switch (role) {
    case SessionRole::kLoader:
      // A lost commit loses its chunk's data and its progress record
      // together, so the copy resumes from the last one that survived.
      RETURN_IF_ERROR(conn.Run("SET synchronous_commit = off; SET maintenance_work_mem = '256MB'; "
                               "SET max_parallel_maintenance_workers = 0"));
      [[fallthrough]];
    case SessionRole::kApplier:
      RETURN_IF_ERROR(conn.Run("SET session_replication_role = replica").Annotate(
          "the applier needs session_replication_role (a superuser, or on PostgreSQL 15+ "
          "GRANT SET ON PARAMETER session_replication_role TO the role)"));
      break;
    case SessionRole::kReader:
      break;
  }
  return Status::Ok();
}

}  // namespace slipway::replicator
