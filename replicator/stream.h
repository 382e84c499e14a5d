#pragma once
// `slipway stream`: continuous apply of the SQLite changelog to the target.
// One loop: wait for the file to change (no busy-polling), read the new
// changelog range and the touched rows in one read transaction, apply them
// and advance the position in one target transaction (Applier), then prune the
// applied changelog rows in small write transactions (a batch at a time, or
// once a second). A thread of its own checkpoints the app's WAL once it holds
// wal_checkpoint_pages frames (passive: never blocks the app), so that the
// app's own commits need not; while the WAL stays long the apply loop leaves
// the app moments with no reader of ours in it, so that the log can start over.
// Survives the target going away (retries with backoff and jitter) and the
// app holding the write lock (pruning waits for a later round). Exactly one
// applier runs per migration: it holds a PostgreSQL advisory lock while
// applying.
// Thread-safety: Run() on one thread; RequestStop()/SetPaused() from any
// thread or a signal handler (RequestStop only).

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/pg.h"
#include "schema/model.h"
#include "schema/plan.h"

namespace slipway::replicator {

struct StreamOptions {
  std::string source_path;
  std::string target_uri;
  bool until_caught_up = false;   // exit once lag is zero
  std::string pause_file;         // while this file exists, apply nothing
  int max_cpu_percent = 100;      // duty cycle of the apply loop
  int64_t prune_batch = 2000;     // changelog rows deleted per short write tx
  int idle_wait_ms = 200;         // longest sleep without a file event
  int64_t pipeline_max = 500;     // keys per table applied through the pipeline
  int64_t stop_at_seq = -1;       // cutover drain: stop once this position is applied
  int64_t wal_checkpoint_pages = 256;  // checkpoint once the WAL holds this many frames; 0: the app does
  // Finishes a cutover or rollback that died after its fence (neither
  // database takes the app's writes until it is done), given the move
  // ("cutover"/"rollback") and what it recorded (migration.move_options,
  // JSON). Unset: the stream waits for an operator's --resume or --abort.
  std::function<Status(const std::string& move, const std::string& move_options)> finish_interrupted;
  // The oldest changelog position a background verifier still reads
  // changes after (cutover/continuous_verifier.h): applied rows after it are
  // not pruned. Unset or nullopt: prune everything applied.
  std::function<std::optional<int64_t>()> keep_changelog_after;
};

// Figures of the running stream (read by status, HTTP, metrics).
struct StreamFigures {
  std::atomic<int64_t> applied_seq{0};
  std::atomic<int64_t> source_seq{0};      // newest changelog seq seen
  std::atomic<int64_t> lag_changes{0};
  std::atomic<double> lag_ms{0};
  std::atomic<int64_t> rounds{0};
  std::atomic<int64_t> changes_applied{0};
  std::atomic<int64_t> changesets_applied{0};  // app transactions that arrived as changesets (session capture)
  std::atomic<int64_t> rows_written{0};
  std::atomic<int64_t> keys_deleted{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> retries{0};
  std::atomic<int64_t> last_batch{0};
  std::atomic<int64_t> max_batch{0};
  std::atomic<double> rate{0};             // changes/s over the last seconds
  std::atomic<int64_t> checkpoints{0};     // passive checkpoints of the app's WAL run by the stream
  std::atomic<int64_t> frames_backfilled{0};  // WAL frames those checkpoints copied into the database
  std::atomic<int64_t> wal_frames{0};      // frames in the WAL at the last look (its mxFrame)
  std::atomic<bool> paused{false};
  std::atomic<bool> connected{false};
  std::mutex mu;
  std::string last_error;                  // the error not yet recovered from, else empty; guarded by mu
  std::string last_error_at;               // UTC time of the most recent error (kept after recovery); guarded by mu
  std::string recovered_error;             // the most recent error once recovered from; guarded by mu
  std::string phase;                       // guarded by mu
  std::string direction;                   // "forward" or "reverse"; guarded by mu
  std::string tables_json;                 // [{table, state, rows_copied}] at the last heartbeat; guarded by mu
  std::string last_move_json;              // slipway.migration.last_move at the last heartbeat, or empty; guarded by mu
  // Once a second: {unix ms, lag ms, changes/s}, the newest kHistorySamples
  // (the status page's chart); guarded by mu.
  struct Sample {
    int64_t at_ms;
    double lag_ms;
    double rate;
  };
  static constexpr size_t kHistorySamples = 300;
  std::deque<Sample> history;
};

class Stream {
 public:
  explicit Stream(StreamOptions options);
  ~Stream();

  // Runs until stopped (or caught up / stop_at_seq with those options).
  Status Run();
  void RequestStop();
  void SetPaused(bool paused) { figures_.paused = paused; }
  StreamFigures& figures() { return figures_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  StreamFigures figures_;
};

}  // namespace slipway::replicator
