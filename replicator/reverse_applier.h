#pragma once
// The reverse direction assembled: PostgreSQL's changelog (read by
// transaction-snapshot windows) as the source, the app's SQLite file as the
// sink, the same state-based Applier between them.
// Thread-safety: one per connection pair, on one thread.

#include <map>
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
  // SetupSession(); all outlive this.
  ReverseApplier(PgConn& pg, Db& sqlite, const schema::Plan& plan, const std::map<std::string, int>& tids, int cycle)
      : source_(pg, plan, tids), sink_(sqlite, plan, tids, cycle), applier_(source_, sink_) {}

  // One round: opens a read of PostgreSQL, applies everything committed
  // after `from` and visible in it, and stores its position in SQLite.
  // Returns the new position (== from when nothing was pending).
  Result<Position> Round(const Position& from, RoundStats* stats) {
    ASSIGN_OR_RETURN(Position to, source_.BeginRead());
    struct End {
      PgChangelogSource& s;
      ~End() { s.EndRead(); }
    } end{source_};
    ASSIGN_OR_RETURN(std::vector<TableTouch> touched, source_.Touched(from, to));
    if (touched.empty()) return from;
    ASSIGN_OR_RETURN(*stats, applier_.ApplyRange(from, to));
    return to;
  }

  PgChangelogSource& source() { return source_; }

 private:
  PgChangelogSource source_;
  SqliteSink sink_;
  Applier applier_;
};

}  // namespace slipway::replicator
