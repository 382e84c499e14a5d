#include "cutover/fences.h"


namespace slipway::cutover {

Status InstallFence(Db& db, const schema::Plan& plan, const std::map<std::string, int>& tids) {
  for (const auto& tm : plan.tables) {
    auto it = tids.find(tm.source);
    if (it == tids.end()) continue;
    const std::string qt = QuoteSqliteIdent(tm.source);
    const std::string base = "_slipway_fence_" + std::to_string(it->second) + "_";
    for (const char* op : {"INSERT", "UPDATE", "DELETE"}) {
      std::string name = base + op;
      RETURN_IF_ERROR(db.Exec("DROP TRIGGER IF EXISTS " + QuoteSqliteIdent(name)));
      RETURN_IF_ERROR(db.Exec("CREATE TRIGGER " + QuoteSqliteIdent(name) + " BEFORE " + op + " ON " + qt +
                              " BEGIN SELECT RAISE(ABORT, '" + kFenceMessage + "'); END"));
    }
  }
  return Status::Ok();
}

Status RemoveFence(Db& db, replicator::SchemaStamp* before, replicator::SchemaStamp* after) {
  RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  if (before != nullptr) {
    auto stamp = replicator::ReadSchemaStamp(db);
    if (!stamp.ok()) {
      (void)db.Exec("ROLLBACK");
      return stamp.status();
    }
    *before = *stamp;
  }
  std::vector<std::string> names;
  {
    auto st = db.Prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '\\_slipway\\_fence\\_%' ESCAPE '\\'");
    if (!st.ok()) {
      (void)db.Exec("ROLLBACK");
      return st.status();
    }
    while (true) {
      auto r = st->Step();
      if (!r.ok() || !*r) break;
      names.push_back(st->Text(0));
    }
  }
  for (const auto& n : names) {
    Status s = db.Exec("DROP TRIGGER " + QuoteSqliteIdent(n));
    if (!s.ok()) {
      (void)db.Exec("ROLLBACK");
      return s;
    }
  }
  Status s = SetSqlitePhase(db, "streaming");
  if (s.ok() && after != nullptr) {
    auto stamp = replicator::ReadSchemaStamp(db);
    s = stamp.status();
    if (s.ok()) *after = *stamp;
  }
  if (!s.ok()) {
    (void)db.Exec("ROLLBACK");
    return s;
  }
  return db.Exec("COMMIT");
}

bool FenceInstalled(Db& db) {
  auto n = db.QueryInt("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '\\_slipway\\_fence\\_%' ESCAPE '\\'");
  return n.ok() && n->value_or(0) > 0;
}

Result<std::string> SqlitePhase(Db& db) {
  auto v = db.QueryText("SELECT value FROM _slipway_meta WHERE key = 'phase'");
  if (!v.ok()) return std::string();
  return v->value_or("");
}

Status SetSqlitePhase(Db& db, const std::string& phase) {
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("INSERT INTO _slipway_meta (key, value) VALUES ('phase', ?) "
                                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  st.Bind(1, std::string_view(phase));
  return st.Run();
}

}  // namespace slipway::cutover
