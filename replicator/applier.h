#pragma once
// State-based apply between a change source and a change sink, in either
// direction. A captured change says only "this key was touched"; a round
// reads, inside one read of the source, the keys touched in (from, to] and
// the current rows of those keys, and the sink deletes every touched key,
// writes the rows that exist and stores `to`, in one transaction. The sink
// then holds, for every touched key, the state of the same source snapshot,
// so:
//  - a crash anywhere resumes from the stored position with nothing lost and
//    nothing doubled (the position commits with the data);
//  - re-applying a key is harmless (its current state is written again);
//  - several changes to one key fold into one write;
//  - unique constraints never see a transient clash: touched keys are deleted
//    before any is inserted, and untouched rows already match that snapshot.
// Thread-safety: one Applier per source/sink pair, on one thread.

#include <set>

#include "replicator/change_sink.h"
#include "replicator/change_source.h"

namespace slipway::replicator {

class Applier {
 public:
  // The source and sink outlive the applier.
  Applier(ChangeSource& source, ChangeSink& sink) : source_(source), sink_(sink) {}

  // REQUIRES: inside source.BeginRead(), which returned a position no older
  // than `to`. Applies (from, to] and stores `to`, in one sink transaction.
  Result<RoundStats> ApplyRange(const Position& from, const Position& to);

  // The next ApplyRange() copies these tables whole (after a schema change),
  // in the same transaction as the range.
  void Resync(const std::set<int>& tids) { resync_.insert(tids.begin(), tids.end()); }
  bool has_resync() const { return !resync_.empty(); }

 private:
  ChangeSource& source_;
  ChangeSink& sink_;
  std::set<int> resync_;
};

}  // namespace slipway::replicator
