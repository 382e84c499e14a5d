#include "cli/plan_support.h"

#include <unistd.h>

#include <algorithm>

#include "cli/target_option.h"
#include "common/log.h"
#include "schema/introspect.h"
#include "schema/target.h"

namespace slipway::cli {

std::vector<OptionSpec> PlanOptionSpecs() {
  return {
      {"source", true, "the SQLite database file", "FILE"},
      {"target", true, "PostgreSQL connection URI or conninfo (password: PGPASSWORD or ~/.pgpass)", "URI"},
      TargetFileSpec(),
      {"plan", true, "use a plan saved with `slipway plan --out`", "FILE"},
      {"mapping", true, "JSON file overriding table/column names, types, skip", "FILE"},
      {"types", true, "type profile: auto (from the data) or keep (integers, 0/1 and dates stay as stored)", "auto|keep"},
      {"keep-names", false, "keep table and column names exactly (default: lower case)"},
      {"target-schema", true, "create the tables, or load into the app's existing ones", "create|existing"},
      {"schema", true, "PostgreSQL schema to use (default public)", "NAME"},
      {"tables", true, "only these tables (names or globs, comma-separated, repeatable)", "LIST"},
      {"exclude", true, "not these tables (names or globs)", "LIST"},
  };
}

Result<schema::MapOptions> MapOptionsFrom(const Args& args) {
  schema::MapOptions o;
  std::string types = args.GetOr("types", "auto");
  if (types == "keep") {
    o.profile = schema::TypeProfile::kKeep;
  } else if (types != "auto") {
    return InvalidArgument("--types must be auto or keep");
  }
  o.names = args.Has("keep-names") ? schema::NameStyle::kKeep : schema::NameStyle::kLower;
  std::string ts = args.GetOr("target-schema", "create");
  if (ts == "existing") {
    o.target_schema = schema::TargetSchemaMode::kExisting;
  } else if (ts != "create") {
    return InvalidArgument("--target-schema must be create or existing");
  }
  o.pg_schema = args.GetOr("schema", "public");
  o.include = args.GetAll("tables");
  o.exclude = args.GetAll("exclude");
  return o;
}

Result<PgConn> ConnectTarget(const Args& args) {
  ASSIGN_OR_RETURN(std::string uri, args.Require("target"));
  return PgConn::Connect(uri);
}

Result<std::unique_ptr<LoadedPlan>> OpenSource(const Args& args) {
  ASSIGN_OR_RETURN(std::string path, args.Require("source"));
  auto lp = std::make_unique<LoadedPlan>();
  ASSIGN_OR_RETURN(lp->source, Db::Open(path, Db::Mode::kReadOnly));
  ASSIGN_OR_RETURN(lp->schema, schema::Introspect(lp->source));
  lp->schema.path = path;
  return lp;
}

Status ResolvePlan(const Args& args, LoadedPlan* lp, PgConn* target, bool verbose) {
  auto log = Logger("plan");
  if (auto plan_file = args.Get("plan")) {
    ASSIGN_OR_RETURN(lp->plan, schema::LoadPlan(*plan_file));
    return schema::CheckSchemaUnchanged(lp->plan, lp->schema);
  }
  ASSIGN_OR_RETURN(schema::MapOptions options, MapOptionsFrom(args));
  std::optional<schema::MappingFile> mapping;
  if (auto mf = args.Get("mapping")) {
    ASSIGN_OR_RETURN(mapping, schema::LoadMappingFile(*mf));
  }
  auto progress = [&](const schema::TableAudit& a) {
    if (verbose) log->info("audited table={} rows={} seconds={:.2f}", a.table, a.rows, a.seconds);
  };
  // The tables are read in parallel: --jobs where the command has it, else
  // one per core.
  const int cores = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  ASSIGN_OR_RETURN(int jobs, args.GetInt("jobs", cores));
  ASSIGN_OR_RETURN(lp->plan, schema::BuildPlan(lp->source, lp->schema, options, mapping ? &*mapping : nullptr, progress,
                                               std::max(1, jobs)));
  if (target != nullptr) RETURN_IF_ERROR(CheckPlanAgainstTarget(*target, &lp->plan));
  return Status::Ok();
}

Status CheckPlanAgainstTarget(PgConn& target, schema::Plan* plan) {
  if (plan->options.target_schema == schema::TargetSchemaMode::kExisting) {
    return schema::MatchExistingSchema(target, plan);
  }
  return schema::ValidateDdl(target, plan);
}

std::string FirstBlocking(const schema::Plan& plan) {
  for (const auto& n : plan.notes) {
    if (n.severity != schema::Severity::kBlocking) continue;
    std::string where = n.table.empty() ? "" : n.table + (n.column.empty() ? "" : "." + n.column) + ": ";
    return where + n.message;
  }
  return "";
}

Result<std::unique_ptr<LoadedPlan>> LoadOrBuildPlan(const Args& args, PgConn* target, bool verbose) {
  ASSIGN_OR_RETURN(auto lp, OpenSource(args));
  RETURN_IF_ERROR(ResolvePlan(args, lp.get(), target, verbose));
  return lp;
}

}  // namespace slipway::cli
