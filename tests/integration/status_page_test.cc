// GET / on the stream's HTTP server: the status page, loaded in a real
// headless Chromium (Debian's chromium) against a running stream, shows the
// phase, direction, lag and rate from /status, the tables and the chart,
// after its script ran. Without Chromium the test fails when CI=true (or
// SLIPWAY_REQUIRE_CHROMIUM=1) and is skipped otherwise.
// A postponed cutover's --http serves the same page.
// SLIPWAY_SCREENSHOT=PATH also saves a screenshot of the page there.
#include <cstdlib>
#include <filesystem>

#include "tests/integration/http_get.h"
#include "tests/integration/stream_fixture.h"

namespace slipway::testing {
namespace {

std::string FindChromium() {
  if (const char* c = std::getenv("SLIPWAY_CHROMIUM")) return c;
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

bool ChromiumRequired() {
  const char* ci = std::getenv("CI");
  const char* req = std::getenv("SLIPWAY_REQUIRE_CHROMIUM");
  return (ci != nullptr && std::string(ci) == "true") || (req != nullptr && std::string(req) == "1");
}

// The text of the element with this id, as the DOM holds it after the script ran.
std::string TextOf(const std::string& dom, const std::string& id) {
  const std::regex re("id=\"" + id + "\"[^>]*>([^<]*)<");
  std::smatch m;
  return std::regex_search(dom, m, re) ? std::string(m[1]) : "<no element #" + id + ">";
}

class StatusPageTest : public StreamTest {
 protected:
  uint16_t WaitForPort(Proc& stream) {
    const uint16_t port = HttpPortOf(stream);
    if (port == 0) ADD_FAILURE() << "no listening line: " << stream.Err();
    return port;
  }

  RunResult Chromium(const std::string& chromium, const std::vector<std::string>& what, const std::string& url) {
    std::vector<std::string> args = {"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                     "--no-first-run", "--hide-scrollbars", "--user-data-dir=" + TempDir(),
                                     "--virtual-time-budget=4000"};
    args.insert(args.end(), what.begin(), what.end());
    args.push_back(url);
    return RunProgram(chromium, args, {"HOME=" + TempDir()});
  }
};

TEST_F(StatusPageTest, ServedSelfContained) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream({"--http", "127.0.0.1:0"});
  const uint16_t port = WaitForPort(*stream);
  ASSERT_NE(port, 0);
  HttpReply page = HttpGet(port, "/");
  EXPECT_EQ(page.code, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<script>"), std::string::npos);
  // Nothing loaded from elsewhere: no src= or href= to another host, no @import.
  static const std::regex kExternal("(src|href)\\s*=\\s*\"(https?:)?//|@import|<link ", std::regex::icase);
  EXPECT_FALSE(std::regex_search(page.body, kExternal)) << "the page loads something from elsewhere";
  StopStream(*stream);
}

TEST_F(StatusPageTest, ChromiumShowsWhatStatusSays) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    if (ChromiumRequired()) FAIL() << "Chromium is required (deploy/setup.sh installs it with SLIPWAY_SETUP_TESTS=1)";
    GTEST_SKIP() << "no chromium installed";
  }
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream({"--http", "127.0.0.1:0", "--verify-rate", "2000"});
  const uint16_t port = WaitForPort(*stream);
  ASSERT_NE(port, 0);
  RunResult writer = RunProgram(SLIPWAY_CHANGE_WRITER, WriterArgs(1.5, 11));
  ExpectWriterOk(writer.exit_code, writer.out, writer.err);
  json st;
  for (int i = 0; i < 100; ++i) {
    st = json::parse(HttpGet(port, "/status").body, nullptr, false);
    if (st.is_object() && st.value("lag_changes", int64_t{1}) == 0 && st.contains("tables")) break;
    Sleep(100);
  }
  ASSERT_TRUE(st.is_object() && st.contains("tables")) << st.dump();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";

  RunResult dom = Chromium(chromium, {"--dump-dom"}, url);
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  const std::string& d = dom.out;
  EXPECT_EQ(TextOf(d, "phase"), st.value("phase", "")) << d;
  EXPECT_EQ(TextOf(d, "direction"), "SQLite → PostgreSQL");
  EXPECT_TRUE(std::regex_match(TextOf(d, "lag"), std::regex("[0-9,.]+ (ms|s|min)"))) << TextOf(d, "lag");
  EXPECT_EQ(TextOf(d, "lag-changes"), "0");
  EXPECT_TRUE(std::regex_match(TextOf(d, "applied"), std::regex("[1-9][0-9,]*"))) << TextOf(d, "applied");
  EXPECT_EQ(TextOf(d, "connection"), "connected to the target");
  // Every table of the snapshot, with its state.
  for (const auto& t : st["tables"]) {
    EXPECT_NE(d.find("<td>" + t["table"].get<std::string>() + "</td><td class=\"ok\">done</td>"), std::string::npos)
        << t.dump();
  }
  // The chart: both series drawn through the stream's samples so far.
  static const std::regex kLagLine("points=\"([0-9.]+,[0-9.]+ ?){2,}\"[^>]*class=\"series-lag\"");
  EXPECT_TRUE(std::regex_search(d, kLagLine)) << d;
  EXPECT_NE(d.find("class=\"series-rate\""), std::string::npos);
  // The background verifier's state.
  EXPECT_NE(TextOf(d, "verify-state").find("mismatch"), std::string::npos) << TextOf(d, "verify-state");

  EXPECT_EQ(TextOf(d, "move"), "none yet");

  // After a cutover the stream runs on in reverse; the page shows the
  // cutover's freeze and its steps.
  const std::string flip = dir_ + "/app.env";
  { std::ofstream(flip) << "DATABASE_URL=sqlite:///app.db\n"; }
  RunResult cut = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", flip, "--flip-key",
                              "DATABASE_URL", "--max-freeze", "5s"});
  ASSERT_EQ(cut.exit_code, 0) << cut.out << cut.err;
  {
    auto pg = PgConn::Connect(target_);
    ASSERT_TRUE(pg.ok());
    auto recorded = pg->Exec("SELECT last_move::text FROM slipway.migration");
    ASSERT_TRUE(recorded.ok()) << recorded.status().message();
    ASSERT_FALSE(recorded->IsNull(0, 0)) << "the cutover recorded no last_move";
  }
  for (int i = 0; i < 100; ++i) {
    st = json::parse(HttpGet(port, "/status").body, nullptr, false);
    if (st.is_object() && st.contains("last_move") && st.value("direction", "") == "reverse") break;
    Sleep(100);
  }
  ASSERT_TRUE(st.contains("last_move")) << cut.err << st.dump();
  ASSERT_FALSE(st["last_move"]["steps"].empty()) << st.dump();
  RunResult after = Chromium(chromium, {"--dump-dom"}, url);
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(TextOf(after.out, "direction"), "PostgreSQL → SQLite");
  EXPECT_EQ(TextOf(after.out, "move").rfind("cutover finished ", 0), 0u) << TextOf(after.out, "move");
  EXPECT_NE(TextOf(after.out, "move").find("freeze "), std::string::npos) << TextOf(after.out, "move");
  for (const auto& step : st["last_move"]["steps"]) {
    EXPECT_NE(after.out.find("<td>" + step["step"].get<std::string>() + "</td>"), std::string::npos) << step.dump();
  }

  if (const char* shot = std::getenv("SLIPWAY_SCREENSHOT")) {
    RunResult png = Chromium(chromium, {"--screenshot=" + std::string(shot), "--window-size=1200,900"}, url);
    EXPECT_EQ(png.exit_code, 0) << png.err;
  }
  StopStream(*stream);
}

// A postponed cutover with --http serves the same page, over what `slipway
// status --json` reads: the phase, the stream's figures from its heartbeat,
// the tables; the command named in the title.
TEST_F(StatusPageTest, PostponedCutoverServesThePage) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    if (ChromiumRequired()) FAIL() << "Chromium is required (deploy/setup.sh installs it with SLIPWAY_SETUP_TESTS=1)";
    GTEST_SKIP() << "no chromium installed";
  }
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream();
  RunResult writer = RunProgram(SLIPWAY_CHANGE_WRITER, WriterArgs(1.0, 12));
  ExpectWriterOk(writer.exit_code, writer.out, writer.err);
  const std::string flip = dir_ + "/app.env";
  { std::ofstream(flip) << "DATABASE_URL=sqlite:///app.db\n"; }
  Proc cut(SLIPWAY_BINARY, {"cutover", "--source", db_, "--target", target_, "--flip-file", flip, "--flip-key",
                            "DATABASE_URL", "--postpone", "--http", "127.0.0.1:0", "--max-freeze", "5s"});
  const uint16_t port = WaitForPort(cut);
  ASSERT_NE(port, 0);
  HttpReply page = HttpGet(port, "/");
  EXPECT_EQ(page.code, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  json st = json::parse(HttpGet(port, "/status").body, nullptr, false);
  ASSERT_TRUE(st.is_object()) << st.dump();
  EXPECT_EQ(st.value("command", ""), "cutover") << st.dump();
  ASSERT_TRUE(st.contains("tables")) << st.dump();

  RunResult dom = Chromium(chromium, {"--dump-dom"}, "http://127.0.0.1:" + std::to_string(port) + "/");
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  const std::string& d = dom.out;
  EXPECT_EQ(TextOf(d, "title"), "slipway cutover");
  EXPECT_EQ(TextOf(d, "phase"), st.value("phase", "")) << d;
  EXPECT_EQ(TextOf(d, "direction"), "SQLite → PostgreSQL");
  EXPECT_TRUE(std::regex_match(TextOf(d, "applied"), std::regex("[0-9][0-9,]*"))) << TextOf(d, "applied");
  for (const auto& t : st["tables"]) {
    EXPECT_NE(d.find("<td>" + t["table"].get<std::string>() + "</td><td class=\"ok\">done</td>"), std::string::npos)
        << t.dump();
  }

  RunResult rel = RunSlipway({"cutover", "--target", target_, "--release"});
  EXPECT_EQ(rel.exit_code, 0) << rel.err;
  EXPECT_EQ(cut.Wait(60000), 0) << cut.Err();
  StopStream(*stream);
}

}  // namespace
}  // namespace slipway::testing
