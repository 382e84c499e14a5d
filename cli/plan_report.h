#pragma once
// The human-readable plan report: per table what maps to what and why, then
// the findings (blocking, widened, warnings, info), what an app's queries may
// notice, and the DDL.

#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/help_doc.h"
#include "schema/plan.h"

namespace slipway::cli {

std::string RenderPlanReport(const schema::Plan& plan, const schema::SourceSchema& source);

}  // namespace slipway::cli
