#pragma once
// The reverse direction assembled: PostgreSQL's changelog (read by
// transaction-snapshot windows) as the source, the app's SQLite file as the
// sink, the same state-based Applier between them.
//
// Schema changes the app makes in PostgreSQL after the cutover are checked
// at the first round, then once a second and in every round that applies
// something (inside its read, before any row is read), and after a round
// that failed. A nullable column added to a replicated table, of a type with
// a plain SQLite form, is followed: added to the SQLite table and the table
// copied whole in the same SQLite transaction, then the plan stored in
// slipway.migration.plan. Anything else (a dropped, renamed or retyped
// column, a NOT NULL or date/time column added, a dropped table, a table
// created after the cutover) stops the round with kSchemaChanged naming
// table and column: nothing is ever silently left behind.
// Thread-safety: one per connection pair, on one thread.

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/applier.h"
#include "replicator/pg_source.h"
#include "replicator/sqlite_sink.h"
#include "schema/plan.h"

namespace slipway::replicator {

class ReverseApplier {
 public:
  // REQUIRES: `sqlite` from OpenReverseSinkDb(); `pg` set up by
  // SetupSession(); both outlive this. The plan is copied: a followed column
  // changes this copy (and the stored plan), not the caller's.
  ReverseApplier(PgConn& pg, Db& sqlite, const schema::Plan& plan, const std::map<std::string, int>& tids, int cycle);

  // One round: opens a read of PostgreSQL, applies what was committed after
  // `from` and is visible in it — at most about `max_changes` changes (whole
  // transactions; 0: everything) — and stores its position in SQLite, in
  // one SQLite transaction. Returns the new position (== from when nothing
  // was pending).
  static constexpr int64_t kRoundChanges = 50000;
  Result<Position> Round(const Position& from, RoundStats* stats, int64_t max_changes = kRoundChanges);

  PgChangelogSource& source() { return *source_; }
  const schema::Plan& plan() const { return plan_; }

 private:
  // Compares the catalog with the plan; follows added columns (for the next
  // ApplyRange) or fails naming the change.
  Status CheckSchema();
  void Build();

  PgConn& pg_;
  Db& sqlite_;
  schema::Plan plan_;
  std::map<std::string, int> tids_;
  int cycle_;
  std::unique_ptr<PgChangelogSource> source_;
  std::unique_ptr<SqliteSink> sink_;
  std::unique_ptr<Applier> applier_;
  bool checked_ = false;
  std::chrono::steady_clock::time_point last_check_;
  bool store_plan_ = false;  // the plan changed: stored after the round commits
};

}  // namespace slipway::replicator
