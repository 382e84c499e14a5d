// `slipway verify`: proves the source and the target hold the same rows per
// table; when not, names the differing keys with both values.
// Exit 0 when every table is equal (keys changed after the target's position
// are shown as pending and count as equal), 1 when any table differs, the
// usual codes for errors (a missing target table: 8; a source that is not the
// file the target followed: 11).
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/plan_report.h"
#include "cli/plan_support.h"
#include "cli/target_option.h"
#include "common/exit_codes.h"
#include "common/log.h"
#include "cutover/verifier.h"
#include "cutover/verify_report.h"
#include "replicator/pg_state.h"
#include "replicator/source_history.h"
#include "replicator/step_progress.h"

namespace slipway::cli {


namespace {

// The plan the snapshot copied with, where the target holds one (and
// --plan names none): the mapping the data went through, read instead of
// audited again (minutes at tens of millions of rows). Null when there is
// none, or when the file's schema has changed since (a new plan is built).
Result<std::unique_ptr<LoadedPlan>> TargetsPlan(const Args& args, PgConn& target) {
  if (args.Has("plan")) return std::unique_ptr<LoadedPlan>();
  auto log = Logger("verify");
  auto m = replicator::ReadMigration(target);
  if (!m.ok()) {
    log->info("no plan read from the target ({}): building one", m.status().message());
    return std::unique_ptr<LoadedPlan>();
  }
  if (!*m) return std::unique_ptr<LoadedPlan>();
  auto plan = schema::PlanFromJson((*m)->plan);
  if (!plan.ok()) {
    log->info("the plan the target holds cannot be read ({}): building one", plan.status().message());
    return std::unique_ptr<LoadedPlan>();
  }
  ASSIGN_OR_RETURN(auto lp, OpenSource(args));
  lp->plan = std::move(*plan);
  if (Status same = schema::CheckSchemaUnchanged(lp->plan, lp->schema); !same.ok()) {
    log->info("the plan the target holds does not fit the file's schema any more ({}): building one", same.message());
    return std::unique_ptr<LoadedPlan>();
  }
  log->info("comparing by the plan the target holds (migration {})", (*m)->migration_id);
  return lp;
}

}  // namespace

int RunVerify(const std::vector<std::string>& argv) {
  auto specs = PlanOptionSpecs();
  specs.push_back({"json", false, "print the result as one JSON document"});
  specs.push_back({"max-report", true, "differing keys listed per table (default 20)", "N"});
  specs.push_back({"help", false, "show this help"});
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    PrintHelp("verify", "slipway verify --source FILE --target URI [--plan FILE] [--json] [--tables LIST]", specs);
    return 0;
  }
  if (Status t = ResolveTarget(*args, TargetEnv::kUse); !t.ok()) return Fail(t);
  if (!args->Has("source")) return Fail(InvalidArgument("missing required option --source"));
  auto max_report = args->GetInt("max-report", 20);
  if (!max_report.ok()) return Fail(max_report.status());
  if (*max_report < 0) return Fail(InvalidArgument("--max-report must be 0 or more"));
  auto selection = MapOptionsFrom(*args);
  if (!selection.ok()) return Fail(selection.status());

  auto target = ConnectTarget(*args);
  if (!target.ok()) return Fail(target.status());
  // The target is only read (but for this step's progress, written to
  // slipway.step_progress). With tables slipway created, the plan's DDL is
  // not re-validated against it (its CREATE TABLEs would collide with the
  // loaded tables); with the app's own tables, their types are the mapping.
  const bool existing = selection->target_schema == schema::TargetSchemaMode::kExisting;
  const bool verbose = isatty(2) != 0;
  auto lp = TargetsPlan(*args, *target);
  if (!lp.ok()) return Fail(lp.status());
  if (*lp == nullptr) {
    auto built = LoadOrBuildPlan(*args, existing ? &*target : nullptr, /*verbose=*/true);
    if (!built.ok()) return Fail(built.status());
    *lp = std::move(*built);
  }
  const schema::Plan& plan = (*lp)->plan;
  // Read-only: a copy or an older backup of the file the target follows is
  // refused, never compared as if it were that file.
  Status same = replicator::CheckSourceHistory((*lp)->source, *target, (*lp)->schema.path);
  if (!same.ok()) return Fail(same);

  cutover::VerifyOptions options;
  options.max_report = *max_report;
  cutover::Verifier verifier((*lp)->schema.path, *target, plan.options.pg_schema, options);
  Status open = verifier.Open();
  if (!open.ok()) return Fail(open);

  auto log = Logger("verify");
  std::vector<cutover::TableReport> reports;
  cutover::VerifyRunProgress progress(
      plan, [&selection](const schema::TableMapping& t) { return schema::Selected(t.source, *selection); });
  // Written only where slipway's state is (a target it loaded).
  replicator::StepProgressWriter published(*args->Get("target"), "verify", [&progress] { return progress.Figures(); });
  auto state = target->Exec("SELECT to_regclass('slipway.step_progress') IS NOT NULL");
  if (state.ok() && state->Get(0, 0) == "t") published.Start();
  for (const auto& t : plan.tables) {
    // A saved plan holds every table it was made for; --tables narrows it.
    if (!schema::Selected(t.source, *selection)) continue;
    progress.Starting(t.source);
    auto r = verifier.VerifyTable(t);
    if (!r.ok()) return Fail(r.status());
    if (verbose) {
      log->info("verified table={} rows={} equal={} pending={} seconds={:.2f}", t.source, r->source_rows,
                r->Equal(), r->pending, r->seconds);
    }
    log->info("{}", progress.Done(*r));
    reports.push_back(std::move(*r));
  }
  published.Stop(true);
  if (args->Has("json")) {
    std::printf("%s\n", cutover::VerifyToJson(reports).dump(2).c_str());
  } else {
    std::printf("%s", cutover::RenderVerifyText(reports).c_str());
  }
  return cutover::AllEqual(reports) ? 0 : static_cast<int>(ExitCode::kDifferent);
}

}  // namespace slipway::cli
