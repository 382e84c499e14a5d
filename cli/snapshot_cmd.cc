// `slipway snapshot`: capture on, then a consistent, parallel, resumable copy.
// A second run continues an interrupted one, with the plan stored in the
// target by the first.
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/plan_report.h"
#include "cli/plan_support.h"
#include "cli/target_option.h"
#include "common/count_format.h"
#include "common/exit_codes.h"
#include "replicator/pg_state.h"
#include "replicator/snapshot.h"
#include "replicator/target_privileges.h"

namespace slipway::cli {

int RunSnapshot(const std::vector<std::string>& argv) {
  auto specs = PlanOptionSpecs();
  specs.push_back({"jobs", true, "workers that audit (without --plan) and copy tables in parallel (default: number of cores)", "N"});
  specs.push_back({"chunk-rows", true, "rows per chunk, each its own short read transaction (default 100000)", "N"});
  specs.push_back({"set-wal", false, "switch a database that is not in WAL mode to WAL"});
  specs.push_back({"capture", true,
                   "how the app's writes are captured: triggers (default) or session (slipway's SQLite extension in the "
                   "app); on a move already made, switches it",
                   "session|triggers"});
  specs.push_back({"truncate-existing", false, "with --target-schema existing: empty target tables that hold rows"});
  specs.push_back({"pause-file", true, "start no new chunk while this file exists (throttle)", "PATH"});
  specs.push_back({"max-cpu", true, "share of time each worker may work, 1..100 (default 100)", "PERCENT"});
  specs.push_back({"max-wal-mb", true, "let the app's -wal file be checkpointed when it passes this size (default 64, 0: off)", "MB"});
  specs.push_back({"validate-fks", false, "validate foreign keys before returning (default: the stream does, in the background)"});
  specs.push_back({"json", false, "progress and result as JSON lines on stdout"});
  specs.push_back({"help", false, "show this help"});
  auto args = Args::Parse(argv, specs);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    PrintHelp("snapshot", "slipway snapshot --source FILE --target URI [--jobs N]", specs);
    return 0;
  }
  if (Status t = ResolveTarget(*args, TargetEnv::kUse); !t.ok()) return Fail(t);
  auto jobs = args->GetInt("jobs", static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))));
  auto chunk = args->GetInt("chunk-rows", 100000);
  if (!jobs.ok()) return Fail(jobs.status());
  if (!chunk.ok()) return Fail(chunk.status());
  if (*jobs < 1 || *chunk < 1) return Fail(InvalidArgument("--jobs and --chunk-rows must be at least 1"));
  if (!args->Has("source")) return Fail(InvalidArgument("missing required option --source"));
  if (!args->Has("target")) return Fail(InvalidArgument("missing required option --target"));

  auto lp = OpenSource(*args);
  if (!lp.ok()) return Fail(lp.status());
  auto target = ConnectTarget(*args);
  if (!target.ok()) return Fail(target.status());
  auto migration = replicator::ReadMigration(*target);
  if (!migration.ok()) return Fail(migration.status());
  // Before anything is written to either side: the privileges the copy and
  // the stream after it need.
  auto preflight = [&target](const schema::Plan& plan) {
    RETURN_IF_ERROR(replicator::CheckReplicationRole(*target));
    return replicator::CheckCreatePrivileges(*target, plan.options.pg_schema,
                                             plan.options.target_schema == schema::TargetSchemaMode::kCreate);
  };
  if (*migration) {
    // Resume: the plan the first run stored is the one that runs.
    auto plan = schema::PlanFromJson((*migration)->plan);
    if (!plan.ok()) return Fail(plan.status());
    (*lp)->plan = std::move(*plan);
    Status s = schema::CheckSchemaUnchanged((*lp)->plan, (*lp)->schema);
    if (!s.ok()) return Fail(s);
    s = preflight((*lp)->plan);
    if (!s.ok()) return Fail(s);
  } else {
    // The audit reads every table: its line per table is logged whether or
    // not stderr is a terminal.
    Status s = ResolvePlan(*args, lp->get(), nullptr, /*verbose=*/true);
    if (!s.ok()) return Fail(s);
    s = preflight((*lp)->plan);
    if (!s.ok()) return Fail(s);
    // Tables in the way are a conflict, not a plan finding.
    if ((*lp)->plan.options.target_schema == schema::TargetSchemaMode::kCreate) {
      s = replicator::CheckTargetTablesAbsent(*target, (*lp)->plan);
      if (!s.ok()) return Fail(s);
    }
    s = CheckPlanAgainstTarget(*target, &(*lp)->plan);
    if (!s.ok()) return Fail(s);
    if ((*lp)->plan.Blocked()) {
      return Fail(Status(Code::kBlocked, "the plan blocks (" + FirstBlocking((*lp)->plan) + "); see `slipway plan`"));
    }
  }

  replicator::SnapshotOptions o;
  o.source_path = *args->Get("source");
  o.target_uri = *args->Get("target");
  o.jobs = *jobs;
  o.chunk_rows = *chunk;
  o.set_wal = args->Has("set-wal");
  if (args->Has("capture")) {
    auto mode = replicator::ParseCaptureMode(*args->Get("capture"));
    if (!mode.ok()) return Fail(mode.status());
    o.capture = *mode;
  }
  o.truncate_existing = args->Has("truncate-existing");
  o.pause_file = args->GetOr("pause-file", "");
  o.validate_foreign_keys = args->Has("validate-fks");
  auto cpu = args->GetInt("max-cpu", 100);
  if (!cpu.ok()) return Fail(cpu.status());
  if (*cpu < 1 || *cpu > 100) return Fail(InvalidArgument("--max-cpu must be 1..100"));
  o.max_cpu_percent = *cpu;
  auto wal = args->GetInt("max-wal-mb", 64);
  if (!wal.ok()) return Fail(wal.status());
  o.max_wal_bytes = static_cast<int64_t>(*wal) << 20;
  o.progress = args->Has("json") ? replicator::ProgressMode::kJson
                                 : (isatty(2) ? replicator::ProgressMode::kTerminal : replicator::ProgressMode::kLog);
  auto r = replicator::RunSnapshot(o, (*lp)->schema, (*lp)->plan);
  if (!r.ok()) return Fail(r.status());
  double rate = r->seconds > 0 ? r->rows / r->seconds : 0;
  if (args->Has("json")) {
    nlohmann::json j = {{"event", "snapshot_done"},     {"migration_id", r->migration_id},
                        {"tables_copied", r->tables_copied}, {"tables_done_before", r->tables_skipped},
                        {"rows", r->rows},              {"seconds", r->seconds},
                        {"capture", replicator::CaptureModeName(r->capture)},
                        {"warnings", r->warnings}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("snapshot done: %s tables copied (%s done before), %s rows in %.2f s (%s rows/s), migration %s, "
                "capture by %s\n",
                FormatCount(r->tables_copied).c_str(), FormatCount(r->tables_skipped).c_str(),
                FormatCount(r->rows).c_str(), r->seconds, FormatCountRounded(rate).c_str(), r->migration_id.c_str(),
                replicator::CaptureModeName(r->capture));
    for (const auto& w : r->warnings) std::printf("warning: %s\n", w.c_str());
  }
  return 0;
}

}  // namespace slipway::cli
