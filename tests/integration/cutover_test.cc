// `slipway cutover` end to end: a real SQLite file written to by other
// processes, a real PostgreSQL, crashes at every named failpoint.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <atomic>
#include <sstream>
#include <thread>

#include "common/pg.h"
#include "common/sqlite.h"
#include "cutover/uncaptured_check.h"
#include "replicator/capture.h"
#include "replicator/pg_state.h"
#include "schema/plan.h"
#include "tests/harness/sqlite_fixture.h"
#include "tests/harness/test_env.h"
#include "tests/integration/stream_fixture.h"

namespace slipway::testing {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Can the app write to SQLite right now?
bool SqliteAcceptsWrites(const std::string& db) {
  auto d = Db::Open(db, Db::Mode::kReadWrite);
  if (!d.ok()) return false;
  return d->Exec("INSERT INTO events (name, city, country, event_date, created_at, updated_at) "
                 "VALUES ('probe', 'c', 'x', '2024-01-01', '2024-01-01 00:00:00', '2024-01-01 00:00:00')")
      .ok();
}

// Can the app (not slipway: no replica role) write to PostgreSQL right now?
bool PgAcceptsWrites(const std::string& uri) {
  auto c = PgConn::Connect(uri);
  if (!c.ok()) return false;
  return c->Run("INSERT INTO events (name, city, country, event_date, created_at, updated_at) "
                "VALUES ('probe', 'c', 'x', '2024-01-01', now(), now())")
      .ok();
}

class CutoverTest : public TargetTest {
 protected:
  void SetUp() override {
    TargetTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    db_ = dir_ + "/app.db";
    RunResult g = RunProgram(SLIPWAY_GEN_RACETIMING, {"--out", db_, "--rows", "20000", "--seed", "5"});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    RunResult s = RunSlipway({"snapshot", "--source", db_, "--target", target_});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    env_ = dir_ + "/app.env";
    std::ofstream(env_) << "# app settings\nDATABASE_URL=sqlite://" << db_ << "\nOTHER=1\n";
  }
  std::vector<std::string> CutoverArgs(std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"cutover", "--source", db_, "--target", target_, "--flip-file", env_,
                                  "--flip-key", "DATABASE_URL", "--json"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // A session holds a replicated table (`hold_sql` in an open transaction)
  // when a postponed cutover is released.
  void FreezeGivesUpWhileHeld(const std::string& hold_sql, const std::string& lock_name);
  std::string db_, env_;
};

TEST_F(CutoverTest, MovesTheAppUnderLoad) {
  int writer = StartProgram(SLIPWAY_APP_WRITER, {"--db", db_, "--rate", "300", "--seconds", "0", "--ack-log",
                                                 dir_ + "/acks.log", "--seed", "9"},
                            dir_);
  int stream = StartProgram(SLIPWAY_BINARY, {"stream", "--source", db_, "--target", target_}, dir_);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(PgAcceptsWrites(target_)) << "the guard refuses app writes before the cutover";
  RunResult r = RunSlipway(CutoverArgs());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["outcome"], "cut over");
  EXPECT_LT(j["freeze_ms"].get<double>(), 1000.0);
  // The keys the app touched during the full verify were compared before the
  // freeze; the freeze compared only those touched after.
  bool before = false;
  for (const auto& note : j["notes"]) {
    before = before || note.get<std::string>().find(" verified before the freeze in ") != std::string::npos;
  }
  EXPECT_TRUE(before) << r.out;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(writer, SIGTERM);
  WaitProgram(writer);
  // The stream handed over, then carries changes back (it follows the phase).
  auto st = PgConn::Connect(target_);
  ASSERT_TRUE(st.ok());
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {
    auto h = st->Exec("SELECT stream_pid IS NOT NULL FROM slipway.migration");
    back = h.ok() && h->Get(0, 0) == "t";
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(back) << "the running stream streams back after the cutover";
  ::kill(stream, SIGTERM);
  EXPECT_EQ(WaitProgram(stream), 0) << "the stream stops cleanly";
  // Never two writable databases: SQLite refuses, PostgreSQL accepts.
  EXPECT_FALSE(SqliteAcceptsWrites(db_));
  EXPECT_TRUE(PgAcceptsWrites(target_));
  // The config was flipped, the rest of the file kept, a backup left.
  std::string env = ReadText(env_);
  EXPECT_NE(env.find("DATABASE_URL=" + target_), std::string::npos) << env;
  EXPECT_NE(env.find("OTHER=1"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(env_ + ".slipway-backup"));
  // Every write SQLite acknowledged is in PostgreSQL: the final laps per id.
  ExpectAcknowledgedResultsIn(dir_ + "/acks.log", target_, 10);
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  // New ids in PostgreSQL continue after every id SQLite handed out.
  auto s = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(s.ok());
  auto seq = s->QueryInt("SELECT seq FROM sqlite_sequence WHERE name = 'results'");
  ASSERT_TRUE(seq.ok());
  auto next = pg->Exec("INSERT INTO results (race_id, participant_id, bib, created_at) "
                       "SELECT race_id, participant_id, 999999, now() FROM results LIMIT 1 RETURNING id");
  ASSERT_TRUE(next.ok()) << next.status().message();
  EXPECT_GT(std::stoll(next->Str(0, 0)), seq->value_or(0));
  // Running it again is safe.
  RunResult again = RunSlipway(CutoverArgs());
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(again.out)["outcome"], "already cut over");
}

TEST_F(CutoverTest, DryRunLeavesSqliteLive) {
  RunResult r = RunSlipway(CutoverArgs({"--dry-run"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["outcome"], "dry run");
  std::set<std::string> steps;
  for (const auto& st : j["steps"]) steps.insert(st["step"].get<std::string>());
  for (const char* step : {"lock", "drain", "verify", "sequences"}) EXPECT_EQ(steps.count(step), 1u) << step;
  EXPECT_TRUE(SqliteAcceptsWrites(db_));
  EXPECT_FALSE(PgAcceptsWrites(target_));
  EXPECT_NE(ReadText(env_).find("sqlite://"), std::string::npos);
}

TEST_F(CutoverTest, FreezeBudgetExceededReleasesTheLock) {
  RunResult r = RunSlipway(CutoverArgs({"--max-freeze", "0ms", "--attempts", "2"}));
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("budget"), std::string::npos) << r.err;
  EXPECT_TRUE(SqliteAcceptsWrites(db_));
  EXPECT_FALSE(PgAcceptsWrites(target_));
}

// Another session holds ACCESS EXCLUSIVE on a replicated table (what ALTER
// TABLE, VACUUM FULL, REINDEX take) when a postponed cutover is released: the
// freeze gives up at its budget, the app's writes wait no longer than that,
// the report names the session, and a retry goes through once it is gone.
TEST_F(CutoverTest, FreezeGivesUpAtItsBudgetWhilePostgresIsBlocked) {
  FreezeGivesUpWhileHeld("LOCK TABLE results IN ACCESS EXCLUSIVE MODE", "AccessExclusiveLock");
}

// A reader that keeps a table open (a long report, a transaction left idle)
// does not block the freeze's drain, but opening PostgreSQL after the fence
// waits for it: the freeze takes those locks itself and gives up at its
// budget, rather than leaving the app unable to write to either database.
TEST_F(CutoverTest, FreezeGivesUpAtItsBudgetWhileAReaderHoldsATable) {
  FreezeGivesUpWhileHeld("SELECT count(*) FROM results", "AccessShareLock");
}

void CutoverTest::FreezeGivesUpWhileHeld(const std::string& hold_sql, const std::string& lock_name) {
  std::string flag = dir_ + "/hold";
  RunResult cut;
  std::thread cutter([&] {
    cut = RunSlipway(CutoverArgs({"--postpone", "--postpone-file", flag, "--max-freeze", "1s", "--attempts", "2"}));
  });
  for (int i = 0; i < 300 && !std::filesystem::exists(flag); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(std::filesystem::exists(flag)) << "postponed";
  // The other session, on a thread of its own: it lets go when told, or
  // after 8 s at most.
  std::atomic<bool> locked{false}, let_go{false};
  std::thread holder([&] {
    auto c = PgConn::Connect(target_);
    if (!c.ok() || !c->Run("SET application_name = 'nightly_reindex'").ok() || !c->Run("BEGIN").ok() ||
        !c->Run(hold_sql).ok()) {
      return;
    }
    locked = true;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(8);
    while (!let_go && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    (void)c->Run("ROLLBACK");
  });
  for (int i = 0; i < 100 && !locked; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(locked);
  // The app: one write after another, each timed from its first try.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> longest_ms{0}, writes{0}, failed{0};
  std::thread app([&] {
    auto d = Db::Open(db_, Db::Mode::kReadWrite);
    if (!d.ok()) return;
    sqlite3_busy_timeout(d->get(), 20000);
    while (!stop) {
      const auto t0 = std::chrono::steady_clock::now();
      Status s = d->Exec("INSERT INTO events (name, city, country, event_date, created_at, updated_at) "
                         "VALUES ('app', 'c', 'x', '2024-01-01', '2024-01-01 00:00:00', '2024-01-01 00:00:00')");
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
      if (s.ok()) ++writes; else ++failed;
      if (ms > longest_ms) longest_ms = ms;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  RunResult rel = RunSlipway({"cutover", "--target", target_, "--release"});
  EXPECT_EQ(rel.exit_code, 0) << rel.err;
  cutter.join();
  stop = true;
  app.join();
  EXPECT_EQ(cut.exit_code, 6) << cut.err;
  EXPECT_NE(cut.err.find("freeze budget of 1000 ms"), std::string::npos) << cut.err;
  EXPECT_NE(cut.err.find("nightly_reindex"), std::string::npos) << "names the session: " << cut.err;
  EXPECT_NE(cut.err.find(lock_name), std::string::npos) << cut.err;
  EXPECT_NE(cut.err.find("results"), std::string::npos) << cut.err;
  EXPECT_GT(writes.load(), 10);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_LT(longest_ms.load(), 1000 + 300) << "the app's writes waited past the freeze budget";
  EXPECT_TRUE(SqliteAcceptsWrites(db_));
  EXPECT_FALSE(PgAcceptsWrites(target_));
  EXPECT_NE(ReadText(env_).find("sqlite://"), std::string::npos);

  let_go = true;
  holder.join();
  RunResult again = RunSlipway(CutoverArgs({"--max-freeze", "1s"}));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["outcome"], "cut over");
  EXPECT_FALSE(SqliteAcceptsWrites(db_));
  EXPECT_TRUE(PgAcceptsWrites(target_));
}

TEST_F(CutoverTest, PostponedUntilReleased) {
  std::string flag = dir_ + "/hold";
  int cut = StartProgram(SLIPWAY_BINARY, {"cutover", "--source", db_, "--target", target_, "--flip-file", env_,
                                          "--flip-key", "DATABASE_URL", "--postpone", "--postpone-file", flag},
                         dir_);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_TRUE(std::filesystem::exists(flag));
  EXPECT_TRUE(SqliteAcceptsWrites(db_)) << "held before the freeze";
  RunResult rel = RunSlipway({"cutover", "--target", target_, "--release"});
  EXPECT_EQ(rel.exit_code, 0) << rel.err;
  EXPECT_EQ(WaitProgram(cut), 0);
  EXPECT_FALSE(SqliteAcceptsWrites(db_));
}

// Overwrites the first byte of events.name of the row with the smallest id
// through SQLite's incremental blob API, which fires no trigger; returns that
// id and the new name.
std::pair<int64_t, std::string> BlobWriteEventName(const std::string& db) {
  auto d = Db::Open(db, Db::Mode::kReadWrite);
  EXPECT_TRUE(d.ok()) << d.status().message();
  if (!d.ok()) return {0, ""};
  sqlite3_busy_timeout(d->get(), 5000);
  const int64_t id = d->QueryInt("SELECT min(id) FROM events")->value_or(0);
  std::string name = d->QueryText("SELECT name FROM events WHERE id = " + std::to_string(id))->value_or("");
  EXPECT_FALSE(name.empty());
  const int64_t seq_before = d->QueryInt("SELECT max(seq) FROM _slipway_changelog")->value_or(0);
  sqlite3_blob* blob = nullptr;
  EXPECT_EQ(sqlite3_blob_open(d->get(), "main", "events", "name", id, 1, &blob), SQLITE_OK) << sqlite3_errmsg(d->get());
  const char z = name[0] == 'Z' ? 'Y' : 'Z';
  EXPECT_EQ(sqlite3_blob_write(blob, &z, 1, 0), SQLITE_OK);
  EXPECT_EQ(sqlite3_blob_close(blob), SQLITE_OK);
  name[0] = z;
  EXPECT_EQ(d->QueryText("SELECT name FROM events WHERE id = " + std::to_string(id))->value_or(""), name);
  EXPECT_EQ(d->QueryInt("SELECT max(seq) FROM _slipway_changelog")->value_or(0), seq_before) << "no trigger fired";
  return {id, name};
}

std::string PgEventName(const std::string& uri, int64_t id) {
  auto c = PgConn::Connect(uri);
  if (!c.ok()) return "";
  auto r = c->ExecParams("SELECT name FROM events WHERE id = $1", {std::to_string(id)});
  return r.ok() && r->Rows() == 1 ? r->Str(0, 0) : "";
}

// A write through SQLite's incremental blob API fires no trigger: made while
// a cutover is postponed, after its full verify, the freeze's check of
// touched keys would miss it. The tables holding text or blobs are verified
// again at the release: the cutover stops, SQLite stays the app's database,
// and once the row is touched the next cutover carries the write.
TEST_F(CutoverTest, IncrementalBlobWriteDuringAPostponedCutoverStopsIt) {
  std::string flag = dir_ + "/hold";
  RunResult cut;
  std::thread cutter([&] { cut = RunSlipway(CutoverArgs({"--postpone", "--postpone-file", flag})); });
  for (int i = 0; i < 300 && !std::filesystem::exists(flag); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(std::filesystem::exists(flag)) << "postponed";
  const auto [id, name] = BlobWriteEventName(db_);
  RunResult rel = RunSlipway({"cutover", "--target", target_, "--release"});
  EXPECT_EQ(rel.exit_code, 0) << rel.err;
  cutter.join();

  EXPECT_EQ(cut.exit_code, 1) << cut.out << cut.err;
  EXPECT_NE(cut.err.find("differing keys in table events (e.g. id=" + std::to_string(id) + ")"), std::string::npos)
      << cut.err;
  EXPECT_NE(cut.err.find("not cutting over"), std::string::npos) << cut.err;
  EXPECT_TRUE(SqliteAcceptsWrites(db_)) << "SQLite is still the app's database";
  EXPECT_FALSE(PgAcceptsWrites(target_));
  EXPECT_NE(ReadText(env_).find("sqlite://"), std::string::npos);

  {
    auto d = Db::Open(db_, Db::Mode::kReadWrite);
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE(d->Exec("UPDATE events SET name = name WHERE id = " + std::to_string(id)).ok());
  }
  RunResult again = RunSlipway(CutoverArgs());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(PgEventName(target_, id), name);
}

// The same write made after the fence (a stale app instance: the fence's
// triggers cannot stop it either), then the move finished by --resume: the
// check after the move names table, key and column, the cutover exits 1,
// `status` says so while the app is on PostgreSQL. A key the app has changed
// in PostgreSQL since is PostgreSQL's: the check leaves it aside.
TEST_F(CutoverTest, IncrementalBlobWriteAfterTheFenceIsReportedAfterTheMove) {
  RunResult crashed = RunSlipway(CutoverArgs(), {"SLIPWAY_FAILPOINTS=cutover.after_fence_commit=crash"});
  ASSERT_EQ(crashed.exit_code, 128 + SIGKILL) << crashed.err;
  ASSERT_FALSE(SqliteAcceptsWrites(db_)) << "fenced";
  const auto [id, name] = BlobWriteEventName(db_);

  RunResult cut = RunSlipway(CutoverArgs({"--resume"}));
  EXPECT_EQ(cut.exit_code, 1) << cut.out << cut.err;
  auto j = nlohmann::json::parse(cut.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << cut.out;
  EXPECT_EQ(j["outcome"], "resumed");
  ASSERT_TRUE(j.contains("uncaptured_check")) << cut.out;
  EXPECT_EQ(j["uncaptured_check"]["differing_keys"], 1) << cut.out;
  ASSERT_EQ(j["uncaptured_check"]["differences"].size(), 1u) << cut.out;
  const std::string diff = j["uncaptured_check"]["differences"][0];
  EXPECT_NE(diff.find("table events, id=" + std::to_string(id) + ": different: name source '" + name + "'"),
            std::string::npos)
      << diff;
  EXPECT_NE(cut.err.find("1 key(s) differ between the fenced SQLite file and PostgreSQL"), std::string::npos)
      << cut.err;
  EXPECT_TRUE(PgAcceptsWrites(target_)) << "the move itself is done";

  RunResult status = RunSlipway({"status", "--source", db_, "--target", target_});
  EXPECT_EQ(status.exit_code, 1) << status.out << status.err;
  EXPECT_NE(status.out.find("NOT CARRIED OVER"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("id=" + std::to_string(id)), std::string::npos) << status.out;

  // The app writes that row in PostgreSQL: captured, so no longer reported.
  {
    auto pg = PgConn::Connect(target_);
    ASSERT_TRUE(pg.ok());
    ASSERT_TRUE(pg->Run("UPDATE events SET name = 'renamed' WHERE id = " + std::to_string(id)).ok());
    auto m = replicator::ReadMigration(*pg);
    ASSERT_TRUE(m.ok() && m->has_value());
    auto plan = schema::PlanFromJson((*m)->plan);
    ASSERT_TRUE(plan.ok());
    auto file = Db::Open(db_, Db::Mode::kReadOnly);
    ASSERT_TRUE(file.ok());
    auto capture = replicator::ReadCapture(*file);
    ASSERT_TRUE(capture.ok());
    auto check = cutover::CheckUncapturedWrites(db_, target_, *plan, capture->tids);
    ASSERT_TRUE(check.ok()) << check.status().message();
    EXPECT_EQ(check->total, 0);
    EXPECT_TRUE(check->differences.empty());
  }
}

// An ordinary cutover, with no write trigger capture missed: the check after
// the move compares the tables holding text or blobs, finds nothing, exits 0.
TEST_F(CutoverTest, CheckAfterTheMoveFindsNothingWithoutUncapturedWrites) {
  RunResult r = RunSlipway(CutoverArgs());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.contains("uncaptured_check")) << r.out;
  EXPECT_EQ(j["uncaptured_check"]["differing_keys"], 0);
  EXPECT_FALSE(j["uncaptured_check"]["tables"].empty());
  RunResult status = RunSlipway({"status", "--source", db_, "--target", target_});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_EQ(status.out.find("NOT CARRIED OVER"), std::string::npos) << status.out;
  // It reads those tables whole: its progress is logged per table and
  // published as a step, as the full verify's is.
  EXPECT_NE(r.err.find("uncaptured-write check: "), std::string::npos) << r.err;
  RunResult js = RunSlipway({"status", "--source", db_, "--target", target_, "--json"});
  auto sj = nlohmann::json::parse(js.out, nullptr, false);
  ASSERT_TRUE(sj.is_object() && sj.contains("progress") && sj["progress"].contains("cutover uncaptured-write check"))
      << js.out;
  const auto& step = sj["progress"]["cutover uncaptured-write check"];
  EXPECT_EQ(step["state"], "done") << step.dump();
  EXPECT_EQ(step["tables_done"], step["tables_total"]) << step.dump();
  EXPECT_EQ(step["rows_done"], step["rows_total"]) << step.dump();
}

// A crash at each named point leaves one writable database at most, and
// --resume (or --abort) ends in a clean state.
TEST_F(CutoverTest, KilledAtEveryFailpoint) {
  struct Case {
    std::string point;
    bool fenced;   // SQLite refuses writes after the crash
  };
  const std::vector<Case> cases = {
      {"cutover.after_lock", false},         {"cutover.after_drain", false},
      {"cutover.before_fence_commit", false}, {"cutover.after_fence_commit", true},
      {"cutover.after_flip", true},          {"cutover.before_open_commit", true},
  };
  std::string base_db = db_ + ".base";
  std::filesystem::copy_file(db_, base_db);
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE(c.point);
    if (i > 0) {
      // A fresh pair for each case.
      target_ = FreshDatabase();
      std::filesystem::remove(db_ + "-wal");
      std::filesystem::remove(db_ + "-shm");
      std::filesystem::copy_file(base_db, db_, std::filesystem::copy_options::overwrite_existing);
      auto d = Db::Open(db_, Db::Mode::kReadWrite);
      ASSERT_TRUE(d.ok());
      ASSERT_TRUE(d->Exec("DROP TABLE IF EXISTS _slipway_meta").ok());
      d = Db();
      ASSERT_EQ(RunSlipway({"cleanup", "--source", db_}).exit_code, 0);
      ASSERT_EQ(RunSlipway({"snapshot", "--source", db_, "--target", target_}).exit_code, 0);
      std::ofstream(env_) << "DATABASE_URL=sqlite://" << db_ << "\n";
      std::filesystem::remove(env_ + ".slipway-backup");
    }
    RunResult crashed = RunSlipway(CutoverArgs(), {"SLIPWAY_FAILPOINTS=" + c.point + "=crash"});
    ASSERT_EQ(crashed.exit_code, 128 + SIGKILL) << crashed.err;
    bool sqlite_writable = SqliteAcceptsWrites(db_);
    bool pg_writable = PgAcceptsWrites(target_);
    EXPECT_FALSE(sqlite_writable && pg_writable) << "two writable databases";
    EXPECT_EQ(sqlite_writable, !c.fenced);
    EXPECT_FALSE(pg_writable);
    if (!c.fenced) {
      // As if nothing happened: a new cutover goes through.
      RunResult again = RunSlipway(CutoverArgs());
      ASSERT_EQ(again.exit_code, 0) << again.err;
    } else if (i % 2 == 0) {
      RunResult abort = RunSlipway(CutoverArgs({"--abort"}));
      ASSERT_EQ(abort.exit_code, 0) << abort.err;
      EXPECT_TRUE(SqliteAcceptsWrites(db_));
      EXPECT_FALSE(PgAcceptsWrites(target_));
      EXPECT_NE(ReadText(env_).find("sqlite://"), std::string::npos);
      RunResult again = RunSlipway(CutoverArgs());
      ASSERT_EQ(again.exit_code, 0) << again.err;
    } else {
      // The same command again (a service restarting it) finishes the move.
      RunResult plain = RunSlipway(CutoverArgs());
      ASSERT_EQ(plain.exit_code, 0) << plain.err;
      EXPECT_EQ(nlohmann::json::parse(plain.out)["outcome"], "resumed");
      RunResult resume = RunSlipway(CutoverArgs({"--resume"}));
      ASSERT_EQ(resume.exit_code, 0) << resume.err;
    }
    EXPECT_FALSE(SqliteAcceptsWrites(db_));
    EXPECT_TRUE(PgAcceptsWrites(target_));
    EXPECT_NE(ReadText(env_).find("DATABASE_URL=" + target_), std::string::npos);
    RunResult v = RunSlipway({"verify", "--source", db_, "--target", target_, "--tables", "results,races,participants"});
    EXPECT_EQ(v.exit_code, 0) << v.out;
  }
}

TEST_F(CutoverTest, ConfigFlipKeepsJsonAndPermissions) {
  std::string json_cfg = dir_ + "/config.json";
  std::ofstream(json_cfg) << R"({"name": "app", "database": {"url": "sqlite:///x.db", "pool": 5}})";
  std::filesystem::permissions(json_cfg, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  RunResult r = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", json_cfg, "--flip-key",
                            "database.url", "--app-url", "postgresql://app@db/app"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(ReadText(json_cfg));
  EXPECT_EQ(j["database"]["url"], "postgresql://app@db/app");
  EXPECT_EQ(j["database"]["pool"], 5);
  EXPECT_EQ(j["name"], "app");
  auto perms = std::filesystem::status(json_cfg).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

// Writers that follow the config file: every acknowledged write is in
// PostgreSQL exactly once, counters equal the acknowledged increments, SQLite
// took nothing after the fence, and the writers end on PostgreSQL.
TEST(CutoverFollowers, AcknowledgedWritesAreInPostgresExactlyOnce) {
  REQUIRE_PG();
  std::string dir = TempDir();
  std::string target = FreshDatabase();
  std::string db = MakeSqlite(dir, "app.db", R"sql(
    PRAGMA journal_mode=WAL;
    CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
    CREATE TABLE events_log (id INTEGER PRIMARY KEY AUTOINCREMENT, writer INTEGER NOT NULL, seq INTEGER NOT NULL,
                             at TEXT NOT NULL);
    INSERT INTO counters VALUES (1, 0), (2, 0), (3, 0);
  )sql");
  ASSERT_EQ(RunSlipway({"snapshot", "--source", db, "--target", target}).exit_code, 0);
  std::string env = dir + "/app.env";
  std::ofstream(env) << "DATABASE_URL=sqlite://" << db << "\n";
  int stream = StartProgram(SLIPWAY_BINARY, {"stream", "--source", db, "--target", target}, dir);
  std::vector<int> writers;
  for (int id = 1; id <= 3; ++id) {
    writers.push_back(StartProgram(SLIPWAY_APP_FOLLOWER,
                                   {"--config", env, "--key", "DATABASE_URL", "--id", std::to_string(id), "--rate", "150",
                                    "--seconds", "0", "--ack-log", dir + "/acks" + std::to_string(id) + ".log"},
                                   dir));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  RunResult r = RunSlipway({"cutover", "--source", db, "--target", target, "--flip-file", env, "--flip-key",
                            "DATABASE_URL", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  for (int w : writers) ::kill(w, SIGTERM);
  for (int w : writers) EXPECT_EQ(WaitProgram(w), 0);
  // The running stream carries the writes made in PostgreSQL back.
  ::kill(stream, SIGTERM);
  EXPECT_EQ(WaitProgram(stream), 0);
  RunResult back = RunSlipway({"stream", "--source", db, "--target", target, "--until-caught-up"});
  ASSERT_EQ(back.exit_code, 0) << back.err;

  auto pg = PgConn::Connect(target);
  ASSERT_TRUE(pg.ok());
  auto s = Db::Open(db, Db::Mode::kReadOnly);
  ASSERT_TRUE(s.ok());
  for (int id = 1; id <= 3; ++id) {
    SCOPED_TRACE("writer " + std::to_string(id));
    std::ifstream acks(dir + "/acks" + std::to_string(id) + ".log");
    std::string line;
    int64_t n = 0, sqlite_acks = 0;
    std::string last_db;
    while (std::getline(acks, line)) {
      std::istringstream ls(line);
      std::string seq, counter, ms, where;
      ls >> seq >> counter >> ms >> where;
      ++n;
      EXPECT_EQ(std::stoll(seq), n) << "acknowledged sequence without gaps";
      if (where == "sqlite") ++sqlite_acks;
      last_db = where;
    }
    ASSERT_GT(n, 100);
    EXPECT_GT(sqlite_acks, 0);
    EXPECT_EQ(last_db, "pg") << "the writer ended on PostgreSQL";
    // Exactly once: one row per acknowledged seq, none other.
    auto rows = pg->ExecParams("SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM events_log WHERE writer = $1",
                               {std::to_string(id)});
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->Str(0, 0), std::to_string(n));
    EXPECT_EQ(rows->Str(0, 1), std::to_string(n));
    EXPECT_EQ(rows->Str(0, 3), std::to_string(n));
    auto counter = pg->ExecParams("SELECT n FROM counters WHERE id = $1", {std::to_string(id)});
    ASSERT_TRUE(counter.ok());
    EXPECT_EQ(counter->Str(0, 0), std::to_string(n));
    // SQLite holds every acknowledged write exactly once too: its own
    // before the fence, PostgreSQL's carried back after it.
    auto st = s->Prepare("SELECT count(*), count(DISTINCT seq), max(seq) FROM events_log WHERE writer = ?");
    ASSERT_TRUE(st.ok());
    st->Bind(1, static_cast<int64_t>(id));
    ASSERT_TRUE(*st->Step());
    EXPECT_EQ(st->Int(0), n);
    EXPECT_EQ(st->Int(1), n);
    EXPECT_EQ(st->Int(2), n);
  }
}

}  // namespace
}  // namespace slipway::testing
