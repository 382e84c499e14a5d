// A cutover or rollback killed after its fence leaves the app unable to write
// to either database: `status` says so (exit 8), a running stream finishes
// the move by itself within seconds, and so does the same command run again.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/pg.h"
#include "common/sqlite.h"
#include "tests/harness/sqlite_fixture.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

struct Ack {
  int64_t seq = 0;
  int64_t ms = 0;
  std::string db;
};

std::vector<Ack> ReadAcks(const std::string& path) {
  std::vector<Ack> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    Ack a;
    std::string counter;
    if (ls >> a.seq >> counter >> a.ms >> a.db) out.push_back(a);
  }
  return out;
}

// Waits until the writer's latest acknowledgement was made on `db`.
bool WaitForAcksOn(const std::string& path, const std::string& db, int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    auto acks = ReadAcks(path);
    if (!acks.empty() && acks.back().db == db) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

class InterruptedMoveTest : public TargetTest {
 protected:
  void SetUp() override {
    TargetTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    db_ = MakeSqlite(dir_, "app.db", R"sql(
      PRAGMA journal_mode=WAL;
      CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
      CREATE TABLE events_log (id INTEGER PRIMARY KEY AUTOINCREMENT, writer INTEGER NOT NULL, seq INTEGER NOT NULL,
                               at TEXT NOT NULL);
      INSERT INTO counters VALUES (1, 0);
    )sql");
    ASSERT_EQ(RunSlipway({"snapshot", "--source", db_, "--target", target_}).exit_code, 0);
    env_ = dir_ + "/app.env";
    std::ofstream(env_) << "DATABASE_URL=sqlite://" << db_ << "\n";
    acks_ = dir_ + "/acks.log";
  }
  std::vector<std::string> MoveArgs(const std::string& move) {
    return {move, "--source", db_, "--target", target_, "--flip-file", env_, "--flip-key", "DATABASE_URL", "--json"};
  }
  RunResult Status() { return RunSlipway({"status", "--source", db_, "--target", target_}); }
  int StartFollower() {
    return StartProgram(SLIPWAY_APP_FOLLOWER, {"--config", env_, "--key", "DATABASE_URL", "--id", "1", "--rate", "100",
                                               "--seconds", "0", "--ack-log", acks_},
                        dir_);
  }
  // Every acknowledged write is on `where` exactly once.
  void ExpectEveryAck(const std::string& where) {
    const int64_t n = static_cast<int64_t>(ReadAcks(acks_).size());
    ASSERT_GT(n, 50);
    if (where == "pg") {
      auto pg = PgConn::Connect(target_);
      ASSERT_TRUE(pg.ok());
      auto r = pg->Exec("SELECT count(*), count(DISTINCT seq), max(seq), (SELECT n FROM counters WHERE id = 1) "
                        "FROM events_log WHERE writer = 1");
      ASSERT_TRUE(r.ok());
      for (int c = 0; c < 4; ++c) EXPECT_EQ(r->Str(0, c), std::to_string(n)) << "column " << c;
    } else {
      auto s = Db::Open(db_, Db::Mode::kReadOnly);
      ASSERT_TRUE(s.ok());
      auto st = s->Prepare("SELECT count(*), count(DISTINCT seq), max(seq), (SELECT n FROM counters WHERE id = 1) "
                           "FROM events_log WHERE writer = 1");
      ASSERT_TRUE(st.ok());
      ASSERT_TRUE(*st->Step());
      for (int c = 0; c < 4; ++c) EXPECT_EQ(st->Int(c), n) << "column " << c;
    }
  }
  std::string db_, env_, acks_;
};

// SIGKILL at each point past a fence, with a stream and the app running: the
// stream finishes the move and the app writes again on the new side within
// the freeze budget plus a few seconds, every acknowledged write kept.
TEST_F(InterruptedMoveTest, RunningStreamFinishesTheMove) {
  struct Case {
    std::string point;
    bool rollback;
  };
  const std::vector<Case> cases = {
      {"cutover.after_fence_commit", false}, {"cutover.after_flip", false},   {"cutover.before_open_commit", false},
      {"rollback.after_fence_commit", true}, {"rollback.after_flip", true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE(c.point);
    if (i > 0) {
      TearDown();
      SetUp();
      ASSERT_FALSE(HasFatalFailure());
    }
    int stream = StartProgram(SLIPWAY_BINARY, {"stream", "--source", db_, "--target", target_}, dir_);
    int app = StartFollower();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    if (c.rollback) {
      RunResult cut = RunSlipway(MoveArgs("cutover"));
      ASSERT_EQ(cut.exit_code, 0) << cut.err;
      ASSERT_TRUE(WaitForAcksOn(acks_, "pg", 10));
      std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    }
    const std::string move = c.rollback ? "rollback" : "cutover";
    const std::string to = c.rollback ? "sqlite" : "pg";
    RunResult crashed = RunSlipway(MoveArgs(move), {"SLIPWAY_FAILPOINTS=" + c.point + "=crash"});
    ASSERT_EQ(crashed.exit_code, 128 + SIGKILL) << crashed.err;
    const size_t acks_at_crash = ReadAcks(acks_).size();
    // While it lasts, status says so; the stream may already have finished.
    RunResult st = Status();
    if (st.exit_code != 0) {
      EXPECT_EQ(st.exit_code, 8) << st.err;
      EXPECT_NE(st.out.find(move + " interrupted after the fence: the app cannot write; run `slipway " + move +
                            " --resume` or `--abort`"),
                std::string::npos)
          << st.out;
    }
    ASSERT_TRUE(WaitForAcksOn(acks_, to, 15)) << "the app never wrote again";
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    ::kill(app, SIGTERM);
    EXPECT_EQ(WaitProgram(app), 0);
    auto acks = ReadAcks(acks_);
    ASSERT_GT(acks.size(), acks_at_crash + 20);
    int64_t gap = 0;
    for (size_t k = 1; k < acks.size(); ++k) gap = std::max(gap, acks[k].ms - acks[k - 1].ms);
    RecordProperty(c.point + ".longest_gap_ms", std::to_string(gap));
    RecordProperty(c.point + ".status_exit", std::to_string(st.exit_code));
    EXPECT_LT(gap, 1000 + 4000) << "the app could not write for " << gap << " ms";
    ExpectEveryAck(to);
    RunResult after = Status();
    EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
    ::kill(stream, SIGTERM);
    EXPECT_EQ(WaitProgram(stream), 0);
    // Where the app ends, and only there.
    auto pg = PgConn::Connect(target_);
    ASSERT_TRUE(pg.ok());
    auto phase = pg->Exec("SELECT phase FROM slipway.migration");
    ASSERT_TRUE(phase.ok());
    EXPECT_EQ(phase->Str(0, 0), c.rollback ? "streaming" : "cut_over");
  }
}

// Without a stream that finishes it: status shows the state and exits 8, a
// stream run with --no-auto-resume leaves it, and the same command run again
// (as its service would) finishes it. What was recorded holds no URI.
TEST_F(InterruptedMoveTest, StatusShowsItAndARestartFinishesIt) {
  RunResult crashed = RunSlipway(MoveArgs("cutover"), {"SLIPWAY_FAILPOINTS=cutover.after_fence_commit=crash"});
  ASSERT_EQ(crashed.exit_code, 128 + SIGKILL) << crashed.err;
  RunResult st = Status();
  EXPECT_EQ(st.exit_code, 8);
  const std::string said =
      "cutover interrupted after the fence: the app cannot write; run `slipway cutover --resume` or `--abort`";
  EXPECT_NE(st.out.find(said), std::string::npos) << st.out;
  EXPECT_NE(st.err.find(said), std::string::npos) << st.err;
  RunResult js = RunSlipway({"status", "--source", db_, "--target", target_, "--json"});
  EXPECT_EQ(js.exit_code, 8);
  nlohmann::json j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j["interrupted"]["move"], "cutover");

  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  auto rec = pg->Exec("SELECT move_options::text FROM slipway.migration");
  ASSERT_TRUE(rec.ok());
  nlohmann::json r = nlohmann::json::parse(rec->Str(0, 0));
  EXPECT_EQ(r["direction"], "cutover");
  EXPECT_EQ(r["flip_key"], "DATABASE_URL");
  EXPECT_EQ(r["app_url_is_target"], true);
  EXPECT_EQ(rec->Str(0, 0).find("postgres"), std::string::npos) << rec->Str(0, 0);

  int stream = StartProgram(SLIPWAY_BINARY, {"stream", "--source", db_, "--target", target_, "--no-auto-resume"}, dir_);
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  EXPECT_EQ(Status().exit_code, 8) << "--no-auto-resume leaves it to an operator";
  ::kill(stream, SIGTERM);
  EXPECT_EQ(WaitProgram(stream), 0);

  RunResult again = RunSlipway(MoveArgs("cutover"));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["outcome"], "resumed");
  EXPECT_EQ(Status().exit_code, 0);

  // The same for a rollback.
  RunResult back = RunSlipway(MoveArgs("rollback"), {"SLIPWAY_FAILPOINTS=rollback.after_flip=crash"});
  ASSERT_EQ(back.exit_code, 128 + SIGKILL) << back.err;
  st = Status();
  EXPECT_EQ(st.exit_code, 8);
  EXPECT_NE(st.out.find("rollback interrupted after the fence"), std::string::npos) << st.out;
  RunResult finish = RunSlipway(MoveArgs("rollback"));
  ASSERT_EQ(finish.exit_code, 0) << finish.err;
  EXPECT_EQ(nlohmann::json::parse(finish.out)["outcome"], "resumed");
  EXPECT_EQ(Status().exit_code, 0);
}

}  // namespace
}  // namespace slipway::testing
