#include "tests/harness/pg_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "common/pg.h"

namespace slipway::testing {
namespace {

std::string Script() { return std::string(SLIPWAY_SOURCE_DIR) + "/deploy/pg-throwaway.sh"; }

// Runs a command, returns its exit status and stdout.
int RunCapture(const std::string& cmd, std::string* out) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) {
    if (out != nullptr) *out += buf.data();
  }
  int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Forks a process that waits for our end of a pipe to close (we exited, in
// any way) and then removes the cluster.
int SpawnReaper(const std::string& dir) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGTERM, SIG_IGN);
    ::close(fds[1]);
    char c;
    while (::read(fds[0], &c, 1) > 0) {
    }
    std::string cmd = Script() + " stop '" + dir + "' >/dev/null 2>&1";
    int rc = std::system(cmd.c_str());
    ::_exit(rc == 0 ? 0 : 1);
  }
  ::close(fds[0]);
  return fds[1];
}

}  // namespace

Result<PgCluster*> PgCluster::Start() {
  char tmpl[] = "/tmp/slipway-pg.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return IoError("mkdtemp failed");
  std::unique_ptr<PgCluster> c(new PgCluster());
  c->dir_ = tmpl;
  c->reaper_fd_ = SpawnReaper(c->dir_);
  std::random_device rd;
  std::string out;
  for (int attempt = 0; attempt < 5; ++attempt) {
    c->port_ = 20000 + static_cast<int>(rd() % 30000);
    out.clear();
    int rc = RunCapture(Script() + " start '" + c->dir_ + "' " + std::to_string(c->port_) + " 2>&1", &out);
    if (rc == 0) {
      // A role with a password, for authentication tests.
      auto conn = PgConn::Connect(c->AdminUri());
      if (!conn.ok()) return conn.status();
      RETURN_IF_ERROR(conn->Run("CREATE ROLE slipway_pw LOGIN SUPERUSER PASSWORD 'correct-horse'"));
      return c.release();
    }
    // Port taken by another cluster's socket name: try another.
    std::string conf = c->dir_ + "/data/postgresql.conf";
    RunCapture("sed -i 's/^port = .*/port = " + std::to_string(c->port_ + 1) + "/' '" + conf + "'", nullptr);
  }
  return Status(Code::kUnreachable, "could not start PostgreSQL: " + out);
}

PgCluster::~PgCluster() {
  RunCapture(Script() + " stop '" + dir_ + "' 2>&1", nullptr);
  if (reaper_fd_ >= 0) ::close(reaper_fd_);
}

std::string PgCluster::UriFor(const std::string& dbname, const std::string& user) const {
  return "postgresql:///" + dbname + "?host=" + dir_ + "&port=" + std::to_string(port_) + "&user=" + user;
}

Result<std::string> PgCluster::CreateDatabase(const std::string& prefix) {
  auto conn = PgConn::Connect(AdminUri());
  if (!conn.ok()) return conn.status();
  std::string name = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(next_db_++);
  RETURN_IF_ERROR(conn->Run("CREATE DATABASE " + QuotePgIdent(name)));
  return UriFor(name);
}

Status PgCluster::StopServer() {
  std::string cmd = std::string(::getuid() == 0 ? "runuser -u postgres -- " : "") +
                    "$(ls -d /usr/lib/postgresql/*/bin | sort -V -r | head -1)/pg_ctl -D '" + dir_ +
                    "/data' -m fast -w stop >/dev/null 2>&1";
  if (RunCapture(cmd, nullptr) != 0) return Internal("pg_ctl stop failed");
  return Status::Ok();
}

Status PgCluster::StartServer() {
  if (RunCapture(Script() + " start '" + dir_ + "' " + std::to_string(port_) + " >/dev/null 2>&1", nullptr) != 0) {
    return Internal("restart failed");
  }
  return Status::Ok();
}

}  // namespace slipway::testing
