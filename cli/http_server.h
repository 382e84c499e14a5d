#pragma once
// HttpServer: a small embedded HTTP/1.1 control and status endpoint for a
// running migration (standalone Asio, one thread of its own).
//
//   GET  /         -> text/html, the status page    HttpHandlers::page_html
//   GET  /status   -> application/json            HttpHandlers::status_json
//   GET  /metrics  -> Prometheus text (0.0.4)      HttpHandlers::metrics_text
//   GET  /target   -> text/plain, app's target URL HttpHandlers::target
//   POST /pause    -> set_paused(true)
//   POST /resume   -> set_paused(false)
//   POST /release  -> release(); 409 when there was nothing to release
//
// One request per connection, answered with `Connection: close`. Request line
// and headers are capped at kMaxHeaderBytes (else 431) and must arrive within
// kHeaderTimeout (else the connection is dropped). Request bodies are read
// only to be discarded and are never logged; method and path are logged
// escaped. Unknown path: 404; wrong method on a known path: 405 with Allow;
// handler not set: 503; handler threw: 500.
//
// Access (README, "Security model of the HTTP endpoint"): every POST must
// carry `Authorization: Bearer TOKEN` with HttpAccess::token (else 401; no
// token configured: every POST is 403). A request whose Host is not this
// server's loopback name and port (127.0.0.1, localhost, [::1]) is refused
// with 403, and so is one with an Origin other than http:// and such a Host:
// a web page, or a DNS name rebound to 127.0.0.1, cannot drive the endpoint.
// Binding an address other than loopback is refused unless
// HttpAccess::allow_remote (which needs a token); then any Host is accepted,
// an Origin must still name the request's own Host, and POSTs still need the
// token. GET requests need no token: what they answer holds no secret.
//
// Thread-safety: the handlers run on the server's own thread, concurrently
// with the caller's threads, so each handler must be thread-safe (take the
// same lock as the code that mutates what it reads, or read atomics). They run
// one at a time and should return quickly: a blocked handler stalls the server.
// Start() and the destructor are called from the owning thread; port() from any.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace slipway::cli {

struct HttpHandlers {
  std::function<std::string()> page_html;     // GET /, optional
  std::function<std::string()> status_json;   // GET /status
  std::function<std::string()> metrics_text;  // GET /metrics
  std::function<std::string()> target;        // GET /target, optional
  std::function<void(bool)> set_paused;       // POST /pause (true), /resume (false), optional
  std::function<bool()> release;              // POST /release, optional; false: nothing to release
};

struct HttpAccess {
  std::string token;          // compared in constant time; empty: POST requests refused
  bool allow_remote = false;  // allow binding beyond loopback; needs a token
};

inline constexpr size_t kMaxHeaderBytes = 8 * 1024;
inline constexpr std::chrono::seconds kHeaderTimeout{5};

class HttpServer {
 public:
  // Binds addr_port and starts serving on a new thread. Accepted forms:
  // "127.0.0.1:8080", "[::1]:0", "localhost:9000", ":8080" and "8080" (both
  // loopback). Port 0 picks any free port; see port(). A bad address, a name
  // that does not resolve, a port in use, or an address beyond loopback
  // without access.allow_remote and a token gives kInvalidArgument.
  // header_timeout is shortened by tests only.
  static Result<std::unique_ptr<HttpServer>> Start(
      const std::string& addr_port, HttpHandlers handlers, HttpAccess access,
      std::chrono::milliseconds header_timeout = kHeaderTimeout);

  // Stops accepting, abandons connections in progress and joins the thread.
  // Returns promptly even with clients connected; no handler runs after it.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port actually bound (useful after asking for port 0).
  uint16_t port() const { return port_; }

 private:
  struct Impl;  // keeps <asio.hpp> out of this header
  HttpServer(std::unique_ptr<Impl> impl, uint16_t port);

  std::unique_ptr<Impl> impl_;
  uint16_t port_;
  std::thread thread_;
};

}  // namespace slipway::cli
