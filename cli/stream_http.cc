#include "cli/stream_http.h"

#include <nlohmann/json.hpp>

namespace slipway::cli {

std::string StreamStatusJson(replicator::StreamFigures& f) {
  nlohmann::json j = {{"applied_seq", f.applied_seq.load()},   {"source_seq", f.source_seq.load()},
                      {"lag_changes", f.lag_changes.load()},   {"lag_ms", f.lag_ms.load()},
                      {"rounds", f.rounds.load()},             {"changes_applied", f.changes_applied.load()},
                      {"rows_written", f.rows_written.load()}, {"keys_deleted", f.keys_deleted.load()},
                      {"rate_changes_per_s", f.rate.load()},   {"last_batch", f.last_batch.load()},
                      {"max_batch", f.max_batch.load()},       {"errors", f.errors.load()},
                      {"retries", f.retries.load()},           {"paused", f.paused.load()},
                      {"connected", f.connected.load()}};
  std::lock_guard<std::mutex> lock(f.mu);
  j["phase"] = f.phase;
  j["last_error"] = f.last_error;
  return j.dump();
}

std::string StreamMetricsText(replicator::StreamFigures& f) {
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, double value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
           std::to_string(value) + "\n";
  };
  metric("slipway_applied_seq", "gauge", "Changelog position applied to the target.", static_cast<double>(f.applied_seq));
  metric("slipway_source_seq", "gauge", "Newest changelog position in the source.", static_cast<double>(f.source_seq));
  metric("slipway_lag_changes", "gauge", "Changes not yet applied.", static_cast<double>(f.lag_changes));
  metric("slipway_lag_seconds", "gauge", "Age of the oldest change not yet applied.", f.lag_ms / 1000.0);
  metric("slipway_changes_applied_total", "counter", "Changelog rows applied.", static_cast<double>(f.changes_applied));
  metric("slipway_rows_written_total", "counter", "Rows written to the target.", static_cast<double>(f.rows_written));
  metric("slipway_rounds_total", "counter", "Apply transactions.", static_cast<double>(f.rounds));
  metric("slipway_apply_rate", "gauge", "Changes applied per second.", f.rate.load());
  metric("slipway_last_batch_changes", "gauge", "Changes in the last apply transaction.", static_cast<double>(f.last_batch));
  metric("slipway_max_batch_changes", "gauge", "Largest apply transaction so far.", static_cast<double>(f.max_batch));
  metric("slipway_errors_total", "counter", "Apply errors.", static_cast<double>(f.errors));
  metric("slipway_retries_total", "counter", "Reconnect attempts to the target.", static_cast<double>(f.retries));
  metric("slipway_paused", "gauge", "1 while an operator paused the stream.", f.paused ? 1 : 0);
  return out;
}

struct StreamHttp::Impl {};

Result<std::unique_ptr<StreamHttp>> StreamHttp::Start(const std::string& addr_port, replicator::Stream* stream) {
  (void)addr_port;
  (void)stream;
  return Status(Code::kInvalidArgument, "--http is not available in this build");
}

StreamHttp::~StreamHttp() = default;
uint16_t StreamHttp::port() const { return 0; }

}  // namespace slipway::cli
