// `slipway plan`: what the SQLite database becomes in PostgreSQL, before
// anything is copied. Exit 0 when clean, 3 when something blocks.
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/plan_report.h"
#include "cli/plan_support.h"
#include "cli/target_option.h"
#include "common/exit_codes.h"

namespace slipway::cli {

int RunPlan(const std::vector<std::string>& argv) {
  auto specs = PlanOptionSpecs();
  specs.push_back({"json", false, "print the plan as one JSON document"});
  specs.push_back({"out", true, "save the plan (mapping decisions + schema fingerprint) for later commands", "FILE"});
  specs.push_back({"ddl", false, "print only the DDL"});
  specs.push_back({"jobs", true, "tables read in parallel for the type audit (default: number of cores)", "N"});
  specs.push_back({"help", false, "show this help"});
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    PrintHelp("plan", "slipway plan --source FILE [--target URI] [--json] [--out FILE]", specs);
    return 0;
  }
  if (Status t = ResolveTarget(*args, TargetEnv::kIgnore); !t.ok()) return Fail(t);
  if (args->Has("plan")) return Fail(InvalidArgument("plan builds a plan; --plan is for the other commands"));
  if (!args->Has("source")) return Fail(InvalidArgument("missing required option --source"));

  std::optional<PgConn> target;
  if (args->Has("target")) {
    auto conn = ConnectTarget(*args);
    if (!conn.ok()) return Fail(conn.status());
    target = std::move(*conn);
  } else if (args->GetOr("target-schema", "create") == "existing") {
    return Fail(InvalidArgument("--target-schema existing needs --target"));
  }
  auto lp = LoadOrBuildPlan(*args, target ? &*target : nullptr, isatty(2) != 0);
  if (!lp.ok()) return Fail(lp.status());
  const schema::Plan& plan = (*lp)->plan;

  if (auto out = args->Get("out")) {
    Status s = schema::SavePlan(plan, *out);
    if (!s.ok()) return Fail(s);
  }
  if (args->Has("json")) {
    std::printf("%s\n", schema::PlanToJson(plan).dump(2).c_str());
  } else if (args->Has("ddl")) {
    std::printf("%s", schema::RenderDdl(plan).c_str());
  } else {
    std::printf("%s", RenderPlanReport(plan, (*lp)->schema).c_str());
  }
  return plan.Blocked() ? static_cast<int>(ExitCode::kBlocked) : 0;
}

}  // namespace slipway::cli
