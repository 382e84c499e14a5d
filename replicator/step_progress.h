#pragma once
// Progress of a long step (the snapshot, a verify, the full verify before a
// cutover's or rollback's freeze), written to the target's
// slipway.step_progress about once a second so that `slipway status` can
// show it from any machine. The writer has a connection of its own, so its
// writes never wait for the step's transactions; a write that fails (the
// state schema not there yet, a lost connection) is skipped and the step
// goes on.
// Thread-safety: Start() and Stop() from one thread. The sampler runs on the
// writer's thread, concurrently with the step: it must read only what is
// safe to read while the step runs (atomics, or state under its own lock).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace slipway::replicator {

// rows_done, rows_total (never below rows_done), rate (rows/s over
// `seconds`, counting only `rows_this_run`) and eta_seconds (null while
// nothing is known of the rate).
nlohmann::json RowFigures(int64_t rows_done, int64_t rows_total, int64_t rows_this_run, double seconds);

class StepProgressWriter {
 public:
  using Sampler = std::function<nlohmann::json()>;
  static constexpr std::chrono::milliseconds kPeriod{1000};

  StepProgressWriter(std::string target_uri, std::string step, Sampler sample);
  ~StepProgressWriter();  // Stop(false) when still running

  void Start();
  // Writes the last figures with the outcome ('done' or 'failed') and joins.
  void Stop(bool ok);

 private:
  void Loop();
  void Write(const char* outcome);

  std::string target_uri_;
  std::string step_;
  Sampler sample_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool started_ = false;
  bool written_ = false;  // the first write sets started_at
  struct Conn;
  std::unique_ptr<Conn> conn_;  // used on the writer's thread, then by Stop() after the join
};

}  // namespace slipway::replicator
