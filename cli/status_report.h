#pragma once
// Where a migration stands, read from both databases: what `slipway status`
// prints, and what the cutover's and rollback's HTTP endpoint serves at
// /status (their status page reads it). Reads only.
// Thread-safe: each call opens its own connections.
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace slipway::cli {

struct StatusReport {
  // phase, direction, positions, lag, the applier's heartbeat and figures
  // (applier.figures: the stream's own), tables, background verify, and what
  // a move that died after its fence or the cutover's uncaptured check left.
  nlohmann::json json;
  int code = 0;           // exit code of what the report found
  std::string problem;    // said on stderr when code != 0
  std::string uncaptured_message;
};

// Reads both databases once. An error reaching either is the Status.
Result<StatusReport> CollectStatus(const std::string& source, const std::string& target);

}  // namespace slipway::cli
