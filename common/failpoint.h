#pragma once
// Named crash points. A test switches one on through the environment:
//   SLIPWAY_FAILPOINTS="snapshot.after_copy_before_commit=crash"
// Actions: crash (SIGKILL to self: no destructor, no flush, as a power cut
// looks to the databases), error (the call site returns an error), or
// crash@N / error@N to fire on the N-th hit. Unset, a failpoint costs one
// relaxed atomic load.

#include <string_view>

#include "common/status.h"

namespace slipway {

enum class FailAction { kNone, kError };

// Checks the named point: kills the process for "crash"; returns kError for
// "error"; kNone otherwise.
FailAction HitFailpoint(std::string_view name);

// Returns an error Status when the point is set to "error"; crashes for
// "crash"; OK otherwise.
Status FailpointStatus(std::string_view name);

}  // namespace slipway

#define SLIPWAY_FAILPOINT(name) RETURN_IF_ERROR(::slipway::FailpointStatus(name))
