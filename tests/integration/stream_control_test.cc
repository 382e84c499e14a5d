// The stream's HTTP endpoint as the operator uses it: control needs the
// token the stream writes to a file only its owner can read, requests from a
// web page are refused, and the figures it serves stay true (a counter that
// never goes down, an error that is cleared once the stream recovered).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "tests/integration/stream_fixture.h"

namespace slipway::testing {
namespace {

// One HTTP/1.1 exchange with 127.0.0.1:port; returns the whole response.
std::string Http(uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

int Code(const std::string& response) {
  return response.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(response.substr(9, 3)) : 0;
}

std::string Body(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::string Request(uint16_t port, const std::string& method, const std::string& path, const std::string& headers) {
  return Http(port, method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n" + headers +
                        "Content-Length: 0\r\n\r\n");
}

class StreamControlTest : public StreamTest {
 protected:
  // The port a stream started with --http 127.0.0.1:0 bound, from its log.
  uint16_t WaitForPort(Proc& stream) {
    const uint16_t port = HttpPortOf(stream);
    if (port == 0) ADD_FAILURE() << "no listening line: " << stream.Err();
    return port;
  }

  json StatusOf(uint16_t port) {
    return json::parse(Body(Request(port, "GET", "/status", "")), nullptr, false);
  }
};

TEST_F(StreamControlTest, ControlNeedsTheTokenFromAPrivateFile) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream({"--http", "127.0.0.1:0"});
  const uint16_t port = WaitForPort(*stream);
  ASSERT_NE(port, 0);
  const std::string token_file = db_ + ".slipway-stream-http-token";
  EXPECT_NE(stream->Err().find(token_file), std::string::npos) << "the token file is not named: " << stream->Err();
  struct stat st {};
  ASSERT_EQ(::stat(token_file.c_str(), &st), 0) << token_file;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string token;
  std::getline(std::ifstream(token_file), token);
  ASSERT_GE(token.size(), 32u);

  // A page elsewhere posting text/plain, which needs no CORS preflight.
  std::string cross = Http(port, "POST /pause HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                                     "\r\nOrigin: http://elsewhere.example\r\nContent-Type: text/plain\r\n"
                                     "Content-Length: 1\r\n\r\nx");
  EXPECT_EQ(Code(cross), 403) << cross;
  EXPECT_EQ(Code(Request(port, "POST", "/pause", "")), 401);
  EXPECT_EQ(Code(Request(port, "POST", "/pause", "Authorization: Bearer not-the-token\r\n")), 401);
  EXPECT_EQ(Code(Http(port, "GET /status HTTP/1.1\r\nHost: rebound.example:" + std::to_string(port) + "\r\n\r\n")),
            403);
  EXPECT_FALSE(StatusOf(port).value("paused", true));

  const std::string auth = "Authorization: Bearer " + token + "\r\n";
  EXPECT_EQ(Code(Request(port, "POST", "/pause", auth)), 200);
  EXPECT_TRUE(StatusOf(port).value("paused", false));
  EXPECT_EQ(Code(Request(port, "POST", "/resume", auth)), 200);
  EXPECT_FALSE(StatusOf(port).value("paused", true));
  // GET needs no token and shows no password.
  const std::string metrics = Request(port, "GET", "/metrics", "");
  EXPECT_EQ(Code(metrics), 200);
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  EXPECT_NE(::access(token_file.c_str(), F_OK), 0) << "the per-run token file outlived the run";

  // Beyond loopback only when asked for, and with a token chosen by the operator.
  RunResult any = RunSlipway({"stream", "--source", db_, "--target", target_, "--http", "0.0.0.0:0"});
  EXPECT_EQ(any.exit_code, 2) << any.err;
  EXPECT_NE(any.err.find("--http-allow-remote"), std::string::npos) << any.err;
  RunResult no_file =
      RunSlipway({"stream", "--source", db_, "--target", target_, "--http", "0.0.0.0:0", "--http-allow-remote"});
  EXPECT_EQ(no_file.exit_code, 2) << no_file.err;
  const std::string mine = dir_ + "/token";
  { std::ofstream(mine) << "a-token-the-operator-chose-0123456789\n"; }
  ::chmod(mine.c_str(), 0644);
  RunResult loose = RunSlipway({"stream", "--source", db_, "--target", target_, "--http", "127.0.0.1:0",
                                "--http-token-file", mine, "--until-caught-up"});
  EXPECT_EQ(loose.exit_code, 2) << loose.err;
  EXPECT_NE(loose.err.find("chmod 600"), std::string::npos) << loose.err;
  ::chmod(mine.c_str(), 0600);
  auto own = StartStream({"--http", "127.0.0.1:0", "--http-token-file", mine});
  const uint16_t own_port = WaitForPort(*own);
  ASSERT_NE(own_port, 0);
  EXPECT_EQ(Code(Request(own_port, "POST", "/pause", auth)), 401);
  EXPECT_EQ(Code(Request(own_port, "POST", "/pause", "Authorization: Bearer a-token-the-operator-chose-0123456789\r\n")),
            200);
  ASSERT_NO_FATAL_FAILURE(StopStream(*own));
  EXPECT_EQ(::access(mine.c_str(), F_OK), 0) << "the operator's token file was removed";
}

// A column added while streaming makes the next round copy the table whole;
// those rows are written, not keys deleted.
TEST_F(StreamControlTest, KeysDeletedNeverGoesDownWhenATableIsCopiedAgain) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream({"--http", "127.0.0.1:0"});
  const uint16_t port = WaitForPort(*stream);
  ASSERT_NE(port, 0);
  auto app = Db::Open(db_, Db::Mode::kReadWrite);
  ASSERT_TRUE(app.ok());
  ASSERT_TRUE(app->Exec("DELETE FROM items WHERE id IN (SELECT id FROM items LIMIT 3)").ok());
  ASSERT_TRUE(app->Exec("ALTER TABLE items ADD COLUMN note TEXT DEFAULT 'none'").ok());
  ASSERT_TRUE(app->Exec("UPDATE items SET note = 'x' WHERE id = (SELECT max(id) FROM items)").ok());
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  bool copied = false;
  for (int i = 0; i < 100 && !copied; ++i) {
    auto r = pg->Exec("SELECT count(*) FILTER (WHERE note = 'x') FROM items");
    copied = r.ok() && r->Str(0, 0) == "1";
    if (!copied) Sleep(100);
  }
  ASSERT_TRUE(copied) << stream->Err();
  // The three deletes count when a round before the copy applied them; in
  // the copy's own round the table is written whole instead.
  json st = StatusOf(port);
  EXPECT_GE(st.value("keys_deleted", int64_t{-1}), 0) << st.dump();
  EXPECT_LE(st.value("keys_deleted", int64_t{-1}), 3) << st.dump();
  EXPECT_GE(st.value("rows_written", int64_t{0}), SqliteInt("SELECT count(*) FROM items")) << st.dump();
  static const std::regex kDeleted("\nslipway_keys_deleted_total ([-0-9.e+]+)\n");
  std::smatch m;
  const std::string metrics = Body(Request(port, "GET", "/metrics", ""));
  ASSERT_TRUE(std::regex_search(metrics, m, kDeleted)) << metrics;
  EXPECT_GE(std::stod(m[1]), 0.0) << metrics;
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
}

// While PostgreSQL is down /status says why; once the stream applies again
// the error is no longer current, and when it happened is kept.
TEST_F(StreamControlTest, LastErrorIsClearedAfterAReconnect) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream({"--http", "127.0.0.1:0"});
  const uint16_t port = WaitForPort(*stream);
  ASSERT_NE(port, 0);
  Proc writer(SLIPWAY_CHANGE_WRITER, WriterArgs(4, 3));
  Sleep(500);
  auto* cluster = PgEnvironment::cluster();
  ASSERT_TRUE(cluster->StopServer().ok());
  bool failing = false;
  for (int i = 0; i < 100 && !failing; ++i) {
    failing = !StatusOf(port).value("last_error", std::string()).empty();
    if (!failing) Sleep(100);
  }
  Status started = cluster->StartServer();
  ASSERT_TRUE(started.ok()) << started.message();
  ASSERT_TRUE(failing) << StatusOf(port).dump();
  EXPECT_EQ(writer.Wait(60000), 0) << writer.Err();
  json st;
  for (int i = 0; i < 150; ++i) {
    st = StatusOf(port);
    if (st.value("connected", false) && st.value("lag_changes", int64_t{-1}) == 0) break;
    Sleep(100);
  }
  EXPECT_TRUE(st.value("connected", false)) << st.dump();
  EXPECT_EQ(st.value("last_error", std::string("?")), "") << st.dump();
  EXPECT_FALSE(st.value("last_error_at", std::string()).empty()) << st.dump();
  EXPECT_FALSE(st.value("recovered_error", std::string()).empty()) << st.dump();
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
}

}  // namespace
}  // namespace slipway::testing
