#include "replicator/scheduler.h"

#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/failpoint.h"
#include "common/log.h"
#include "common/sqlite.h"
#include "replicator/pg_state.h"
#include "replicator/session.h"

namespace slipway::replicator {

struct Scheduler::Worker {
  Db source;
  PgConn target;
};

Scheduler::Scheduler(const SnapshotOptions& options, const schema::Plan& plan, Progress* progress)
    : options_(options), plan_(plan), progress_(progress) {}

Status Scheduler::AddTable(PgConn& pg, const schema::TableMapping& tm, const TableState& state) {
  auto t = std::make_unique<Table>();
  t->tm = &tm;
  t->sql = BuildTableSql(tm, plan_.options.pg_schema);
  t->state = state;
  t->progress = progress_->Register(tm.source, std::max(tm.rows, state.copied_rows));
  t->progress->rows = state.copied_rows;
  for (const auto& d : plan_.ddl) {
    if (d.phase == schema::DdlPhase::kPostData && d.table == tm.source && !d.dropped && d.kind != "foreign key" &&
        d.kind != "foreign key validation") {
      t->post.push_back(&d);
    }
  }
  Table* raw = t.get();
  tables_.push_back(std::move(t));
  if (state.state == "loaded" || state.state == "done") {
    raw->progress->state = 4;
    ++done_before_;
    return Status::Ok();
  }
  if (state.state == "pending") {
    Push({Kind::kStart, raw, {}}, false);
  } else if (tm.without_rowid) {
    Push({Kind::kByKey, raw, {}}, false);
  } else {
    ASSIGN_OR_RETURN(auto chunks, PendingChunks(pg, tm.source));
    raw->chunks_left = static_cast<int>(chunks.size());
    for (const auto& c : chunks) Push({Kind::kChunk, raw, c}, false);
    if (chunks.empty()) {
      raw->post_left = static_cast<int>(raw->post.size());
      for (const auto* d : raw->post) Push({Kind::kPost, raw, {}, d}, false);
      if (raw->post.empty()) Push({Kind::kPost, raw, {}, nullptr}, false);
    }
  }
  return Status::Ok();
}

void Scheduler::Push(Task t, bool front) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (front) {
      queue_.push_front(t);
    } else {
      queue_.push_back(t);
    }
  }
  cv_.notify_one();
}

Status Scheduler::ChunksDone(Worker& w, Table* t) {
  (void)w;
  t->progress->state = 2;
  if (t->post.empty()) {
    Push({Kind::kPost, t, {}, nullptr}, true);  // just marks the table loaded
    return Status::Ok();
  }
  t->post_left = static_cast<int>(t->post.size());
  // Keys first: they are what the stream needs soonest.
  for (auto it = t->post.rbegin(); it != t->post.rend(); ++it) Push({Kind::kPost, t, {}, *it}, true);
  return Status::Ok();
}

Status Scheduler::PostDone(Worker& w, Table* t) {
  RETURN_IF_ERROR(w.target
                      .ExecParams("UPDATE slipway.tables SET state = 'loaded' WHERE source_table = $1 AND state = 'copying'",
                                  {t->tm->source})
                      .status());
  ASSIGN_OR_RETURN(PgResult r, w.target.ExecParams("SELECT copied_rows FROM slipway.tables WHERE source_table = $1",
                                                   {t->tm->source}));
  t->progress->rows = std::stoll(r.Str(0, 0));
  t->progress->state = 3;
  rows_copied_ += t->progress->rows.load();
  progress_->Event(nlohmann::json{{"event", "table_done"}, {"table", t->tm->source}, {"rows", t->progress->rows.load()}}.dump());
  return Status::Ok();
}

Status Scheduler::Execute(Worker& w, const Task& task) {
  Table* t = task.table;
  switch (task.kind) {
    case Kind::kStart: {
      t->progress->started = std::chrono::steady_clock::now();
      t->progress->state = 1;
      if (t->tm->without_rowid) {
        RETURN_IF_ERROR(StartTableCopy(w.source, w.target, *t->tm, t->sql, options_.chunk_rows).status());
        t->state.state = "copying";
        Push({Kind::kByKey, t, {}}, false);
        return Status::Ok();
      }
      ASSIGN_OR_RETURN(auto chunks, StartTableCopy(w.source, w.target, *t->tm, t->sql, options_.chunk_rows));
      t->state.state = "copying";
      t->chunks_left = static_cast<int>(chunks.size());
      if (chunks.empty()) return ChunksDone(w, t);
      for (const auto& c : chunks) Push({Kind::kChunk, t, c}, false);
      return Status::Ok();
    }
    case Kind::kChunk:
      if (t->progress->state.load() == 0) {
        t->progress->started = std::chrono::steady_clock::now();
        t->progress->state = 1;
      }
      RETURN_IF_ERROR(CopyRowidChunk(w.source, w.target, *t->tm, t->sql, task.chunk, t->progress));
      if (--t->chunks_left == 0) return ChunksDone(w, t);
      return Status::Ok();
    case Kind::kByKey:
      if (t->progress->state.load() == 0) {
        t->progress->started = std::chrono::steady_clock::now();
        t->progress->state = 1;
      }
      RETURN_IF_ERROR(CopyByKey(w.source, w.target, *t->tm, t->sql, &t->state, options_.chunk_rows, t->progress));
      return ChunksDone(w, t);
    case Kind::kPost: {
      if (task.stmt == nullptr) return PostDone(w, t);
      std::vector<std::string> warnings;
      RETURN_IF_ERROR(RunPostData(w.target, plan_.options.pg_schema, *task.stmt, &warnings));
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& x : warnings) warnings_.push_back(std::move(x));
      }
      if (--t->post_left == 0) {
        SLIPWAY_FAILPOINT("snapshot.before_table_loaded");
        return PostDone(w, t);
      }
      return Status::Ok();
    }
    case Kind::kValidate: {
      std::vector<std::string> warnings;
      RETURN_IF_ERROR(RunPostData(w.target, plan_.options.pg_schema, *task.stmt, &warnings));
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& x : warnings) warnings_.push_back(std::move(x));
      return Status::Ok();
    }
  }
  return Status::Ok();
}

// The WAL in use (not the file: it keeps its high-water size), read from a
// passive checkpoint on a connection that holds no read transaction.
bool Scheduler::WalTooBig() {
  if (options_.max_wal_bytes <= 0) return false;
  if (!wal_db_) {
    auto db = Db::Open(options_.source_path, Db::Mode::kReadWrite, 10);
    if (!db.ok()) return false;
    wal_db_ = std::make_unique<Db>(std::move(*db));
  }
  auto st = wal_db_->Prepare("PRAGMA wal_checkpoint(PASSIVE)");
  if (!st.ok()) return false;
  auto row = st->Step();
  if (!row.ok() || !*row) return false;
  auto page = wal_db_->QueryInt("PRAGMA page_size");
  const int64_t frames = st->Int(1);
  return page.ok() && frames * (page->value_or(4096) + 24) > options_.max_wal_bytes;
}

// Runs with no read transaction of ours open: a passive checkpoint (it never
// blocks the app), then a short pause in which the app's next commit can
// restart the log from its beginning.
void Scheduler::CheckpointWindow() {
  if (wal_db_) (void)wal_db_->Exec("PRAGMA wal_checkpoint(PASSIVE)");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Logger("snapshot")->debug("WAL over {} MB: checkpoint window", options_.max_wal_bytes >> 20);
}

Status Scheduler::RunTasks() {
  auto work = [this]() {
    Worker w;
    auto db = Db::Open(options_.source_path, Db::Mode::kReadOnly);
    Status s = db.status();
    if (s.ok()) {
      w.source = std::move(*db);
      auto conn = PgConn::Connect(options_.target_uri);
      s = conn.status();
      if (s.ok()) {
        w.target = std::move(*conn);
        s = SetupSession(w.target, SessionRole::kLoader);
      }
    }
    while (s.ok()) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return failed_ || (!gate_ && (!queue_.empty() || in_flight_ == 0)); });
        if (failed_ || queue_.empty()) break;  // failed, or nothing queued and nothing running
        if (queue_.front().kind == Kind::kChunk && WalTooBig()) {
          // Close the gate, let running chunks finish, checkpoint, reopen.
          gate_ = true;
          cv_.wait(lock, [this] { return failed_ || in_flight_ == 0; });
          lock.unlock();
          CheckpointWindow();
          lock.lock();
          gate_ = false;
          cv_.notify_all();
          if (failed_) break;
        }
        task = queue_.front();
        queue_.pop_front();
        ++in_flight_;
      }
      // Operator throttle: a pause file holds new work; a CPU budget makes
      // each worker rest in proportion to what it just did.
      while (!options_.pause_file.empty() && ::access(options_.pause_file.c_str(), F_OK) == 0 && !failed_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      const auto t0 = std::chrono::steady_clock::now();
      s = Execute(w, task);
      if (s.ok() && options_.max_cpu_percent < 100) {
        auto busy = std::chrono::steady_clock::now() - t0;
        std::this_thread::sleep_for(busy * (100.0 / std::max(1, options_.max_cpu_percent) - 1.0));
      }
      Logger("snapshot")->debug("task kind={} table={} chunk={} stmt={} ms={:.0f}", static_cast<int>(task.kind),
                                task.table != nullptr ? task.table->tm->source : "", task.chunk.chunk_no,
                                task.stmt != nullptr ? task.stmt->kind : "",
                                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      {
        std::lock_guard<std::mutex> lock(mu_);
        --in_flight_;
      }
      cv_.notify_all();
    }
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failed_) error_ = s;
      failed_ = true;
      cv_.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, options_.jobs); ++i) threads.emplace_back(work);
  for (auto& th : threads) th.join();
  return failed_ ? error_ : Status::Ok();
}

Status Scheduler::Run() {
  if (queue_.empty()) return Status::Ok();
  return RunTasks();
}

Status Scheduler::RunForeignKeys(PgConn& pg) {
  for (const auto& d : plan_.ddl) {
    if (d.dropped || d.kind != "foreign key") continue;
    RETURN_IF_ERROR(RunPostData(pg, plan_.options.pg_schema, d, &warnings_));
  }
  // Validating checks the rows already copied; new rows are checked by the
  // constraint anyway. Unless asked to do it here, the stream (or the
  // cutover, before its freeze) does it, off the copy's critical path.
  if (options_.validate_foreign_keys) {
    for (const auto& d : plan_.ddl) {
      if (d.dropped || d.kind != "foreign key validation") continue;
      Push({Kind::kValidate, nullptr, {}, &d}, false);
    }
    RETURN_IF_ERROR(Run());
  }
  RETURN_IF_ERROR(pg.Run("UPDATE slipway.tables SET state = 'done', finished_at = now() WHERE state = 'loaded'"));
  return SetPhase(pg, "snapshotted");
}

}  // namespace slipway::replicator
