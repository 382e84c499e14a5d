#include "cli/stream_http.h"

#include <nlohmann/json.hpp>

#include "cli/http_server.h"
#include "cli/metrics.h"
#include "web/embedded.h"

namespace slipway::cli {

std::string StreamStatusJson(replicator::StreamFigures& f, const cutover::ContinuousVerifier* verifier) {
  nlohmann::json j = {{"applied_seq", f.applied_seq.load()},   {"source_seq", f.source_seq.load()},
                      {"lag_changes", f.lag_changes.load()},   {"lag_ms", f.lag_ms.load()},
                      {"rounds", f.rounds.load()},             {"changes_applied", f.changes_applied.load()},
                      {"changesets_applied", f.changesets_applied.load()},
                      {"rows_written", f.rows_written.load()}, {"keys_deleted", f.keys_deleted.load()},
                      {"rate_changes_per_s", f.rate.load()},   {"last_batch", f.last_batch.load()},
                      {"max_batch", f.max_batch.load()},       {"errors", f.errors.load()},
                      {"retries", f.retries.load()},           {"paused", f.paused.load()},
                      {"connected", f.connected.load()},       {"wal_checkpoints", f.checkpoints.load()},
                      {"wal_frames_backfilled", f.frames_backfilled.load()}, {"wal_frames", f.wal_frames.load()}};
  std::lock_guard<std::mutex> lock(f.mu);
  j["phase"] = f.phase;
  j["direction"] = f.direction;
  j["last_error"] = f.last_error;
  j["last_error_at"] = f.last_error_at;
  j["recovered_error"] = f.recovered_error;
  if (!f.tables_json.empty()) j["tables"] = nlohmann::json::parse(f.tables_json, nullptr, false);
  nlohmann::json history = nlohmann::json::array();
  for (const auto& h : f.history) history.push_back({h.at_ms, h.lag_ms, h.rate});
  j["history"] = std::move(history);
  if (!f.last_move_json.empty()) j["last_move"] = nlohmann::json::parse(f.last_move_json, nullptr, false);
  if (verifier != nullptr) {
    j["verify"] = cutover::VerifyProgressJson(verifier->Progress());
    j["verify"]["running"] = verifier->running();
  }
  return j.dump();
}

namespace {

// The background verifier's figures, per table.
void VerifyMetrics(const cutover::ContinuousVerifier& verifier, MetricsText& m) {
  constexpr size_t kMaxMismatchSamples = 20;
  const cutover::VerifyProgress p = verifier.Progress();
  m.Family("slipway_verify_running", MetricType::kGauge,
           "1 while the background verifier reads chunks (not paused, streaming forward).")
      .Sample(verifier.running() ? 1 : 0);
  m.Family("slipway_verify_open_mismatches", MetricType::kGauge,
           "Keys the background verifier found different and not changed since.")
      .Sample(static_cast<double>(p.mismatches.size()));
  m.Family("slipway_verify_pass_rows", MetricType::kGauge, "Rows verified in the pass under way.");
  for (const auto& t : p.tables) m.Sample({{"table", t.table}}, static_cast<double>(t.pass_rows));
  m.Family("slipway_verify_complete_passes", MetricType::kGauge, "Complete background passes over the table.");
  for (const auto& t : p.tables) m.Sample({{"table", t.table}}, static_cast<double>(t.completed_pass.value_or(0)));
  m.Family("slipway_verify_last_pass_age_seconds", MetricType::kGauge,
           "Seconds since the table's last complete background pass (absent before the first).");
  for (const auto& t : p.tables) {
    if (t.completed_pass) m.Sample({{"table", t.table}}, t.completed_age_s);
  }
  m.Family("slipway_verify_mismatch", MetricType::kGauge, "An open mismatch (at most 20 listed).");
  for (size_t i = 0; i < p.mismatches.size() && i < kMaxMismatchSamples; ++i) {
    m.Sample({{"table", p.mismatches[i].table}, {"key", p.mismatches[i].key_text}}, 1);
  }
}

}  // namespace

std::string StreamMetricsText(replicator::StreamFigures& f, const cutover::ContinuousVerifier* verifier) {
  MetricsText m;
  auto gauge = [&](const char* name, const char* help, double v) { m.Family(name, MetricType::kGauge, help).Sample(v); };
  auto counter = [&](const char* name, const char* help, double v) { m.Family(name, MetricType::kCounter, help).Sample(v); };
  bool reverse = false;
  {
    std::lock_guard<std::mutex> lock(f.mu);
    reverse = f.direction == "reverse";
  }
  gauge("slipway_reverse", "1 while changes flow back from PostgreSQL into SQLite (after a cutover), else 0.",
        reverse ? 1.0 : 0.0);
  gauge("slipway_applied_seq", "Position applied (forward: changelog seq; reverse: snapshot xmax).",
        static_cast<double>(f.applied_seq));
  gauge("slipway_source_seq", "Newest changelog position in the source.", static_cast<double>(f.source_seq));
  gauge("slipway_lag_changes", "Changes not yet applied.", static_cast<double>(f.lag_changes));
  gauge("slipway_lag_seconds", "Age of the oldest change not yet applied.", f.lag_ms / 1000.0);
  counter("slipway_changes_applied_total", "Changelog rows applied.", static_cast<double>(f.changes_applied));
  counter("slipway_changesets_applied_total", "App transactions applied whole from session-capture changesets.",
          static_cast<double>(f.changesets_applied));
  counter("slipway_rows_written_total", "Rows written to the target.", static_cast<double>(f.rows_written));
  counter("slipway_keys_deleted_total", "Keys whose row was gone in the source.", static_cast<double>(f.keys_deleted));
  counter("slipway_rounds_total", "Apply transactions.", static_cast<double>(f.rounds));
  gauge("slipway_apply_rate", "Changes applied per second.", f.rate.load());
  gauge("slipway_last_batch_changes", "Changes in the last apply transaction.", static_cast<double>(f.last_batch));
  gauge("slipway_max_batch_changes", "Largest apply transaction so far.", static_cast<double>(f.max_batch));
  counter("slipway_errors_total", "Apply errors.", static_cast<double>(f.errors));
  counter("slipway_retries_total", "Reconnect attempts to the target.", static_cast<double>(f.retries));
  counter("slipway_wal_checkpoints_total", "Passive checkpoints of the source's WAL run by the stream.",
          static_cast<double>(f.checkpoints));
  counter("slipway_wal_frames_backfilled_total", "WAL frames the stream's checkpoints copied into the database.",
          static_cast<double>(f.frames_backfilled));
  gauge("slipway_wal_frames", "Frames in the source's WAL at the stream's last look.", static_cast<double>(f.wal_frames));
  gauge("slipway_paused", "1 while an operator paused the stream.", f.paused ? 1 : 0);
  gauge("slipway_connected", "1 while the target is reachable.", f.connected ? 1 : 0);
  if (verifier != nullptr) VerifyMetrics(*verifier, m);
  return std::move(m).Take();
}

struct StreamHttp::Impl {
  std::unique_ptr<HttpServer> server;
};

Result<std::unique_ptr<StreamHttp>> StreamHttp::Start(const std::string& addr_port, replicator::Stream* stream,
                                                      HttpAccess access,
                                                      const cutover::ContinuousVerifier* verifier) {
  HttpHandlers h;
  h.page_html = [] { return std::string(web::status_page); };
  h.status_json = [stream, verifier] { return StreamStatusJson(stream->figures(), verifier); };
  h.metrics_text = [stream, verifier] { return StreamMetricsText(stream->figures(), verifier); };
  h.set_paused = [stream](bool paused) { stream->SetPaused(paused); };
  ASSIGN_OR_RETURN(auto server, HttpServer::Start(addr_port, std::move(h), std::move(access)));
  auto out = std::unique_ptr<StreamHttp>(new StreamHttp());
  out->impl_ = std::make_unique<Impl>();
  out->impl_->server = std::move(server);
  return out;
}

StreamHttp::StreamHttp() = default;
StreamHttp::~StreamHttp() = default;
uint16_t StreamHttp::port() const { return impl_->server->port(); }

}  // namespace slipway::cli
