#pragma once
// The snapshot's work queue. Tasks: start a table's copy (read its start
// position, plan its rowid ranges), copy one range, copy a WITHOUT ROWID
// table by key, build one post-data object (key, index, check). Any worker
// takes any task, so one large table is copied by every worker at once; the
// post-data tasks of a table are queued first as soon as its last range is
// in. Foreign keys follow once every table is loaded.
// Thread-safety: AddTable() before Run(); Run() owns its worker threads.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/progress.h"
#include "replicator/snapshot.h"
#include "replicator/table_copy.h"

namespace slipway::replicator {

class Scheduler {
 public:
  Scheduler(const SnapshotOptions& options, const schema::Plan& plan, Progress* progress);

  // Queues what is left of one table, from its stored state.
  Status AddTable(PgConn& pg, const schema::TableMapping& tm, const TableState& state);
  Status Run();
  // Adds the foreign keys (NOT VALID), validates them on the workers'
  // connections, and marks every table done and the phase 'snapshotted'.
  Status RunForeignKeys(PgConn& pg);

  int tables_done_before() const { return done_before_; }
  int64_t rows_copied() const { return rows_copied_.load(); }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct Table {
    const schema::TableMapping* tm;
    TableSql sql;
    TableState state;
    TableProgress* progress;
    std::vector<const schema::DdlStatement*> post;
    std::atomic<int> chunks_left{0};
    std::atomic<int> post_left{0};
  };
  enum class Kind { kStart, kChunk, kByKey, kPost, kValidate };
  struct Task {
    Kind kind;
    Table* table;
    Chunk chunk;
    const schema::DdlStatement* stmt = nullptr;
  };
  struct Worker;

  void Push(Task t, bool front);
  Status Execute(Worker& w, const Task& t);
  Status ChunksDone(Worker& w, Table* t);
  Status PostDone(Worker& w, Table* t);
  Status RunTasks();
  bool WalTooBig();  // REQUIRES: mu_ held
  void CheckpointWindow();

  const SnapshotOptions& options_;
  const schema::Plan& plan_;
  Progress* progress_;
  std::vector<std::unique_ptr<Table>> tables_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  int in_flight_ = 0;
  bool failed_ = false;
  bool gate_ = false;  // a WAL checkpoint window: no new chunk starts
  std::unique_ptr<Db> wal_db_;  // checkpoints; guarded by mu_
  Status error_;
  std::vector<std::string> warnings_;
  int done_before_ = 0;
  std::atomic<int64_t> rows_copied_{0};
};

}  // namespace slipway::replicator
