#pragma once
// The stream's HTTP endpoint: /status (JSON), /metrics (Prometheus), POST
// /pause and /resume (token required, see cli/http_server.h), over the
// stream's live figures.

#include <memory>
#include <string>

#include "cli/http_server.h"
#include "common/status.h"
#include "replicator/stream.h"

namespace slipway::cli {

class StreamHttp {
 public:
  static Result<std::unique_ptr<StreamHttp>> Start(const std::string& addr_port, replicator::Stream* stream,
                                                   HttpAccess access);
  ~StreamHttp();
  uint16_t port() const;

 private:
  StreamHttp();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The stream's figures as JSON and as Prometheus text.
std::string StreamStatusJson(replicator::StreamFigures& f);
std::string StreamMetricsText(replicator::StreamFigures& f);

}  // namespace slipway::cli
