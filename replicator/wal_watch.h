#pragma once
// Waits for the SQLite file to change without busy-polling: inotify on the
// database's folder reports writes to the -wal file (and the main file, for
// checkpoints). Falls back to a timed wait where inotify is unavailable.
// Thread-safety: one thread waits; Wake() may be called from any thread.

#include <string>

namespace slipway::replicator {

class WalWatch {
 public:
  explicit WalWatch(const std::string& db_path);
  ~WalWatch();
  WalWatch(const WalWatch&) = delete;
  WalWatch& operator=(const WalWatch&) = delete;

  // Returns when the file changed, on Wake(), or after timeout_ms.
  void Wait(int timeout_ms);
  // Interrupts a Wait() (signal handlers use this; async-signal-safe).
  void Wake();

 private:
  int inotify_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::string wal_name_;
  std::string db_name_;
};

}  // namespace slipway::replicator
