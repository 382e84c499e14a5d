#pragma once
// One named spdlog logger per part ("plan", "snapshot", "stream", "cutover",
// "verify", "http"). Sinks are configured once, in main, by SetupLogging();
// until then loggers write to stderr at "info".
// Thread-safety: spdlog loggers are thread-safe.

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace slipway {

// Returns the logger for a part, creating it on first use with the sinks set
// up by SetupLogging().
std::shared_ptr<spdlog::logger> Logger(const std::string& part);

// level: trace|debug|info|warn|error|off. json: one JSON object per line.
void SetupLogging(const std::string& level, bool json);

}  // namespace slipway
