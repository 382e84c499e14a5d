#include "replicator/pg_capture.h"

#include "replicator/capture.h"
#include "sql/embedded.h"

namespace slipway::replicator {
namespace {

std::vector<std::string> KeyColumns(const schema::TableMapping& tm) { return tm.key_target; }

std::string FunctionName(int tid) { return "slipway.capture_" + std::to_string(tid); }

// INSERT INTO slipway.changelog (tid, k1..) SELECT tid, key::text.. FROM rel
std::string InsertKeys(const schema::TableMapping& tm, int tid, const std::string& rel) {
  std::string cols, vals;
  const auto keys = KeyColumns(tm);
  for (size_t i = 0; i < keys.size(); ++i) {
    cols += ", k" + std::to_string(i + 1);
    vals += ", " + QuotePgIdent(keys[i]) + "::text";
  }
  return "INSERT INTO slipway.changelog (tid" + cols + ") SELECT " + std::to_string(tid) + vals + " FROM " + rel;
}

// An update touches the old and the new key of each row: once each.
std::string UpdatedKeys(const schema::TableMapping& tm) {
  std::string keys;
  for (const auto& k : KeyColumns(tm)) keys += (keys.empty() ? "" : ", ") + QuotePgIdent(k);
  return "(SELECT " + keys + " FROM slipway_new UNION SELECT " + keys + " FROM slipway_old) u";
}

}  // namespace

std::vector<std::string> PgCaptureKeyColumns(const schema::TableMapping& tm) { return KeyColumns(tm); }

Status ArmPgCapture(PgConn& pg, const schema::Plan& plan, const std::map<std::string, int>& tids) {
  RETURN_IF_ERROR(pg.Run(sql::pg_capture));
  const std::string qs = QuotePgIdent(plan.options.pg_schema);
  for (const auto& tm : plan.tables) {
    auto it = tids.find(tm.source);
    if (it == tids.end()) continue;
    if (tm.key_target.empty() || tm.key_target.size() > static_cast<size_t>(kMaxKeyColumns)) {
      return Status(Code::kBlocked, "table " + tm.source + ": reverse capture records at most " +
                                        std::to_string(kMaxKeyColumns) + " key columns");
    }
    const int tid = it->second;
    const std::string qt = qs + "." + QuotePgIdent(tm.target);
    // One function per table: static SQL, planned once per session. A key
    // update records the old and the new key.
    RETURN_IF_ERROR(pg.Run("CREATE OR REPLACE FUNCTION " + FunctionName(tid) +
                           "() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
                           "IF TG_OP = 'INSERT' THEN " + InsertKeys(tm, tid, "slipway_new") + "; "
                           "ELSIF TG_OP = 'UPDATE' THEN " + InsertKeys(tm, tid, UpdatedKeys(tm)) + "; "
                           "ELSE " + InsertKeys(tm, tid, "slipway_old") + "; END IF; RETURN NULL; END $f$"));
    for (const char* op : {"insert", "update", "delete"}) {
      const std::string name = QuotePgIdent(std::string("_slipway_capture_") + op);
      std::string refs;
      if (std::string(op) == "insert") refs = "REFERENCING NEW TABLE AS slipway_new";
      if (std::string(op) == "update") refs = "REFERENCING OLD TABLE AS slipway_old NEW TABLE AS slipway_new";
      if (std::string(op) == "delete") refs = "REFERENCING OLD TABLE AS slipway_old";
      RETURN_IF_ERROR(pg.Run("DROP TRIGGER IF EXISTS " + name + " ON " + qt + "; CREATE TRIGGER " + name + " AFTER " +
                             op + " ON " + qt + " " + refs + " FOR EACH STATEMENT EXECUTE FUNCTION " +
                             FunctionName(tid) + "()"));
    }
    RETURN_IF_ERROR(pg.Run("DROP TRIGGER IF EXISTS _slipway_capture_truncate ON " + qt +
                           "; CREATE TRIGGER _slipway_capture_truncate BEFORE TRUNCATE ON " + qt +
                           " FOR EACH STATEMENT EXECUTE FUNCTION slipway.refuse_truncate()"));
  }
  return Status::Ok();
}

Status DisarmPgCapture(PgConn& pg, const schema::Plan& plan) {
  const std::string qs = QuotePgIdent(plan.options.pg_schema);
  for (const auto& tm : plan.tables) {
    const std::string qt = qs + "." + QuotePgIdent(tm.target);
    for (const char* op : {"insert", "update", "delete", "truncate"}) {
      RETURN_IF_ERROR(pg.Run("DROP TRIGGER IF EXISTS " + QuotePgIdent(std::string("_slipway_capture_") + op) + " ON " + qt));
    }
  }
  ASSIGN_OR_RETURN(PgResult exists, pg.Exec("SELECT to_regclass('slipway.changelog') IS NOT NULL"));
  if (exists.Get(0, 0) == "t") RETURN_IF_ERROR(pg.Run("DELETE FROM slipway.changelog"));
  return Status::Ok();
}

}  // namespace slipway::replicator
