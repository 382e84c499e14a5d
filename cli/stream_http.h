#pragma once
// The stream's HTTP endpoint: / (the status page, cli/web/status_page.html,
// which refreshes itself from /status), /status (JSON), /metrics (Prometheus), POST
// /pause and /resume (token required, see cli/http_server.h), over the
// stream's live figures.

#include <memory>
#include <string>

#include "cli/http_server.h"
#include "common/status.h"
#include "cutover/continuous_verifier.h"
#include "replicator/stream.h"

namespace slipway::cli {

class StreamHttp {
 public:
  // `verifier` may be null (no background verify).
  static Result<std::unique_ptr<StreamHttp>> Start(const std::string& addr_port, replicator::Stream* stream,
                                                   HttpAccess access,
                                                   const cutover::ContinuousVerifier* verifier = nullptr);
  ~StreamHttp();
  uint16_t port() const;

 private:
  StreamHttp();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The stream's figures (and the background verifier's, when it runs) as
// JSON and as Prometheus text.
std::string StreamStatusJson(replicator::StreamFigures& f, const cutover::ContinuousVerifier* verifier = nullptr);
std::string StreamMetricsText(replicator::StreamFigures& f, const cutover::ContinuousVerifier* verifier = nullptr);

}  // namespace slipway::cli
