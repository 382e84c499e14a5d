#pragma once
// Progress of a snapshot, shared by the copy workers and the reporter: rows
// and bytes per table as atomics. The reporter draws a live line per table on
// a terminal, logs periodic lines otherwise, or emits JSON events (--json).
// Thread-safety: counters are atomics; Register() before workers start.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace slipway::replicator {

struct TableProgress {
  std::string name;
  int64_t total_rows = 0;  // expected, from the plan's audit
  std::atomic<int64_t> rows{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<int> state{0};  // 0 waiting, 1 copying, 2 indexing, 3 done, 4 skipped (done before)
  std::chrono::steady_clock::time_point started;
};

enum class ProgressMode { kTerminal, kLog, kJson, kQuiet };

class Progress {
 public:
  explicit Progress(ProgressMode mode) : mode_(mode) {}
  ~Progress() { Stop(); }

  TableProgress* Register(const std::string& name, int64_t total_rows);
  void Start();  // starts the reporter thread
  void Stop();   // final report, joins
  void Event(const std::string& json_line);  // JSON mode: printed as is
  // Overall and per table: rows done of the total, rate and time left (see
  // RowFigures in replicator/step_progress.h), each table with its state.
  // Safe to call while the workers run; REQUIRES: Start() called.
  nlohmann::json Figures() const;

 private:
  void Loop();
  void Draw(bool final);
  ProgressMode mode_;
  std::vector<std::unique_ptr<TableProgress>> tables_;
  std::chrono::steady_clock::time_point start_;
  int64_t rows_at_start_ = 0;  // copied by an earlier run
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int lines_drawn_ = 0;
};

}  // namespace slipway::replicator
