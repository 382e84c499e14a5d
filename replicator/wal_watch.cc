#include "replicator/wal_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>

namespace slipway::replicator {

WalWatch::WalWatch(const std::string& db_path) {
  std::string dir = ".";
  std::string name = db_path;
  size_t slash = db_path.rfind('/');
  if (slash != std::string::npos) {
    dir = slash == 0 ? "/" : db_path.substr(0, slash);
    name = db_path.substr(slash + 1);
  }
  db_name_ = name;
  wal_name_ = name + "-wal";
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ >= 0 && inotify_add_watch(inotify_fd_, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
    ::close(inotify_fd_);
    inotify_fd_ = -1;
  }
  if (::pipe2(wake_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) wake_pipe_[0] = wake_pipe_[1] = -1;
}

WalWatch::~WalWatch() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_pipe_[0] >= 0) ::close(wake_pipe_[0]);
  if (wake_pipe_[1] >= 0) ::close(wake_pipe_[1]);
}

void WalWatch::Wake() {
  if (wake_pipe_[1] >= 0) {
    char c = 1;
    ssize_t n = ::write(wake_pipe_[1], &c, 1);
    (void)n;
  }
}

void WalWatch::Wait(int timeout_ms) {
  struct pollfd fds[2];
  int n = 0;
  if (inotify_fd_ >= 0) fds[n++] = {inotify_fd_, POLLIN, 0};
  if (wake_pipe_[0] >= 0) fds[n++] = {wake_pipe_[0], POLLIN, 0};
  // Events on other files in the folder wake us too; they are drained and
  // we wait again for the remaining time only.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    timeout_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (timeout_ms <= 0) return;
    int rc = ::poll(fds, static_cast<nfds_t>(n), timeout_ms);
    if (rc <= 0) return;
    bool ours = false;
    for (int i = 0; i < n; ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      if (fds[i].fd == wake_pipe_[0]) {
        char buf[64];
        while (::read(wake_pipe_[0], buf, sizeof buf) > 0) {
        }
        ours = true;
        continue;
      }
      alignas(struct inotify_event) char buf[4096];
      ssize_t len;
      while ((len = ::read(inotify_fd_, buf, sizeof buf)) > 0) {
        for (char* p = buf; p < buf + len;) {
          auto* ev = reinterpret_cast<struct inotify_event*>(p);
          if (ev->len > 0 && (wal_name_ == ev->name || db_name_ == ev->name)) ours = true;
          p += sizeof(struct inotify_event) + ev->len;
        }
      }
    }
    if (ours) return;
  }
}

}  // namespace slipway::replicator
