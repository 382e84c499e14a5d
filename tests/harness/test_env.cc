#include "tests/harness/test_env.h"

#include <signal.h>
#include <sys/wait.h>

#include <set>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace slipway::testing {
namespace {

std::unique_ptr<PgCluster> g_cluster;
std::string g_error;
std::vector<std::string> g_temp_dirs;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void PgEnvironment::SetUp() {
  auto c = PgCluster::Start();
  if (c.ok()) {
    g_cluster.reset(*c);
  } else {
    g_error = c.status().message();
    if (PgRequired()) {
      std::fprintf(stderr, "FATAL: PostgreSQL is required (CI=true) but did not start: %s\n", g_error.c_str());
    }
  }
}

void PgEnvironment::TearDown() {
  KillStartedPrograms();
  g_cluster.reset();
  for (const auto& d : g_temp_dirs) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
  }
}

PgCluster* PgEnvironment::cluster() { return g_cluster.get(); }
const std::string& PgEnvironment::start_error() { return g_error; }

bool PgRequired() {
  const char* ci = std::getenv("CI");
  const char* req = std::getenv("SLIPWAY_REQUIRE_PG");
  return (ci != nullptr && std::string(ci) == "true") || (req != nullptr && std::string(req) == "1");
}

std::string FreshDatabase() {
  auto* c = PgEnvironment::cluster();
  if (c == nullptr) {
    ADD_FAILURE() << "no cluster";
    return "";
  }
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string prefix = info != nullptr ? std::string(info->name()) : "t";
  std::string clean;
  for (char ch : prefix) clean += std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::tolower(ch)) : '_';
  if (clean.size() > 30) clean.resize(30);
  auto uri = c->CreateDatabase(clean);
  if (!uri.ok()) {
    ADD_FAILURE() << "create database: " << uri.status().message();
    return "";
  }
  return *uri;
}

std::string TempDir() {
  char tmpl[] = "/tmp/slipway-test.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    ADD_FAILURE() << "mkdtemp";
    return "/tmp";
  }
  g_temp_dirs.emplace_back(tmpl);
  return tmpl;
}

namespace {

pid_t Spawn(const std::string& bin, const std::vector<std::string>& args, const std::string& out_path,
            const std::string& err_path, const std::vector<std::string>& env) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    std::string b = bin;
    argv.push_back(b.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(b.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

namespace {
// Programs started in the background and not waited for: a test that fails
// half-way must not leave writers running after the binary ends.
std::set<int>& Started() {
  static std::set<int> pids;
  return pids;
}
}  // namespace

void KillStartedPrograms() {
  for (int pid : Started()) ::kill(pid, SIGKILL);
  for (int pid : Started()) ::waitpid(pid, nullptr, 0);
  Started().clear();
}

int StartProgram(const std::string& bin, const std::vector<std::string>& args, const std::string& dir,
                 const std::vector<std::string>& env) {
  static int n = 0;
  std::string base = dir + "/proc" + std::to_string(++n);
  const int pid = Spawn(bin, args, base + ".out", base + ".err", env);
  Started().insert(pid);
  return pid;
}

int WaitProgram(int pid) {
  int st = 0;
  ::waitpid(pid, &st, 0);
  Started().erase(pid);
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

RunResult RunProgram(const std::string& bin, const std::vector<std::string>& args, const std::vector<std::string>& env) {
  RunResult r;
  std::string dir = TempDir();
  pid_t pid = Spawn(bin, args, dir + "/stdout", dir + "/stderr", env);
  r.exit_code = WaitProgram(pid);
  r.out = ReadAll(dir + "/stdout");
  r.err = ReadAll(dir + "/stderr");
  return r;
}

RunResult RunSlipway(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  return RunProgram(SLIPWAY_BINARY, args, env);
}

}  // namespace slipway::testing
