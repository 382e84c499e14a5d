#pragma once
// The stream's background verifier, in the spirit of Ghostferry's inline
// verifier: while `slipway stream` applies changes forward it walks every
// table in key order, a chunk at a time (verify_chunk.h), at a bounded rate,
// and records in the target how far each table's pass has got, what the
// last complete pass proved, and the keys that differ (verify_progress.h).
//
//  - A chunk's key that differs because it changed in the source after the
//    chunk's position (min of the SQLite changelog head and the target's
//    applied position, each read with its rows) is pending: it is compared
//    again once the applier has passed the change. Any other difference is
//    an open mismatch, stored in the target and re-checked every second
//    until both sides agree.
//  - Each pass records the oldest position its chunks were read at. Every
//    key not changed after it held the same value on both sides, so a
//    cutover may check only the keys changed since (DecideVerifySkip). The
//    stream keeps the changelog back to that position (KeepChangelogAfter).
//  - Paused while the stream is paused (pause file, POST /pause), slowed by
//    --max-cpu like the apply loop, idle unless the migration streams
//    forward and no cutover asked for the applier.
// Thread-safety: Start/Stop from one thread; KeepChangelogAfter and
// Progress from any thread.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cutover/verify_progress.h"

namespace slipway::cutover {

struct ContinuousVerifyOptions {
  std::string source_path;
  std::string target_uri;
  double rows_per_second = 5000;  // 0: off
  int64_t chunk_rows = 500;
  int max_cpu_percent = 100;
  std::function<bool()> paused;   // the stream's pause (file or HTTP)
  int recheck_ms = 1000;          // open mismatches compared again this often
};

class ContinuousVerifier {
 public:
  explicit ContinuousVerifier(ContinuousVerifyOptions options);
  ~ContinuousVerifier();  // stops the thread

  void Start();
  void Stop();

  // The oldest changelog position the verifier still needs (its passes'
  // positions, and the chunk being read); nullopt when it needs none.
  std::optional<int64_t> KeepChangelogAfter() const;
  // The state as last read from the target, after each chunk.
  VerifyProgress Progress() const;
  bool running() const { return running_.load(); }  // reading chunks (not paused or idle)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<bool> running_{false};
};

}  // namespace slipway::cutover
