#pragma once
// The human-readable plan report: per table what maps to what and why, then
// the findings (blocking, widened, warnings, info), what an app's queries may
// notice, and the DDL.

#include <string>
#include <vector>

#include "cli/args.h"
#include "schema/plan.h"

namespace slipway::cli {

std::string RenderPlanReport(const schema::Plan& plan, const schema::SourceSchema& source);

// Prints a command's help from its option specs.
void PrintHelp(const char* command, const char* usage, const std::vector<OptionSpec>& specs);

}  // namespace slipway::cli
