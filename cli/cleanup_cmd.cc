// `slipway cleanup`: removes what slipway installed. In the SQLite file:
// triggers, changelog and control tables (the app's tables are untouched).
// With --target: the "slipway" state schema; with --drop-tables also the
// target tables slipway created.
#include <cstdio>

#include "cli/commands.h"
#include "cli/plan_report.h"
#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/capture.h"
#include "replicator/pg_state.h"

namespace slipway::cli {

int RunCleanup(const std::vector<std::string>& argv) {
  std::vector<OptionSpec> specs = {
      {"source", true, "the SQLite database file", "FILE"},
      {"target", true, "also remove slipway's state schema from this PostgreSQL", "URI"},
      {"drop-tables", false, "with --target: also drop the tables slipway created there"},
      {"help", false, "show this help"},
  };
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    PrintHelp("cleanup", "slipway cleanup [--source FILE] [--target URI [--drop-tables]]", specs);
    return 0;
  }
  if (!args->Has("source") && !args->Has("target")) return Fail(InvalidArgument("give --source and/or --target"));
  if (args->Has("drop-tables") && !args->Has("target")) return Fail(InvalidArgument("--drop-tables needs --target"));
  if (auto target = args->Get("target")) {
    auto pg = PgConn::Connect(*target);
    if (!pg.ok()) return Fail(pg.status());
    auto m = replicator::ReadMigration(*pg);
    if (!m.ok()) return Fail(m.status());
    if (*m && ((*m)->phase == "cutover" || (*m)->phase == "cut over")) {
      return Fail(Conflict("the app was cut over to this target; its state is kept (cleanup would lose the rollback path)"));
    }
    Status s = pg->Run("BEGIN");
    if (s.ok() && args->Has("drop-tables") && *m) {
      auto tables = replicator::ReadTableStates(*pg);
      if (!tables.ok()) return Fail(tables.status());
      std::string pg_schema = (*m)->plan.value("options", nlohmann::json::object()).value("pg_schema", "public");
      bool existing = (*m)->plan.value("options", nlohmann::json::object()).value("target_schema", "create") == "existing";
      for (const auto& [name, t] : *tables) {
        if (existing) break;  // the app's own tables are never dropped
        s = pg->Run("DROP TABLE IF EXISTS " + QuotePgIdent(pg_schema) + "." + QuotePgIdent(t.target_table) + " CASCADE");
        if (!s.ok()) break;
      }
    }
    if (s.ok()) s = pg->Run("DROP SCHEMA IF EXISTS slipway CASCADE");
    if (s.ok()) s = pg->Run("COMMIT");
    if (!s.ok()) return Fail(s);
    std::printf("removed slipway state%s from the target\n", args->Has("drop-tables") ? " and tables" : "");
  }
  if (auto source = args->Get("source")) {
    auto db = Db::Open(*source, Db::Mode::kReadWrite);
    if (!db.ok()) return Fail(db.status());
    Status s = replicator::RemoveCapture(*db);
    if (!s.ok()) return Fail(s);
    std::printf("removed slipway capture from %s\n", source->c_str());
  }
  return 0;
}

}  // namespace slipway::cli
