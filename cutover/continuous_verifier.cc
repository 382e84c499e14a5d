#include "cutover/continuous_verifier.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <set>

#include "common/log.h"
#include "common/sqlite.h"
#include "cutover/verify_chunk.h"
#include "replicator/pg_state.h"
#include "schema/canonical.h"
#include "schema/plan.h"

namespace slipway::cutover {
namespace {

using Clock = std::chrono::steady_clock;

// Pending keys kept for a re-check; beyond this the next pass covers them.
constexpr size_t kMaxPending = 10000;
// A chunk is paced as at least this many rows, so empty tables do not spin.
constexpr int64_t kMinPacedRows = 50;
constexpr int kIdleMs = 200;
constexpr int kErrorWaitMs = 1000;
constexpr auto kProgressEvery = std::chrono::milliseconds(250);

}  // namespace

struct ContinuousVerifier::Impl {
  ContinuousVerifyOptions o;
  std::atomic<bool>& running;
  std::shared_ptr<spdlog::logger> log = Logger("verify");

  std::mutex wake_mu;
  std::condition_variable wake;
  bool stop = false;  // guarded by wake_mu

  mutable std::mutex state_mu;
  VerifyProgress progress;  // guarded by state_mu
  std::atomic<int64_t> keep_after{-1};  // -1: nothing to keep

  Db db;
  std::optional<PgConn> pg;
  schema::Plan plan;
  std::string stamp;
  std::vector<ChunkTable> tables;
  size_t next_table = 0;
  struct PendingKey {
    std::string table;
    SqliteKey key;
    int64_t until = 0;  // re-checked once the applier has passed this position
  };
  std::deque<PendingKey> pending;
  Clock::time_point last_recheck = Clock::now();
  Clock::time_point last_progress = Clock::now() - kProgressEvery;

  Impl(ContinuousVerifyOptions opts, std::atomic<bool>& r) : o(std::move(opts)), running(r) {}

  bool Stopping() {
    std::lock_guard<std::mutex> l(wake_mu);
    return stop;
  }

  // False once asked to stop.
  bool Sleep(int ms) {
    std::unique_lock<std::mutex> l(wake_mu);
    wake.wait_for(l, std::chrono::milliseconds(std::max(ms, 0)), [this] { return stop; });
    return !stop;
  }

  Status Connect() {
    pg.reset();
    ASSIGN_OR_RETURN(db, Db::Open(o.source_path, Db::Mode::kReadOnly));
    ASSIGN_OR_RETURN(PgConn c, PgConn::Connect(o.target_uri));
    RETURN_IF_ERROR(c.Run(schema::kCanonicalSessionSql));
    RETURN_IF_ERROR(c.Run("SET statement_timeout = 0; SET application_name = 'slipway verify'"));
    // The stream creates the state tables when it attaches; creating them
    // here too would take locks its apply transactions wait for.
    ASSIGN_OR_RETURN(PgResult have, c.Exec("SELECT to_regclass('slipway.verify_progress') IS NOT NULL"));
    if (have.Get(0, 0) != "t") return Status(Code::kRetryable, "the stream has not attached yet");
    pg = std::move(c);
    stamp.clear();
    return Status::Ok();
  }

  // The plan the target holds now, and a progress row for each of its tables.
  Status LoadPlan(const std::string& new_stamp) {
    ASSIGN_OR_RETURN(auto m, replicator::ReadMigration(*pg));
    if (!m) return Status(Code::kConflict, "the target has no slipway migration");
    ASSIGN_OR_RETURN(plan, schema::PlanFromJson(m->plan));
    tables.clear();
    for (const auto& tm : plan.tables) {
      ASSIGN_OR_RETURN(ChunkTable t, ChunkTable::For(tm, plan.options.pg_schema));
      tables.push_back(std::move(t));
      RETURN_IF_ERROR(pg->ExecParams("INSERT INTO slipway.verify_progress (source_table) VALUES ($1) "
                                     "ON CONFLICT (source_table) DO NOTHING",
                                     {tm.source})
                          .status());
    }
    next_table = std::min(next_table, tables.size());
    stamp = new_stamp;
    return RefreshFloor();
  }

  const ChunkTable* Find(const std::string& name) const {
    for (const auto& t : tables) {
      if (t.table->source == name) return &t;
    }
    return nullptr;
  }

  // The changelog the stream must keep: back to the oldest position of a
  // pass under way or of a complete pass a cutover may still use.
  Status RefreshFloor() {
    ASSIGN_OR_RETURN(PgResult r, pg->Exec(std::string("SELECT min(least(pass_from, CASE WHEN completed_stamp = (") +
                                          kMigrationStampSql + ") THEN completed_from END)) FROM slipway.verify_progress"));
    keep_after = r.IsNull(0, 0) ? -1 : std::stoll(r.Str(0, 0));
    return Status::Ok();
  }

  void RefreshProgress(bool now) {
    if (!now && Clock::now() - last_progress < kProgressEvery) return;
    last_progress = Clock::now();
    auto p = ReadVerifyProgress(*pg);
    if (!p.ok()) return;
    std::lock_guard<std::mutex> l(state_mu);
    progress = std::move(*p);
  }

  Status UpsertMismatch(const std::string& table, const ChunkDiff& d) {
    return pg
        ->ExecParams("INSERT INTO slipway.verify_mismatch (source_table, key, key_text, what) VALUES "
                     "($1, $2::jsonb, $3, $4) ON CONFLICT (source_table, key) DO UPDATE SET key_text = "
                     "EXCLUDED.key_text, what = EXCLUDED.what, checked_at = now()",
                     {table, d.key_json.dump(), d.key_text, d.what})
        .status();
  }

  void AddPending(const std::string& table, const ChunkDiff& d, int64_t until) {
    if (d.key.empty() || pending.size() >= kMaxPending) return;
    pending.push_back({table, d.key, until});
  }

  // One chunk of the table whose turn it is, recorded in one transaction.
  Status Chunk(const std::string& st) {
    if (tables.empty()) return Status::Ok();
    if (next_table >= tables.size()) next_table = 0;
    const ChunkTable& t = tables[next_table];
    const std::string& name = t.table->source;
    ASSIGN_OR_RETURN(PgResult row, pg->ExecParams("SELECT walk, after_key::text FROM slipway.verify_progress WHERE "
                                                  "source_table = $1",
                                                  {name}));
    if (row.Rows() == 0) return LoadPlan(st);
    const std::string walk = row.Str(0, 0);
    const nlohmann::json after =
        row.IsNull(0, 1) ? nlohmann::json() : nlohmann::json::parse(row.Str(0, 1), nullptr, false);
    ChunkVerifier cv(db, *pg);
    const bool extras = walk == "extras" && t.mode == WalkMode::kLookup;
    ASSIGN_OR_RETURN(ChunkResult r, extras ? cv.ExtrasChunk(t, after, o.chunk_rows)
                                           : cv.RowsChunk(t, after, o.chunk_rows));
    RETURN_IF_ERROR(pg->Run("BEGIN"));
    Status s = Record(t, r, extras, st);
    if (s.ok()) s = pg->Run("COMMIT");
    if (!s.ok()) {
      (void)pg->Run("ROLLBACK");
      return s;
    }
    for (const auto& d : r.diffs) {
      if (d.pending) {
        AddPending(name, d, r.pending_until);
      } else {
        log->warn("table={} key={} mismatch: {}", name, d.key_text, d.what);
      }
    }
    if (r.end && (extras || t.mode == WalkMode::kRange)) {
      log->info("table={} verified: a complete pass", name);
      ++next_table;
    }
    RETURN_IF_ERROR(RefreshFloor());
    RefreshProgress(r.end || !r.diffs.empty());
    Pace(r.rows);
    return Status::Ok();
  }

  Status Record(const ChunkTable& t, const ChunkResult& r, bool extras, const std::string& st) {
    const std::string& name = t.table->source;
    RETURN_IF_ERROR(pg->ExecParams("UPDATE slipway.verify_progress SET pass_started_at = coalesce(pass_started_at, "
                                   "now()), pass_stamp = coalesce(pass_stamp, $2), pass_from = least(pass_from, "
                                   "$3::bigint), pass_rows = pass_rows + $4::bigint, after_key = coalesce($5::jsonb, "
                                   "after_key), after_text = coalesce($6, after_text), updated_at = now() WHERE "
                                   "source_table = $1",
                                   {name, st, std::to_string(r.position), std::to_string(extras ? 0 : r.rows),
                                    r.rows > 0 ? PgParam(r.after.dump()) : std::nullopt,
                                    r.rows > 0 ? PgParam(r.after_text) : std::nullopt})
                        .status());
    for (const auto& d : r.diffs) {
      if (!d.pending) RETURN_IF_ERROR(UpsertMismatch(name, d));
    }
    if (!r.end) return Status::Ok();
    if (!extras && t.mode == WalkMode::kLookup) {
      return pg->ExecParams("UPDATE slipway.verify_progress SET walk = 'extras', after_key = NULL, after_text = NULL "
                            "WHERE source_table = $1",
                            {name})
          .status();
    }
    return pg->ExecParams("UPDATE slipway.verify_progress SET completed_pass = pass, completed_at = now(), "
                          "completed_from = pass_from, completed_rows = pass_rows, completed_stamp = pass_stamp, "
                          "completed_seconds = extract(epoch from now() - pass_started_at), pass = pass + 1, "
                          "walk = 'rows', after_key = NULL, after_text = NULL, pass_started_at = NULL, pass_from = "
                          "NULL, pass_rows = 0, pass_stamp = NULL WHERE source_table = $1",
                          {name})
        .status();
  }

  // Sleeps so that rows/s stays under the rate, and the share of a core
  // under --max-cpu.
  void Pace(int64_t rows) {
    const double want_s = static_cast<double>(std::max(rows, kMinPacedRows)) / o.rows_per_second;
    const double busy_s = std::chrono::duration<double>(Clock::now() - chunk_start).count();
    double wait_s = want_s - busy_s;
    if (o.max_cpu_percent < 100) wait_s = std::max(wait_s, busy_s * (100.0 / std::max(1, o.max_cpu_percent) - 1.0));
    Sleep(static_cast<int>(wait_s * 1000));
  }
  Clock::time_point chunk_start = Clock::now();

  // Keys found pending whose change the applier has passed, and every open
  // mismatch once a second: compared again.
  Status Recheck(int64_t applied) {
    std::map<std::string, std::vector<SqliteKey>> due;
    std::deque<PendingKey> later;
    for (auto& p : pending) {
      if (p.until <= applied) {
        due[p.table].push_back(std::move(p.key));
      } else {
        later.push_back(std::move(p));
      }
    }
    pending.swap(later);
    std::map<std::string, std::vector<nlohmann::json>> open;
    if (Clock::now() - last_recheck >= std::chrono::milliseconds(o.recheck_ms)) {
      last_recheck = Clock::now();
      ASSIGN_OR_RETURN(PgResult r, pg->Exec("SELECT source_table, key::text FROM slipway.verify_mismatch"));
      for (int i = 0; i < r.Rows(); ++i) {
        nlohmann::json key = nlohmann::json::parse(r.Str(i, 1), nullptr, false);
        auto k = KeyFromJson(key);
        if (!k.ok()) continue;  // a target key with no SQLite form: the next pass looks again
        open[r.Str(i, 0)].push_back(key);
        due[r.Str(i, 0)].push_back(std::move(*k));
      }
    }
    bool changed = false;
    for (auto& [name, keys] : due) {
      const ChunkTable* t = Find(name);
      if (t == nullptr) continue;
      ChunkVerifier cv(db, *pg);
      ASSIGN_OR_RETURN(ChunkResult r, cv.Recheck(*t, keys));
      std::set<std::string> still;
      for (const auto& d : r.diffs) {
        still.insert(d.key_json.dump());
        if (d.pending) {
          AddPending(name, d, r.pending_until);
        } else {
          RETURN_IF_ERROR(UpsertMismatch(name, d));
          changed = true;
        }
      }
      // Open mismatches that are equal now, or changed since (pending).
      for (const auto& key : open[name]) {
        const std::string k = key.dump();
        bool mismatch = false;
        for (const auto& d : r.diffs) mismatch = mismatch || (!d.pending && d.key_json.dump() == k);
        if (mismatch) continue;
        RETURN_IF_ERROR(pg->ExecParams("DELETE FROM slipway.verify_mismatch WHERE source_table = $1 AND key = $2::jsonb",
                                       {name, k})
                            .status());
        log->info("table={} key={} equal again", name, k);
        changed = true;
      }
    }
    if (changed) RefreshProgress(true);
    return Status::Ok();
  }

  void Loop() {
    bool connected = false;
    while (!Stopping()) {
      if (!connected) {
        Status s = Connect();
        if (!s.ok()) {
          log->debug("background verify waits for the target: {}", s.message());
          if (!Sleep(kErrorWaitMs)) break;
          continue;
        }
        connected = true;
      }
      if (o.paused && o.paused()) {
        running = false;
        if (!Sleep(kIdleMs)) break;
        continue;
      }
      chunk_start = Clock::now();
      Status s = Round();
      if (!s.ok()) {
        running = false;
        log->warn("background verify: {}; retrying", s.message());
        connected = false;
        if (!Sleep(kErrorWaitMs)) break;
      }
    }
    running = false;
  }

  // One step: idle unless streaming forward, else re-checks and a chunk.
  Status Round() {
    // Every change after the applier's position (read next) stays in the
    // changelog until this round's pending keys are read: the positions the
    // reads see are no older than it.
    const int64_t floor = keep_after.load();
    if (floor < 0) keep_after = 0;
    ASSIGN_OR_RETURN(PgResult m, pg->Exec(std::string("SELECT phase, handover_requested, applied_seq, (") +
                                          kMigrationStampSql + ") FROM slipway.migration"));
    if (m.Rows() == 0 || m.Str(0, 0) != "streaming" || m.Get(0, 1) == "t") {
      keep_after = floor;
      running = false;
      Sleep(kIdleMs);
      return Status::Ok();
    }
    running = true;
    const int64_t applied = std::stoll(m.Str(0, 2));
    const std::string st = m.Opt(0, 3).value_or("");
    keep_after = floor < 0 ? applied : std::min(floor, applied);
    if (st != stamp) RETURN_IF_ERROR(LoadPlan(st));
    RETURN_IF_ERROR(Recheck(applied));
    return Chunk(st);
  }
};

ContinuousVerifier::ContinuousVerifier(ContinuousVerifyOptions options)
    : impl_(std::make_unique<Impl>(std::move(options), running_)) {}

ContinuousVerifier::~ContinuousVerifier() { Stop(); }

void ContinuousVerifier::Start() {
  if (thread_.joinable() || impl_->o.rows_per_second <= 0) return;
  thread_ = std::thread([this] { impl_->Loop(); });
}

void ContinuousVerifier::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->wake_mu);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<int64_t> ContinuousVerifier::KeepChangelogAfter() const {
  const int64_t v = impl_->keep_after.load();
  return v < 0 ? std::nullopt : std::optional<int64_t>(v);
}

VerifyProgress ContinuousVerifier::Progress() const {
  std::lock_guard<std::mutex> l(impl_->state_mu);
  return impl_->progress;
}

}  // namespace slipway::cutover
