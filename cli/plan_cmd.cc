#include <cstdio>

#include "cli/commands.h"

namespace slipway::cli {

int RunPlan(const std::vector<std::string>& argv) {
  (void)argv;
  return Fail(Internal("plan: not implemented"));
}

}  // namespace slipway::cli
