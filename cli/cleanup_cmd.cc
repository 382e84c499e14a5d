// `slipway cleanup`: removes what slipway installed. In the SQLite file:
// triggers, changelog and control tables (the app's tables are untouched).
// With --target: the "slipway" state schema; with --drop-tables also the
// target tables slipway created. A file a cutover fenced keeps its fence (and
// the phase that records it) unless --remove-fence: the app moved to
// PostgreSQL, and a writable SQLite file would be a second live database.
#include <cstdio>

#include "cli/commands.h"
#include "cli/plan_report.h"
#include "cli/target_option.h"
#include "common/pg.h"
#include "common/sqlite.h"
#include "cutover/fences.h"
#include "replicator/capture.h"
#include "replicator/pg_state.h"

namespace slipway::cli {

int RunCleanup(const std::vector<std::string>& argv) {
  std::vector<OptionSpec> specs = {
      {"source", true, "the SQLite database file", "FILE"},
      {"target", true, "also remove slipway's state schema from this PostgreSQL", "URI"},
      TargetFileSpec(),
      {"drop-tables", false, "with --target: also drop the tables slipway created there"},
      {"remove-fence", false,
       "also remove the fence a cutover put on the SQLite file: the file accepts writes again, next to PostgreSQL"},
      {"help", false, "show this help"},
  };
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    PrintHelp("cleanup", "slipway cleanup [--source FILE [--remove-fence]] [--target URI [--drop-tables]]", specs);
    return 0;
  }
  if (Status t = ResolveTarget(*args, TargetEnv::kIgnore); !t.ok()) return Fail(t);
  if (!args->Has("source") && !args->Has("target")) return Fail(InvalidArgument("give --source and/or --target"));
  if (args->Has("drop-tables") && !args->Has("target")) return Fail(InvalidArgument("--drop-tables needs --target"));
  if (args->Has("remove-fence") && !args->Has("source")) return Fail(InvalidArgument("--remove-fence needs --source"));
  if (auto target = args->Get("target")) {
    auto pg = PgConn::Connect(*target);
    if (!pg.ok()) return Fail(pg.status());
    auto m = replicator::ReadMigration(*pg);
    if (!m.ok()) return Fail(m.status());
    // 'fenced': a cutover past the fence, to finish (--resume) or undo (--abort).
    if (*m && ((*m)->phase == "cut_over" || (*m)->phase == "fenced")) {
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
    auto phase = cutover::SqlitePhase(*db);
    if (!phase.ok()) return Fail(phase.status());
    const bool fenced = *phase == "fenced" || cutover::FenceInstalled(*db);
    const bool keep_fence = fenced && !args->Has("remove-fence");
    Status s = replicator::RemoveCapture(*db, keep_fence);
    if (!s.ok()) return Fail(s);
    if (keep_fence) {
      std::printf("removed slipway capture from %s; kept the cutover's fence: the app moved to PostgreSQL and this "
                  "file refuses writes. --remove-fence makes it writable again (then two databases accept writes, "
                  "and what the app writes here is not in PostgreSQL)\n",
                  source->c_str());
    } else if (fenced) {
      std::printf("removed slipway capture and the cutover's fence from %s: it accepts writes again; the app's "
                  "database is PostgreSQL, keep the app away from this file\n",
                  source->c_str());
    } else {
      std::printf("removed slipway capture from %s\n", source->c_str());
    }
  }
  return 0;
}

}  // namespace slipway::cli
