#pragma once
// One direction of the move, as the cutover state machine (cutover.h) drives
// it: the cutover is SQLite -> PostgreSQL, the rollback PostgreSQL ->
// SQLite, and the same steps run in the same order for both. A direction
// says how its "from" side is frozen and fenced, how its changes are drained
// into the "to" side, how sequences follow, and how the "to" side is opened.
// Thread-safety: used by one state machine on one thread.

#include <memory>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/sqlite.h"
#include "cutover/cutover.h"
#include "cutover/freeze_budget.h"
#include "cutover/key_verify.h"
#include "cutover/verifier.h"
#include "schema/plan.h"

namespace slipway::cutover {

// What both directions share, owned by the state machine.
struct MoveContext {
  const CutoverOptions& o;
  Db& db;        // the SQLite file
  PgConn& pg;    // the state connection (applier session); the freeze runs on it for the rollback
  const schema::Plan& plan;
  const std::map<std::string, int>& tids;
  // The freeze's clock: connections opened inside the freeze are watched
  // and bounded by it too.
  FreezeBudget& budget;
};

// Where the move stands, as the direction reads it from both sides.
enum class MoveState {
  kReady,        // the from-side is live: the move can run
  kInterrupted,  // the from-side is fenced, the to-side not open: --resume or --abort
  kDone,         // already moved in this direction
};

class Move {
 public:
  virtual ~Move() = default;

  virtual const char* Name() const = 0;  // "cutover" / "rollback": messages and failpoint names
  // REQUIRES: the state connection has read the migration row (`pg_phase`).
  virtual Result<MoveState> State(const std::string& pg_phase) = 0;
  // After the applier's role is held: the position and the applier.
  virtual Status StartApplier() = 0;
  // Before any freeze, while the app still writes (foreign keys, a full verify).
  virtual Status BeforeFreeze(CutoverReport* report) = 0;
  // One round outside the freeze; returns the changes still behind.
  virtual Result<int64_t> ApplyRound() = 0;
  // Before each freeze attempt, outside the freeze: what the freeze's own
  // verification would otherwise have to compare, compared now (the keys
  // touched since the last verified position), so the freeze costs only what
  // changed since. A difference fails the move as one in the freeze does.
  virtual Status VerifyBeforeAttempt(CutoverReport*) { return Status::Ok(); }

  // Steps 2-7, in order. Lock() freezes the app's writes on the from-side;
  // Unlock() releases them with nothing changed (any failure before Fence()).
  virtual Status Lock(int64_t budget_ms) = 0;
  virtual void Unlock() = 0;
  // The connections the freeze's statements run on: bounded by the time
  // left and cancelled at the deadline (freeze_budget.h).
  virtual std::vector<PgConn*> FreezeConnections() = 0;
  // Reads the final position under the lock and applies everything up to it.
  virtual Result<int64_t> Drain() = 0;
  virtual Result<std::vector<TouchedDifference>> VerifyFrozen() = 0;
  virtual Status SyncSequences() = 0;
  // Fences the from-side against the app and commits the lock's transaction:
  // the freeze ends.
  virtual Status Fence() = 0;

  // Steps 8-9 (also what --resume runs). Anything not yet applied is applied
  // and recorded; the value the app's config gets; then the to-side opens.
  virtual Status Settle() = 0;
  virtual Result<std::string> AppUrl() = 0;
  virtual Status Open() = 0;
  // Undoes an interrupted move after its fence: the from-side live again.
  virtual Status Abort() = 0;
};

// The full verify before a freeze, while the app still writes: every table
// of `plan` the move replicates, one progress line each in the log, stopping
// at the first that differs (kMismatch: nothing is frozen). Notes its time.
Status VerifyBeforeFreeze(const MoveContext& c, const schema::Plan& plan, VerifyOptions options,
                          CutoverReport* report);

// `--verify full` inside the freeze: every table of both sides, on a
// connection of its own bounded by the freeze's budget. With
// `pending_differs`, a key the verifier calls pending counts as a difference
// (forward: nothing may be pending once drained).
Result<std::vector<TouchedDifference>> VerifyAllInFreeze(const MoveContext& c, bool pending_differs);

std::unique_ptr<Move> MakeForwardMove(MoveContext ctx);
std::unique_ptr<Move> MakeReverseMove(MoveContext ctx);

}  // namespace slipway::cutover
