// `slipway status` on a terminal (a pseudo-terminal here): the compact view,
// redrawn in place by --watch; plain text without escape codes when the
// output is a file or TERM=dumb.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>

#include "tests/integration/stream_fixture.h"

namespace slipway::testing {
namespace {

// Runs the slipway binary on a new pseudo-terminal for `ms`, then SIGINTs
// it; returns everything it wrote.
std::string RunOnTerminal(const std::vector<std::string>& args, const std::vector<std::string>& env, int ms) {
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv = {const_cast<char*>(SLIPWAY_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(SLIPWAY_BINARY, argv.data());
    ::_exit(127);
  }
  std::string out;
  const auto until = std::chrono::steady_clock::now() + milliseconds(ms);
  char buf[4096];
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      ssize_t n = ::read(master, buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  ::kill(pid, SIGINT);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ::close(master);
  return out;
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

constexpr const char* kRedraw = "\033[H\033[2J";

class StatusWatchTest : public StreamTest {};

TEST_F(StatusWatchTest, TerminalViewRedrawsAndPlainElsewhere) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream();
  RunResult writer = RunProgram(SLIPWAY_CHANGE_WRITER, WriterArgs(1.0, 5));
  ExpectWriterOk(writer.exit_code, writer.out, writer.err);
  Sleep(1500);  // a heartbeat with the stream's figures

  const std::vector<std::string> args = {"status", "--source", db_, "--watch", "--interval", "200ms"};
  const std::string target_env = "SLIPWAY_TARGET=" + target_;
  std::string tty = RunOnTerminal(args, {target_env, "TERM=xterm"}, 1500);
  EXPECT_GE(Count(tty, kRedraw), 3u) << tty;
  const std::string last = tty.substr(tty.rfind(kRedraw) == std::string::npos ? 0 : tty.rfind(kRedraw));
  EXPECT_NE(last.find("phase       streaming, SQLite -> PostgreSQL"), std::string::npos) << last;
  EXPECT_NE(last.find("lag         0 changes"), std::string::npos) << last;
  EXPECT_NE(last.find("changes/s, caught up"), std::string::npos) << last;
  EXPECT_NE(last.find("stream      running on "), std::string::npos) << last;
  EXPECT_NE(last.find("last error  none"), std::string::npos) << last;
  EXPECT_NE(last.find("every 200 ms"), std::string::npos) << last;

  // Once on a terminal: the same view, no redraw.
  std::string once = RunOnTerminal({"status", "--source", db_}, {target_env, "TERM=xterm"}, 1500);
  EXPECT_EQ(once.find('\033'), std::string::npos) << once;
  EXPECT_NE(once.find("phase       streaming"), std::string::npos) << once;

  // --full: the plain report on a terminal too.
  std::string full = RunOnTerminal({"status", "--source", db_, "--full"}, {target_env, "TERM=xterm"}, 1500);
  EXPECT_NE(full.find("position    applied "), std::string::npos) << full;
  EXPECT_EQ(full.find("phase       streaming, SQLite"), std::string::npos) << full;

  // TERM=dumb: frames one after another, never an escape code.
  std::string dumb = RunOnTerminal(args, {target_env, "TERM=dumb"}, 800);
  EXPECT_EQ(dumb.find('\033'), std::string::npos) << dumb;
  EXPECT_GE(Count(dumb, "phase       streaming"), 2u) << dumb;

  // Not a terminal: the full plain report, no escape codes.
  RunResult plain = RunSlipway({"status", "--source", db_}, {target_env});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find('\033'), std::string::npos);
  EXPECT_NE(plain.out.find("position    applied "), std::string::npos) << plain.out;
  Proc watch(SLIPWAY_BINARY, args, {target_env, "TERM=xterm"});
  Sleep(700);
  watch.Signal(SIGINT);
  watch.Wait(5000);
  EXPECT_EQ(watch.Out().find('\033'), std::string::npos);
  EXPECT_GE(Count(watch.Out(), "\n--- "), 1u) << watch.Out();
  EXPECT_GE(Count(watch.Out(), "position    applied "), 2u) << watch.Out();

  RunResult bad = RunSlipway({"status", "--source", db_, "--watch", "--interval", "10ms"}, {target_env});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  StopStream(*stream);
}

}  // namespace
}  // namespace slipway::testing
