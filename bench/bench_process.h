#pragma once
// Process and server helpers the benches share: run or spawn a program with
// its output in a log file, and a throwaway PostgreSQL (deploy/pg-throwaway.sh)
// stopped and removed when it goes out of scope.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common/status.h"

namespace slipway::bench {

// Starts argv[0] (a path) with stdout and stderr to `log`.
inline pid_t SpawnProcess(const std::vector<std::string>& argv, const std::string& log) {
  // The child's freopen() would flush a copy of anything still buffered.
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid == 0) {
    std::FILE* f = std::freopen(log.c_str(), "w", stdout);
    if (f != nullptr) ::dup2(::fileno(stdout), 2);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  return pid;
}

// The exit status (128 + signal when killed).
inline int WaitProcess(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline int RunProcess(const std::vector<std::string>& argv, const std::string& log) {
  return WaitProcess(SpawnProcess(argv, log));
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// CPU seconds (user + system) a running process has used so far (0 when
// /proc cannot tell).
inline double ProcessCpuSeconds(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t p = stat.rfind(')');
  if (p == std::string::npos) return 0;
  unsigned long long utime = 0, stime = 0;
  // Fields after the command: state(3) ... utime(14) stime(15).
  if (std::sscanf(stat.c_str() + p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
    return 0;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A throwaway PostgreSQL, stopped (and its folder removed) on destruction.
class Server {
 public:
  Server() = default;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server() {
    if (!dir_.empty()) RunProcess({"/bin/bash", script_, "stop", dir_}, "/dev/null");
  }
  // `tag` names the temp folder (/tmp/slipway-TAG-pg.XXXXXX).
  Status Start(const std::string& root, int port, const std::string& tag) {
    std::string tmpl = "/tmp/slipway-" + tag + "-pg.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return IoError("mkdtemp failed");
    dir_ = tmpl;
    script_ = std::filesystem::absolute(std::filesystem::path(root) / "deploy/pg-throwaway.sh").string();
    const std::string log = dir_ + ".uri";
    if (RunProcess({"/bin/bash", script_, "start", dir_, std::to_string(port)}, log) != 0) {
      return Internal("pg-throwaway.sh start failed: " + ReadFile(log));
    }
    uri_ = ReadFile(log);
    std::filesystem::remove(log);
    while (!uri_.empty() && (uri_.back() == '\n' || uri_.back() == ' ')) uri_.pop_back();
    return Status::Ok();
  }
  // The URI of another database of the same server.
  std::string Uri(const std::string& dbname) const {
    std::string u = uri_;
    const std::string from = "///postgres?";
    size_t p = u.find(from);
    return p == std::string::npos ? u : u.replace(p, from.size(), "///" + dbname + "?");
  }

 private:
  std::string dir_, script_, uri_;
};

// The folder of this program (*bin) and `out` and `db` made absolute: the
// paths a bench hands to the processes it starts.
inline Status ResolveBenchPaths(std::filesystem::path* bin, std::string* out, std::string* db) {
  std::error_code ec;
  *bin = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec) return Internal("cannot find this program's folder");
  *out = std::filesystem::absolute(*out).string();
  *db = std::filesystem::absolute(*db).string();
  return Status::Ok();
}

// Set by SIGINT/SIGTERM once BenchMain() installed its handler.
inline volatile std::sig_atomic_t g_stop = 0;

// A bench's main(): parse(argc, argv, options) then run(options), each
// failure printed as one line prefixed with `name`. Exit 2: bad options,
// 1: the bench failed, 0: done.
template <class Options, class Parse, class Run>
int BenchMain(const char* name, int argc, char** argv, Parse parse, Run run) {
  Options o;
  if (Status s = parse(argc, argv, o); !s.ok()) {
    std::cerr << name << ": " << s.message() << "\n";
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  if (Status s = run(o); !s.ok()) {
    std::cerr << name << ": " << s.ToString() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace slipway::bench
