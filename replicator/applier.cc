#include "replicator/applier.h"

namespace slipway::replicator {

Result<RoundStats> Applier::ApplyRange(const Position& from, const Position& to) {
  RoundStats stats;
  ASSIGN_OR_RETURN(std::vector<TableTouch> touched, source_.Touched(from, to));
  for (const auto& t : touched) stats.changes += t.changes;
  stats.changesets = source_.changesets();
  RETURN_IF_ERROR(sink_.Begin());
  struct AbortUnlessCommitted {
    ChangeSink& sink;
    bool active = true;
    ~AbortUnlessCommitted() {
      if (active) sink.Abort();
    }
  } abort{sink_};
  for (int tid : resync_) {
    ASSIGN_OR_RETURN(std::unique_ptr<RowCursor> rows, source_.AllRows(tid));
    RETURN_IF_ERROR(sink_.CopyWhole(tid, *rows, &stats));
  }
  // Rows of whole-table copies answer no touched key: they are not part of
  // the keys-minus-rows count of deleted keys.
  stats.rows_copied = stats.upserts;
  for (const auto& t : touched) {
    if (resync_.count(t.tid) != 0) continue;  // copied whole
    TableRound round;
    round.tid = t.tid;
    round.changes = t.changes;
    round.keys = [this, tid = t.tid, &from, &to] { return source_.Keys(tid, from, to); };
    round.rows = [this, tid = t.tid, &from, &to] { return source_.Rows(tid, from, to); };
    RETURN_IF_ERROR(sink_.Apply(std::move(round), &stats));
  }
  RETURN_IF_ERROR(sink_.Commit(to, &stats));
  abort.active = false;
  resync_.clear();
  stats.deletes = stats.keys - (stats.upserts - stats.rows_copied);
  return stats;
}

}  // namespace slipway::replicator
