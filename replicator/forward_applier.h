#pragma once
// The forward direction assembled: the app's SQLite changelog as the source,
// PostgreSQL as the sink, the state-based Applier between them. Positions are
// changelog seqs.
// Thread-safety: one per connection pair, on one thread.

#include <map>
#include <set>
#include <string>

#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/applier.h"
#include "replicator/pg_sink.h"
#include "replicator/sqlite_source.h"
#include "schema/plan.h"

namespace slipway::replicator {

class ForwardApplier {
 public:
  // REQUIRES: `tids` maps every plan table to its changelog table id; the
  // connections and the plan outlive this.
  ForwardApplier(Db& source, PgConn& target, const schema::Plan& plan, const std::map<std::string, int>& tids)
      : source_(source, plan, tids), sink_(target, plan, tids), applier_(source_, sink_) {}

  // REQUIRES: the source has a read transaction open in which `to` was read.
  // Applies (from, to] and sets the target's position to `to`, in one
  // transaction.
  Result<RoundStats> ApplyRange(int64_t from, int64_t to) {
    return applier_.ApplyRange(Position{from, ""}, Position{to, ""});
  }
  void Resync(const std::set<int>& tids) { applier_.Resync(tids); }
  bool has_resync() const { return applier_.has_resync(); }
  void set_pipeline_max(int64_t n) { sink_.set_pipeline_max(n); }

 private:
  SqliteChangelogSource source_;
  PgSink sink_;
  Applier applier_;
};

}  // namespace slipway::replicator
