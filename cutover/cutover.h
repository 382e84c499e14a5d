#pragma once
// `slipway cutover`: the moment of the move, as a persisted state machine.
//
//  1. wait for a small lag (applying it ourselves; a running stream hands
//     over: there is never more than one applier), verify everything once
//     while the app still writes, optionally hold until an operator releases
//     (then the tables holding TEXT or BLOB values are verified again);
//  2. freeze: BEGIN IMMEDIATE on the SQLite file (app writers wait in their
//     busy handler), start the clock;
//  3. read the final position under the lock and drain to it;
//  4. verify the keys touched since the full verify, plus row counts;
//  5. sync sequences (ids SQLite handed out, burned ones included);
//  6. (reserved: arm reverse capture for rollback);
//  7. fence SQLite: reject-every-write triggers and the phase, committed in
//     the transaction that held the lock; the clock stops;
//  8. flip the app's config (atomic), run the hook, serve the new target;
//  9. open PostgreSQL: lift the guard in the transaction that records the
//     phase 'cut_over';
// 10. still holding the applier's role, outside the freeze: compare the
//     tables holding TEXT or BLOB values between the fenced file and
//     PostgreSQL, keys changed in PostgreSQL since aside, and report what
//     differs (writes through SQLite's incremental blob API fire no trigger;
//     uncaptured_check.h). Recorded in slipway.migration.uncaptured_check.
// A failure or a blown freeze budget before 7 rolls the lock transaction
// back: SQLite stays the live database, untouched. The budget holds whatever
// PostgreSQL does (freeze_budget.h): statements inside the freeze time out at
// the deadline, and a session holding a lock they waited for is named. After
// 7 the app can write to neither side: --resume (or the same command run
// again, or a running stream, with what RunCutover recorded in
// migration.move_options) completes the move, and --abort unfences SQLite
// and restores the config.
// Thread-safety: Run() on one thread.

#include <atomic>
#include <string>
#include <vector>

#include "common/status.h"

namespace slipway::cutover {

enum class VerifyMode { kChanged, kFull, kNone };

// kForward: the cutover (SQLite -> PostgreSQL); kReverse: the rollback.
enum class Direction { kForward, kReverse };

struct CutoverOptions {
  Direction direction = Direction::kForward;
  std::string source_path;
  std::string target_uri;
  std::string flip_file;
  std::string flip_key;
  bool create_flip_file = false;  // a missing flip_file is created instead of refused
  std::string app_url;        // written at the flip (default: target URI)
  std::string on_flip;        // shell command run after the flip
  int64_t max_freeze_ms = 1000;
  int64_t max_lag = 1000;     // changes behind before freezing
  int64_t lag_timeout_ms = 120000;
  bool postpone = false;
  std::string postpone_file;  // held while it exists (default: FILE.slipway-postpone)
  bool dry_run = false;
  bool resume = false;
  bool abort = false;
  VerifyMode verify = VerifyMode::kChanged;
  // Forward, kChanged: the full verify before the freeze is skipped when the
  // stream's background verify completed a pass this recently
  // (verify_progress.h, DecideVerifySkip); 0: never skipped.
  int64_t verify_max_age_s = 300;
  int attempts = 3;           // freezes tried before giving up
};

struct StepTiming {
  std::string step;
  double ms = 0;
};

struct CutoverReport {
  std::string outcome;        // "cut over", "dry run", "already cut over", "aborted", "resumed"
  double freeze_ms = 0;
  // When the last freeze began and ended: wall clock, ms since the epoch,
  // to line the freeze up with the app's and the server's logs.
  int64_t freeze_started_ms = 0;
  int64_t freeze_ended_ms = 0;
  std::vector<StepTiming> steps;  // inside the freeze
  int64_t final_seq = 0;
  int attempts = 0;
  std::vector<std::string> notes;
  // After a cutover (uncaptured_check.h): the tables compared between the
  // fenced file and PostgreSQL, and the keys that differ there without a
  // change in PostgreSQL since the cutover — writes trigger capture could
  // not see, which PostgreSQL does not have.
  bool uncaptured_checked = false;
  std::vector<std::string> uncaptured_tables;
  std::vector<std::string> uncaptured;  // "table t, id=5: different: data source x'..', target x'..'"
  int64_t uncaptured_total = 0;
};

// Set by --release (HTTP or another process) to end a postponed wait.
std::atomic<bool>& ReleaseFlag();

Result<CutoverReport> RunCutover(const CutoverOptions& options);

// Asks a postponed cutover (another process) to go on.
Status ReleasePostponed(const std::string& target_uri);

}  // namespace slipway::cutover
