#pragma once
// What every command that works from a plan shares: the options that shape a
// plan, opening the source read-only, and either loading --plan FILE (refused
// when the source schema changed) or building a fresh plan.

#include <memory>
#include <optional>
#include <vector>

#include "cli/args.h"
#include "common/pg.h"
#include "common/sqlite.h"
#include "schema/model.h"
#include "schema/plan.h"

namespace slipway::cli {

// --source, --target, --plan, --mapping, --types, --keep-names,
// --target-schema, --schema, --tables, --exclude.
std::vector<OptionSpec> PlanOptionSpecs();

Result<schema::MapOptions> MapOptionsFrom(const Args& args);

struct LoadedPlan {
  Db source;
  schema::SourceSchema schema;
  schema::Plan plan;
};

// Opens --source read-only and introspects it (the plan is left empty).
Result<std::unique_ptr<LoadedPlan>> OpenSource(const Args& args);

// Loads --plan FILE (refused when the source schema changed since) or builds
// a plan. With `target`, checks the DDL (or the existing schema) against it.
Status ResolvePlan(const Args& args, LoadedPlan* lp, PgConn* target, bool verbose);

// Checks a built plan against the target: its DDL (rolled back), or the
// app's existing tables.
Status CheckPlanAgainstTarget(PgConn& target, schema::Plan* plan);

// The first blocking finding as one line, for an error message.
std::string FirstBlocking(const schema::Plan& plan);

// OpenSource + ResolvePlan.
Result<std::unique_ptr<LoadedPlan>> LoadOrBuildPlan(const Args& args, PgConn* target, bool verbose);

// Connects to --target (required).
Result<PgConn> ConnectTarget(const Args& args);

}  // namespace slipway::cli
