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

// Opens the source read-only, introspects it and loads or builds the plan.
// With `target`, checks the DDL (or the existing schema) against it.
Result<std::unique_ptr<LoadedPlan>> LoadOrBuildPlan(const Args& args, PgConn* target, bool verbose);

// Connects to --target (required).
Result<PgConn> ConnectTarget(const Args& args);

}  // namespace slipway::cli
