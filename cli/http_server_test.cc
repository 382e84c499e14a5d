#include "cli/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/metrics.h"
#include "common/log.h"

namespace slipway::cli {
namespace {

// ---- A plain POSIX client --------------------------------------------------

// Owns a connected socket to 127.0.0.1:port; fd() < 0 if connecting failed.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};  // no test hangs on a server that never answers
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

  bool Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until the server closes (or the 5 s receive timeout).
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

struct Reply {
  int code = 0;
  std::string head;  // status line and headers
  std::string body;

  bool HasHeader(const std::string& line) const {
    return head.find("\r\n" + line + "\r\n") != std::string::npos;
  }
};

Reply Parse(const std::string& raw) {
  Reply r;
  size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return r;
  r.code = std::stoi(raw.substr(9, 3));
  r.head = raw.substr(0, end + 2);
  r.body = raw.substr(end + 4);
  return r;
}

Reply Raw(uint16_t port, const std::string& request) {
  Client c(port);
  if (c.fd() < 0 || !c.Send(request)) return {};
  return Parse(c.ReadAll());
}

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

std::string HostHeader(uint16_t port) { return "Host: 127.0.0.1:" + std::to_string(port) + "\r\n"; }

// A request as a client on this host sends it, with extra header lines
// ("Name: value\r\n" each) and no token.
Reply RequestWith(uint16_t port, const std::string& method, const std::string& path,
                  const std::string& headers) {
  return Raw(port, method + " " + path + " HTTP/1.1\r\n" + headers + "\r\n");
}

// A request with this host's Host header and the token.
Reply Request(uint16_t port, const std::string& method, const std::string& path) {
  return RequestWith(port, method, path,
                     HostHeader(port) + "Authorization: Bearer " + std::string(kToken) + "\r\n");
}

// ---- Fixture ---------------------------------------------------------------

struct Calls {
  std::mutex mu;
  std::vector<bool> paused;
  bool releasable = true;
};

HttpHandlers FullHandlers(Calls& calls) {
  HttpHandlers h;
  h.status_json = [] { return std::string(R"({"phase":"stream"})"); };
  h.metrics_text = [] {
    MetricsText m;
    m.Family("slipway_up", MetricType::kGauge, "Always 1.").Sample(1);
    return std::move(m).Take();
  };
  h.target = [] { return std::string("postgresql://app@db/app\n"); };
  h.set_paused = [&calls](bool p) {
    std::lock_guard<std::mutex> lock(calls.mu);
    calls.paused.push_back(p);
  };
  h.release = [&calls] {
    std::lock_guard<std::mutex> lock(calls.mu);
    return std::exchange(calls.releasable, false);
  };
  return h;
}

std::unique_ptr<HttpServer> StartOrDie(HttpHandlers h) {
  auto server = HttpServer::Start("127.0.0.1:0", std::move(h), HttpAccess{kToken});
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return nullptr;
  EXPECT_NE((*server)->port(), 0);
  return std::move(server).value();
}

// ---- HttpServer ------------------------------------------------------------

TEST(HttpServer, ServesStatusMetricsAndTarget) {
  Calls calls;
  auto server = StartOrDie(FullHandlers(calls));
  ASSERT_TRUE(server);

  Reply status = Request(server->port(), "GET", "/status");
  EXPECT_EQ(status.code, 200);
  EXPECT_TRUE(status.HasHeader("Content-Type: application/json")) << status.head;
  EXPECT_TRUE(status.HasHeader("Connection: close")) << status.head;
  EXPECT_TRUE(status.HasHeader("Content-Length: 18")) << status.head;
  EXPECT_EQ(status.body, R"({"phase":"stream"})");

  Reply metrics = Request(server->port(), "GET", "/metrics");
  EXPECT_EQ(metrics.code, 200);
  EXPECT_TRUE(metrics.HasHeader("Content-Type: text/plain; version=0.0.4; charset=utf-8"))
      << metrics.head;
  EXPECT_EQ(metrics.body, "# HELP slipway_up Always 1.\n# TYPE slipway_up gauge\nslipway_up 1\n");

  Reply target = Request(server->port(), "GET", "/target?verbose=1");  // query ignored
  EXPECT_EQ(target.code, 200);
  EXPECT_TRUE(target.HasHeader("Content-Type: text/plain; charset=utf-8")) << target.head;
  EXPECT_EQ(target.body, "postgresql://app@db/app\n");
}

TEST(HttpServer, ServesThePageWithAPolicyThatKeepsItSelfContained) {
  Calls calls;
  HttpHandlers h = FullHandlers(calls);
  h.page_html = [] { return std::string("<!doctype html><p>page</p>"); };
  auto server = StartOrDie(std::move(h));
  ASSERT_TRUE(server);
  Reply page = Request(server->port(), "GET", "/");
  EXPECT_EQ(page.code, 200);
  EXPECT_TRUE(page.HasHeader("Content-Type: text/html; charset=utf-8")) << page.head;
  EXPECT_TRUE(page.HasHeader("Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
                             "style-src 'unsafe-inline'; connect-src 'self'; img-src data:"))
      << page.head;
  EXPECT_EQ(page.body, "<!doctype html><p>page</p>");
  EXPECT_EQ(Request(server->port(), "POST", "/").code, 405);
  // Other answers carry no page policy.
  EXPECT_EQ(Request(server->port(), "GET", "/status").head.find("Content-Security-Policy"), std::string::npos);

  auto bare = StartOrDie(FullHandlers(calls));
  ASSERT_TRUE(bare);
  EXPECT_EQ(Request(bare->port(), "GET", "/").code, 503);
}

TEST(HttpServer, PauseAndResumeCallTheHandler) {
  Calls calls;
  auto server = StartOrDie(FullHandlers(calls));
  ASSERT_TRUE(server);

  Reply pause = Request(server->port(), "POST", "/pause");
  EXPECT_EQ(pause.code, 200);
  EXPECT_EQ(pause.body, "paused\n");
  // A body (as curl -d sends) is discarded, and the response still arrives.
  Reply resume =
      Raw(server->port(), "POST /resume HTTP/1.1\r\n" + HostHeader(server->port()) +
                              "Authorization: Bearer " + kToken + "\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(resume.code, 200);
  EXPECT_EQ(resume.body, "resumed\n");

  std::lock_guard<std::mutex> lock(calls.mu);
  EXPECT_EQ(calls.paused, (std::vector<bool>{true, false}));
}

TEST(HttpServer, ReleaseOnceThenConflict) {
  Calls calls;
  auto server = StartOrDie(FullHandlers(calls));
  ASSERT_TRUE(server);
  Reply first = Request(server->port(), "POST", "/release");
  EXPECT_EQ(first.code, 200);
  EXPECT_EQ(first.body, "released\n");
  EXPECT_EQ(Request(server->port(), "POST", "/release").code, 409);
}

TEST(HttpServer, UnknownPathIs404AndWrongMethodIs405) {
  Calls calls;
  auto server = StartOrDie(FullHandlers(calls));
  ASSERT_TRUE(server);
  EXPECT_EQ(Request(server->port(), "GET", "/nope").code, 404);
  EXPECT_EQ(Request(server->port(), "GET", "/status/").code, 404);

  Reply get_pause = Request(server->port(), "GET", "/pause");
  EXPECT_EQ(get_pause.code, 405);
  EXPECT_TRUE(get_pause.HasHeader("Allow: POST")) << get_pause.head;
  Reply post_status = Request(server->port(), "POST", "/status");
  EXPECT_EQ(post_status.code, 405);
  EXPECT_TRUE(post_status.HasHeader("Allow: GET")) << post_status.head;

  std::lock_guard<std::mutex> lock(calls.mu);
  EXPECT_TRUE(calls.paused.empty());
}

TEST(HttpServer, MissingHandlerIs503AndThrowingHandlerIs500) {
  HttpHandlers h;
  h.status_json = []() -> std::string { throw std::runtime_error("boom"); };
  auto server = StartOrDie(std::move(h));
  ASSERT_TRUE(server);
  EXPECT_EQ(Request(server->port(), "GET", "/metrics").code, 503);
  EXPECT_EQ(Request(server->port(), "GET", "/target").code, 503);
  EXPECT_EQ(Request(server->port(), "POST", "/pause").code, 503);
  EXPECT_EQ(Request(server->port(), "POST", "/release").code, 503);
  EXPECT_EQ(Request(server->port(), "GET", "/status").code, 500);
  // Still serving after a handler threw.
  EXPECT_EQ(Request(server->port(), "GET", "/nope").code, 404);
}

TEST(HttpServer, MalformedRequestLineIs400) {
  Calls calls;
  auto server = StartOrDie(FullHandlers(calls));
  ASSERT_TRUE(server);
  EXPECT_EQ(Raw(server->port(), "GET /status\r\n\r\n").code, 400);
  EXPECT_EQ(Raw(server->port(), "GET status HTTP/1.1\r\n\r\n").code, 400);
  EXPECT_EQ(Raw(server->port(), "get /status HTTP/1.1\r\n\r\n").code, 400);
  EXPECT_EQ(Raw(server->port(), "GET /status HTTP/2\r\n\r\n").code, 400);
}

TEST(HttpServer, OversizedHeadersAre431) {
  Calls calls;
  auto server = StartOrDie(FullHandlers(calls));
  ASSERT_TRUE(server);
  std::string just_fits =
      "GET /status HTTP/1.1\r\nX-Pad: " + std::string(7 * 1024, 'a') + "\r\n\r\n";
  EXPECT_EQ(Raw(server->port(), just_fits).code, 200);
  std::string too_big =
      "GET /status HTTP/1.1\r\nX-Pad: " + std::string(kMaxHeaderBytes, 'a') + "\r\n\r\n";
  Reply r = Raw(server->port(), too_big);
  EXPECT_EQ(r.code, 431);
  EXPECT_TRUE(r.HasHeader("Connection: close")) << r.head;
}

TEST(HttpServer, SlowClientIsDisconnected) {
  Calls calls;
  auto server =
      HttpServer::Start("127.0.0.1:0", FullHandlers(calls), HttpAccess{kToken}, std::chrono::milliseconds(200));
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  Client c((*server)->port());
  ASSERT_GE(c.fd(), 0);
  ASSERT_TRUE(c.Send("GET /status HTTP/1.1\r\n"));  // headers never finish
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c.ReadAll(), "");  // closed without a response
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(HttpServer, PortInUseIsInvalidArgument) {
  Calls calls;
  auto first = StartOrDie(FullHandlers(calls));
  ASSERT_TRUE(first);
  auto second =
      HttpServer::Start("127.0.0.1:" + std::to_string(first->port()), FullHandlers(calls), HttpAccess{kToken});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kInvalidArgument);
  EXPECT_NE(second.status().message().find(std::to_string(first->port())), std::string::npos)
      << second.status().message();
  EXPECT_EQ(second.status().message().find('\n'), std::string::npos);
}

TEST(HttpServer, BadAddressIsInvalidArgument) {
  for (const char* bad : {"", "nonsense", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:8x", "::1:80",
                          "[::1]80", "[::1"}) {
    auto r = HttpServer::Start(bad, HttpHandlers{}, HttpAccess{kToken});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << bad;
  }
}

TEST(HttpServer, AcceptsLoopbackForms) {
  for (const char* addr : {"0", ":0"}) {
    auto r = HttpServer::Start(addr, HttpHandlers{}, HttpAccess{kToken});
    ASSERT_TRUE(r.ok()) << addr << ": " << r.status().ToString();
    EXPECT_EQ(Request((*r)->port(), "GET", "/status").code, 503) << addr;
  }
  // localhost may resolve to ::1 first, so only the bind is checked.
  auto named = HttpServer::Start("localhost:0", HttpHandlers{}, HttpAccess{kToken});
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  auto v6 = HttpServer::Start("[::1]:0", HttpHandlers{}, HttpAccess{kToken});
  if (!v6.ok()) GTEST_SKIP() << "no IPv6 loopback: " << v6.status().ToString();
  EXPECT_NE((*v6)->port(), 0);
}

// Captures what the "http" logger writes while alive.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    log_ = Logger("http");
    old_level_ = log_->level();
    log_->set_level(spdlog::level::debug);
    log_->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = log_->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    log_->set_level(old_level_);
  }
  std::string text() {
    log_->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> log_;
  spdlog::level::level_enum old_level_;
};

TEST(HttpServer, LogsEscapedPathsAndWarnsOnNonLoopback) {
  LogCapture capture;
  {
    Calls calls;
    auto server = StartOrDie(FullHandlers(calls));
    ASSERT_TRUE(server);
    EXPECT_EQ(Raw(server->port(), "GET /a\x1b[31m\"x HTTP/1.1\r\nSecret: s3cret\r\n\r\n").code,
              404);
  }  // joined: every log line is written
  std::string logged = capture.text();
  EXPECT_NE(logged.find(R"(path="/a\x1b[31m\x22x")"), std::string::npos) << logged;
  EXPECT_EQ(logged.find('\x1b'), std::string::npos);
  EXPECT_EQ(logged.find("s3cret"), std::string::npos);

  auto any = HttpServer::Start("0.0.0.0:0", HttpHandlers{}, HttpAccess{kToken, /*allow_remote=*/true});
  ASSERT_TRUE(any.ok()) << any.status().ToString();
  EXPECT_NE(capture.text().find("reachable from other hosts"), std::string::npos);
}

TEST(HttpServer, BindingBeyondLoopbackNeedsAllowRemoteAndAToken) {
  auto plain = HttpServer::Start("0.0.0.0:0", HttpHandlers{}, HttpAccess{kToken});
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().code(), Code::kInvalidArgument);
  EXPECT_NE(plain.status().message().find("--http-allow-remote"), std::string::npos) << plain.status().message();
  auto no_token = HttpServer::Start("0.0.0.0:0", HttpHandlers{}, HttpAccess{"", /*allow_remote=*/true});
  ASSERT_FALSE(no_token.ok());
  EXPECT_EQ(no_token.status().code(), Code::kInvalidArgument);
}

TEST(HttpServer, PostNeedsTheToken) {
  Calls calls;
  auto server = StartOrDie(FullHandlers(calls));
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  Reply none = RequestWith(port, "POST", "/pause", HostHeader(port));
  EXPECT_EQ(none.code, 401);
  EXPECT_TRUE(none.HasHeader("WWW-Authenticate: Bearer")) << none.head;
  EXPECT_EQ(RequestWith(port, "POST", "/pause", HostHeader(port) + "Authorization: Bearer wrong\r\n").code, 401);
  std::string almost(kToken);
  almost.back() = 'X';
  EXPECT_EQ(RequestWith(port, "POST", "/release", HostHeader(port) + "Authorization: Bearer " + almost + "\r\n").code,
            401);
  EXPECT_EQ(RequestWith(port, "POST", "/resume", HostHeader(port) + "Authorization: Basic " + kToken + "\r\n").code,
            401);
  // GET needs no token.
  EXPECT_EQ(RequestWith(port, "GET", "/status", HostHeader(port)).code, 200);
  EXPECT_EQ(RequestWith(port, "GET", "/metrics", "").code, 200);
  {
    std::lock_guard<std::mutex> lock(calls.mu);
    EXPECT_TRUE(calls.paused.empty());
    EXPECT_TRUE(calls.releasable);
  }
  EXPECT_EQ(RequestWith(port, "POST", "/pause", HostHeader(port) + "authorization: bearer " + kToken + "\r\n").code,
            200);
}

TEST(HttpServer, PostWithoutAConfiguredTokenIsForbidden) {
  Calls calls;
  auto server = HttpServer::Start("127.0.0.1:0", FullHandlers(calls), HttpAccess{});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->port();
  EXPECT_EQ(RequestWith(port, "POST", "/pause", HostHeader(port) + "Authorization: Bearer \r\n").code, 403);
  EXPECT_EQ(RequestWith(port, "POST", "/pause", HostHeader(port)).code, 403);
  EXPECT_EQ(RequestWith(port, "GET", "/status", HostHeader(port)).code, 200);
  std::lock_guard<std::mutex> lock(calls.mu);
  EXPECT_TRUE(calls.paused.empty());
}

// What a web page (or a DNS name rebound to 127.0.0.1) sends is refused, even
// with the token; this host's own clients are served.
TEST(HttpServer, ForeignHostOrOriginIsForbidden) {
  Calls calls;
  auto server = StartOrDie(FullHandlers(calls));
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  const std::string auth = "Authorization: Bearer " + std::string(kToken) + "\r\n";
  const std::string p = std::to_string(port);
  // A page elsewhere posting text/plain (no CORS preflight for that).
  Reply cross = Raw(port, "POST /pause HTTP/1.1\r\nHost: 127.0.0.1:" + p +
                              "\r\nOrigin: http://elsewhere.example\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 1\r\n\r\nx");
  EXPECT_EQ(cross.code, 403);
  EXPECT_EQ(RequestWith(port, "POST", "/pause", HostHeader(port) + auth + "Origin: http://elsewhere.example\r\n").code,
            403);
  EXPECT_EQ(RequestWith(port, "POST", "/pause", HostHeader(port) + auth + "Origin: null\r\n").code, 403);
  EXPECT_EQ(RequestWith(port, "POST", "/pause", "Host: rebound.example:" + p + "\r\n" + auth).code, 403);
  EXPECT_EQ(RequestWith(port, "GET", "/status", "Host: rebound.example:" + p + "\r\n").code, 403);
  EXPECT_EQ(RequestWith(port, "GET", "/status", "Host: 127.0.0.1:1\r\n").code, 403);
  EXPECT_EQ(RequestWith(port, "GET", "/status", "Host: 127.0.0.1\r\n").code, 403);
  EXPECT_EQ(RequestWith(port, "GET", "/metrics", HostHeader(port) + "Origin: http://evil.example\r\n").code, 403);
  {
    std::lock_guard<std::mutex> lock(calls.mu);
    EXPECT_TRUE(calls.paused.empty());
  }
  for (const std::string& host : {"127.0.0.1:" + p, "localhost:" + p, "LOCALHOST:" + p, "[::1]:" + p}) {
    EXPECT_EQ(RequestWith(port, "GET", "/status", "Host: " + host + "\r\n").code, 200) << host;
    EXPECT_EQ(RequestWith(port, "GET", "/status", "Host: " + host + "\r\nOrigin: http://" + host + "\r\n").code,
              200)
        << host;
  }
  EXPECT_EQ(RequestWith(port, "POST", "/pause", HostHeader(port) + auth + "Origin: http://127.0.0.1:" + p + "\r\n").code,
            200);
}

TEST(HttpServer, DestructorReturnsPromptlyWithClientConnected) {
  Calls calls;
  auto server = StartOrDie(FullHandlers(calls));
  ASSERT_TRUE(server);
  uint16_t port = server->port();
  Client idle(port);
  ASSERT_GE(idle.fd(), 0);
  ASSERT_TRUE(idle.Send("GET /sta"));  // a request in progress
  // Let the server accept it, so the destructor has a live connection to drop.
  Client probe(port);
  ASSERT_EQ(Parse([&] {
              probe.Send("GET /status HTTP/1.1\r\n\r\n");
              return probe.ReadAll();
            }())
                .code,
            200);

  auto start = std::chrono::steady_clock::now();
  server.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_EQ(idle.ReadAll(), "");  // its connection was closed, not answered
  Client after(port);
  EXPECT_LT(after.fd(), 0) << "still listening after the destructor";
}

// ---- MetricsText -----------------------------------------------------------

TEST(Metrics, RendersHelpTypeAndSamples) {
  MetricsText m;
  m.Family("slipway_rows_applied_total", MetricType::kCounter, "Rows applied to the target.")
      .Sample({{"table", "orders"}}, 12)
      .Sample({{"table", "users"}, {"phase", "snapshot"}}, 3);
  m.Family("slipway_lag_seconds", MetricType::kGauge, "Apply lag.").Sample(0.25);
  EXPECT_EQ(std::move(m).Take(),
            "# HELP slipway_rows_applied_total Rows applied to the target.\n"
            "# TYPE slipway_rows_applied_total counter\n"
            "slipway_rows_applied_total{table=\"orders\"} 12\n"
            "slipway_rows_applied_total{table=\"users\",phase=\"snapshot\"} 3\n"
            "# HELP slipway_lag_seconds Apply lag.\n"
            "# TYPE slipway_lag_seconds gauge\n"
            "slipway_lag_seconds 0.25\n");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  MetricsText m;
  m.Family("x", MetricType::kGauge, "line1\nback\\slash \"quoted\"")
      .Sample({{"t", "we\"ird\\\n"}}, 1);
  EXPECT_EQ(m.text(),
            "# HELP x line1\\nback\\\\slash \"quoted\"\n"
            "# TYPE x gauge\n"
            "x{t=\"we\\\"ird\\\\\\n\"} 1\n");
}

TEST(Metrics, SanitizesNames) {
  MetricsText m;
  m.Family("9bad-name:sub", MetricType::kGauge, "h").Sample({{"la:bel", "v"}}, 1);
  EXPECT_EQ(
      m.text(),
      "# HELP _9bad_name:sub h\n# TYPE _9bad_name:sub gauge\n_9bad_name:sub{la_bel=\"v\"} 1\n");
}

TEST(Metrics, FormatsValues) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(1234567890123.0), "1234567890123");
  EXPECT_EQ(FormatMetricValue(1.5), "1.5");
  EXPECT_EQ(FormatMetricValue(1e20), "1e+20");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
}

}  // namespace
}  // namespace slipway::cli
