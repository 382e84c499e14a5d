#include "cli/http_server.h"

#include <fcntl.h>

#include <array>
#include <asio.hpp>
#include <cctype>
#include <charconv>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/log.h"

namespace slipway::cli {
namespace {

using asio::ip::tcp;

// Connections beyond this are closed on accept: a handful of slow clients
// must not exhaust file descriptors of the process doing the migration.
constexpr int kMaxConnections = 64;
// After the response, how long we keep reading (and discarding) what the
// client still sends, so closing does not reset the connection before the
// client has read the response.
constexpr std::chrono::seconds kLingerTimeout{1};
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
constexpr size_t kMaxLoggedChars = 120;
constexpr std::string_view kDefaultHost = "127.0.0.1";

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kHtml = "text/html; charset=utf-8";
// The status page loads nothing from elsewhere: its script and style are
// inline, and it may fetch only from this server.
constexpr std::string_view kPagePolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:";
constexpr std::string_view kPrometheus = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kText = "text/plain; charset=utf-8";

// Request-controlled text made safe for a log line: printable ASCII other
// than backslash and double quote stays, everything else becomes \xNN; long
// input is cut.
std::string EscapeForLog(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxLoggedChars; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (s.size() > kMaxLoggedChars) out += "...";
  return out;
}

std::string Describe(const tcp::endpoint& ep) {
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

// ---- Binding ---------------------------------------------------------------

Result<tcp::endpoint> ParseNumeric(const std::string& host, uint16_t port) {
  asio::error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (ec) return Status(Code::kNotFound, "not numeric");
  return tcp::endpoint(addr, port);
}

// "host:port", "[v6]:port", ":port" or "port" -> candidate endpoints.
Result<std::vector<tcp::endpoint>> Resolve(asio::io_context& io, const std::string& addr_port) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("bad HTTP address \"" + EscapeForLog(addr_port) +
                           "\": " + std::string(why));
  };
  std::string host;
  std::string_view port_text;
  std::string_view s = addr_port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return bad("expected [IPV6]:PORT");
    }
    host = std::string(s.substr(1, close - 1));
    port_text = s.substr(close + 2);
  } else if (size_t colon = s.rfind(':'); colon != std::string_view::npos) {
    host = std::string(s.substr(0, colon));
    if (host.find(':') != std::string::npos) return bad("write an IPv6 address as [ADDR]:PORT");
    port_text = s.substr(colon + 1);
  } else {
    port_text = s;
  }
  if (host.empty()) host = kDefaultHost;

  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return bad("expected HOST:PORT with a port from 0 to 65535");
  }

  Result<tcp::endpoint> numeric = ParseNumeric(host, static_cast<uint16_t>(port));
  if (numeric.ok()) return std::vector<tcp::endpoint>{*numeric};

  // No address_configured flag: it hides loopback results on hosts whose only
  // interface is loopback, which is exactly where "localhost" must work.
  tcp::resolver resolver(io);
  asio::error_code rec;
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, rec);
  if (rec) return bad(rec.message());
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  if (endpoints.empty()) return bad("the name has no address");
  return endpoints;
}

Status Listen(tcp::acceptor& acceptor, const tcp::endpoint& ep) {
  asio::error_code ec;
  acceptor.open(ep.protocol(), ec);
  // The listening socket must not outlive us in a child process, where it
  // would keep the port bound after slipway exits.
  if (!ec) ::fcntl(acceptor.native_handle(), F_SETFD, FD_CLOEXEC);
  // SO_REUSEADDR lets a restart bind while old connections sit in TIME_WAIT;
  // on Linux it does not let two servers listen on the same port.
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) return Status::Ok();
  asio::error_code ignored;
  acceptor.close(ignored);
  return InvalidArgument("cannot listen for HTTP on " + Describe(ep) + ": " + ec.message());
}

// ---- Routing ---------------------------------------------------------------

struct Response {
  int code = 200;
  std::string_view content_type = kText;
  std::string body;
  std::string_view allow;  // for 405
  bool ask_for_token = false;  // 401: adds WWW-Authenticate
  std::string_view policy = {};  // Content-Security-Policy, when set
};

const char* Reason(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

Response Error(int code, std::string body) { return {code, kText, std::move(body) + "\n", {}}; }

enum class Route { kPage, kStatus, kMetrics, kTarget, kPause, kResume, kRelease };

struct RouteSpec {
  std::string_view path;
  std::string_view method;
  Route route;
};

constexpr RouteSpec kRoutes[] = {
    {"/", "GET", Route::kPage},          {"/status", "GET", Route::kStatus},  {"/metrics", "GET", Route::kMetrics},
    {"/target", "GET", Route::kTarget},  {"/pause", "POST", Route::kPause},
    {"/resume", "POST", Route::kResume}, {"/release", "POST", Route::kRelease},
};

// Calls the handler for a route. May throw whatever the handler throws.
Response Dispatch(const HttpHandlers& h, Route route) {
  auto unavailable = [] { return Error(503, "not available"); };
  switch (route) {
    case Route::kPage: {
      if (!h.page_html) return unavailable();
      Response page{200, kHtml, h.page_html(), {}};
      page.policy = kPagePolicy;
      return page;
    }
    case Route::kStatus:
      if (!h.status_json) return unavailable();
      return {200, kJson, h.status_json(), {}};
    case Route::kMetrics:
      if (!h.metrics_text) return unavailable();
      return {200, kPrometheus, h.metrics_text(), {}};
    case Route::kTarget:
      if (!h.target) return unavailable();
      return {200, kText, h.target(), {}};
    case Route::kPause:
    case Route::kResume: {
      if (!h.set_paused) return unavailable();
      bool pause = route == Route::kPause;
      h.set_paused(pause);
      return {200, kText, pause ? "paused\n" : "resumed\n", {}};
    }
    case Route::kRelease:
      if (!h.release) return unavailable();
      if (!h.release()) return Error(409, "nothing to release");
      return {200, kText, "released\n", {}};
  }
  return Error(500, "internal error");
}

// ---- Access ----------------------------------------------------------------

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The request's headers that access depends on (absent: nullopt).
struct AccessHeaders {
  std::optional<std::string_view> host;
  std::optional<std::string_view> origin;
  std::optional<std::string_view> authorization;
};

// `head` is the request line and headers, each ending in CRLF.
AccessHeaders ReadAccessHeaders(std::string_view head) {
  AccessHeaders out;
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos) {
    size_t start = pos + 2;
    size_t end = head.find("\r\n", start);
    if (end == std::string_view::npos || end == start) break;
    std::string_view line = head.substr(start, end - start);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = line.substr(0, colon);
      std::string_view value = Trim(line.substr(colon + 1));
      if (EqualsIgnoreCase(name, "host")) out.host = value;
      if (EqualsIgnoreCase(name, "origin")) out.origin = value;
      if (EqualsIgnoreCase(name, "authorization")) out.authorization = value;
    }
    pos = end;
  }
  return out;
}

// A Host naming this server on loopback: 127.0.0.1, localhost or [::1], with
// the port (or without it when the port is 80, as browsers send it).
bool IsLoopbackHost(std::string_view host, uint16_t port) {
  for (std::string_view name : {"127.0.0.1", "localhost", "[::1]"}) {
    std::string with_port = std::string(name) + ":" + std::to_string(port);
    if (EqualsIgnoreCase(host, with_port)) return true;
    if (port == 80 && EqualsIgnoreCase(host, name)) return true;
  }
  return false;
}

bool TokenMatches(std::string_view given, std::string_view expected) {
  if (expected.empty() || given.size() != expected.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ expected[i]);
  return diff == 0;
}

// Host and Origin: refused (403) unless they name this server. Without
// allow_remote the Host must be a loopback name; an Origin must be http://
// and the request's own Host.
std::optional<Response> CheckOrigin(const HttpAccess& access, uint16_t port, const AccessHeaders& h) {
  if (h.host && !access.allow_remote && !IsLoopbackHost(*h.host, port)) {
    return Error(403, "forbidden: foreign Host header");
  }
  if (h.origin) {
    std::string_view host = h.host.value_or("");
    bool same = !host.empty() && EqualsIgnoreCase(*h.origin, "http://" + std::string(host)) &&
                (access.allow_remote || IsLoopbackHost(host, port));
    if (!same) return Error(403, "forbidden: cross-origin request");
  }
  return std::nullopt;
}

std::optional<Response> CheckToken(const HttpAccess& access, const AccessHeaders& h) {
  if (access.token.empty()) return Error(403, "forbidden: control requests are disabled (no token)");
  constexpr std::string_view kBearer = "Bearer ";
  std::string_view auth = h.authorization.value_or("");
  if (auth.size() > kBearer.size() && EqualsIgnoreCase(auth.substr(0, kBearer.size()), kBearer) &&
      TokenMatches(Trim(auth.substr(kBearer.size())), access.token)) {
    return std::nullopt;
  }
  Response r = Error(401, "unauthorized: send the token as Authorization: Bearer TOKEN");
  r.ask_for_token = true;
  return r;
}

Response Serve(const HttpHandlers& h, const HttpAccess& access, uint16_t port, std::string_view method,
               std::string_view path, const AccessHeaders& headers) {
  if (auto refused = CheckOrigin(access, port, headers)) return *refused;
  for (const RouteSpec& spec : kRoutes) {
    if (spec.path != path) continue;
    if (spec.method != method) return {405, kText, "method not allowed\n", spec.method};
    if (spec.method == "POST") {
      if (auto refused = CheckToken(access, headers)) return *refused;
    }
    return Dispatch(h, spec.route);
  }
  return Error(404, "not found");
}

struct RequestLine {
  std::string_view method;
  std::string_view path;  // without the query
};

// "METHOD /path?query HTTP/1.x"; false when malformed.
bool ParseRequestLine(std::string_view line, RequestLine& out) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return false;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  for (char c : method) {
    if (c < 'A' || c > 'Z') return false;
  }
  if (target.empty() || target.front() != '/') return false;
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return false;
  out.method = method;
  out.path = target.substr(0, target.find('?'));
  return true;
}

// ---- Connections -----------------------------------------------------------

// What connections share with the server. Held by shared_ptr because
// connections may outlive the server's thread: they are destroyed with the
// io_context's pending handlers.
struct ServerState {
  HttpHandlers handlers;
  HttpAccess access;
  uint16_t port = 0;  // set before the first accept
  std::shared_ptr<spdlog::logger> log;
  int open_connections = 0;  // touched on the server thread only
};

// One request, one response, then close. Owned by the completion handlers
// that are pending on it (each holds a shared_ptr).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<ServerState> state,
             std::chrono::milliseconds header_timeout)
      : socket_(std::move(socket)),
        deadline_(socket_.get_executor()),
        head_(kMaxHeaderBytes),
        state_(std::move(state)),
        header_timeout_(header_timeout) {
    ++state_->open_connections;
    asio::error_code ec;
    tcp::endpoint peer = socket_.remote_endpoint(ec);
    peer_ = ec ? "?" : Describe(peer);
  }
  ~Connection() { --state_->open_connections; }

  void Start() {
    ArmDeadline(header_timeout_);
    asio::async_read_until(
        socket_, head_, "\r\n\r\n",
        [self = shared_from_this()](const asio::error_code& ec, size_t n) { self->OnHead(ec, n); });
  }

 private:
  // One deadline covers each phase (headers, write, linger); when it passes
  // the socket is closed, which fails whatever operation is pending.
  void ArmDeadline(std::chrono::steady_clock::duration d) {
    deadline_.expires_after(d);
    deadline_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      // A re-armed timer whose old wait already completed must not close.
      if (ec || self->deadline_.expiry() > std::chrono::steady_clock::now()) return;
      self->Close();
    });
  }

  void OnHead(const asio::error_code& ec, size_t n) {
    if (ec == asio::error::not_found) {  // the buffer filled before "\r\n\r\n"
      Respond("-", "-", Error(431, "request headers too large"));
      return;
    }
    if (ec) {  // client went away, or the deadline closed the socket
      state_->log->debug("http connection closed before a request peer={} error=\"{}\"", peer_,
                         ec.message());
      Close();
      return;
    }
    asio::const_buffer data = head_.data();
    std::string_view head(static_cast<const char*>(data.data()), n);
    std::string_view line = head.substr(0, head.find("\r\n"));
    RequestLine req;
    if (!ParseRequestLine(line, req)) {
      Respond(line, "-", Error(400, "bad request line"));
      return;
    }
    Response resp;
    try {
      resp = Serve(state_->handlers, state_->access, state_->port, req.method, req.path,
                   ReadAccessHeaders(head));
    } catch (const std::exception& e) {
      state_->log->error("http handler failed method={} path=\"{}\" error=\"{}\"", req.method,
                         EscapeForLog(req.path), EscapeForLog(e.what()));
      resp = Error(500, "internal error");
    } catch (...) {
      state_->log->error("http handler failed method={} path=\"{}\"", req.method,
                         EscapeForLog(req.path));
      resp = Error(500, "internal error");
    }
    Respond(req.method, req.path, std::move(resp));
  }

  // method and path come from the request: escaped before logging.
  void Respond(std::string_view method, std::string_view path, Response resp) {
    // Control actions are operator decisions worth keeping at info; scrapes
    // and errors answered to the client are debug noise.
    bool action = method == "POST" && resp.code == 200;
    state_->log->log(action ? spdlog::level::info : spdlog::level::debug,
                     "http request method=\"{}\" path=\"{}\" status={} peer={}",
                     EscapeForLog(method), EscapeForLog(path), resp.code, peer_);
    out_ = "HTTP/1.1 " + std::to_string(resp.code) + " " + Reason(resp.code) + "\r\n";
    out_ += "Content-Type: " + std::string(resp.content_type) + "\r\n";
    out_ += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
    if (!resp.allow.empty()) out_ += "Allow: " + std::string(resp.allow) + "\r\n";
    if (resp.ask_for_token) out_ += "WWW-Authenticate: Bearer\r\n";
    if (!resp.policy.empty()) out_ += "Content-Security-Policy: " + std::string(resp.policy) + "\r\n";
    out_ += "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
    out_ += resp.body;
    ArmDeadline(header_timeout_);
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](const asio::error_code& ec, size_t) {
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->Linger();
                      });
  }

  // Half-close, then discard whatever the client still sends (an unread
  // request body, the rest of oversized headers) until it closes or the
  // linger deadline passes. Closing with unread data would send a reset that
  // can destroy the response before the client reads it.
  void Linger() {
    asio::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    ArmDeadline(kLingerTimeout);
    Drain();
  }

  void Drain() {
    socket_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](const asio::error_code& ec, size_t) {
                              if (ec) {
                                self->Close();
                                return;
                              }
                              self->Drain();
                            });
  }

  void Close() {
    asio::error_code ignored;
    deadline_.cancel();
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer deadline_;
  asio::streambuf head_;
  std::array<char, 4096> drain_;
  std::string out_;
  std::string peer_;
  std::shared_ptr<ServerState> state_;
  std::chrono::milliseconds header_timeout_;
};

}  // namespace

// Members are destroyed bottom-up: the acceptor and timer before io, whose
// destructor then destroys the connections still pending on it.
struct HttpServer::Impl {
  asio::io_context io{1};  // one thread runs it
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  std::shared_ptr<ServerState> state;
  std::chrono::milliseconds header_timeout{kHeaderTimeout};

  void Accept() {
    acceptor.async_accept([this](const asio::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        // Typically out of file descriptors: back off instead of spinning.
        state->log->warn("http accept failed error=\"{}\"", ec.message());
        accept_retry.expires_after(kAcceptRetryDelay);
        accept_retry.async_wait([this](const asio::error_code& wec) {
          if (!wec) Accept();
        });
        return;
      }
      if (state->open_connections >= kMaxConnections) {
        state->log->debug("http connection refused: {} open", state->open_connections);
      } else {
        std::make_shared<Connection>(std::move(socket), state, header_timeout)->Start();
      }
      Accept();
    });
  }

  void Run() {
    // Handlers' exceptions are caught per request; anything else (bad_alloc)
    // is logged and the loop resumes. run() returns for good after stop().
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception& e) {
        state->log->error("http server error=\"{}\"", EscapeForLog(e.what()));
      }
    }
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& addr_port,
                                                      HttpHandlers handlers, HttpAccess access,
                                                      std::chrono::milliseconds header_timeout) {
  if (access.allow_remote && access.token.empty()) {
    return InvalidArgument("an HTTP endpoint reachable from other hosts needs a token");
  }
  auto impl = std::make_unique<Impl>();
  impl->header_timeout = header_timeout;
  impl->state = std::make_shared<ServerState>();
  impl->state->handlers = std::move(handlers);
  impl->state->access = std::move(access);
  impl->state->log = Logger("http");

  ASSIGN_OR_RETURN(std::vector<tcp::endpoint> endpoints, Resolve(impl->io, addr_port));
  if (!impl->state->access.allow_remote) {
    for (const tcp::endpoint& ep : endpoints) {
      if (!ep.address().is_loopback()) {
        return InvalidArgument("HTTP address " + Describe(ep) +
                               " is not loopback: binding beyond loopback needs --http-allow-remote and "
                               "--http-token-file");
      }
    }
  }
  Status st;
  for (const tcp::endpoint& ep : endpoints) {
    st = Listen(impl->acceptor, ep);
    if (st.ok()) break;
  }
  if (!st.ok()) return st;

  asio::error_code ec;
  tcp::endpoint local = impl->acceptor.local_endpoint(ec);
  if (ec) return InvalidArgument("cannot read the bound HTTP address: " + ec.message());
  impl->state->port = local.port();
  if (local.address().is_loopback()) {
    impl->state->log->info("http listening addr={}", Describe(local));
  } else {
    impl->state->log->warn(
        "http listening addr={} is reachable from other hosts: GET /status and /metrics are open to them, "
        "POST requests need the token",
        Describe(local));
  }
  impl->Accept();
  // The constructor is private (it takes the Impl), so make_unique cannot call it.
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl), local.port()));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl, uint16_t port)
    : impl_(std::move(impl)), port_(port) {
  thread_ = std::thread([impl = impl_.get()] { impl->Run(); });
}

HttpServer::~HttpServer() {
  // stop() makes run() return without running further handlers, so after the
  // join nothing touches the acceptor or the handlers; the acceptor is closed
  // here, on the owning thread, because Asio objects are not thread-safe.
  impl_->io.stop();
  if (thread_.joinable()) thread_.join();
  asio::error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace slipway::cli
