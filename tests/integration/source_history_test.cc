// A target follows one history of its source file: a copy, a restored backup
// or a file whose changelog went back is refused by stream, verify and
// cutover (exit 11), and nothing is written to either side.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/pg.h"
#include "common/sqlite.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

constexpr int kWrongSource = 11;

void Write(const std::string& db, const std::string& sql) {
  auto d = Db::Open(db, Db::Mode::kReadWrite);
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_TRUE(d->Exec(sql).ok()) << sql;
}

std::string Meta(const std::string& db, const std::string& key) {
  auto d = Db::Open(db, Db::Mode::kReadOnly);
  if (!d.ok()) return "<no file>";
  auto v = d->QueryText("SELECT value FROM _slipway_meta WHERE key = '" + key + "'");
  return v.ok() ? v->value_or("") : "<error>";
}

// Copies a file no connection has open (its WAL was checkpointed away at the
// last close), as an operator's `cp` would.
void CopyClosedFile(const std::string& from, const std::string& to) {
  std::filesystem::remove(to + "-wal");
  std::filesystem::remove(to + "-shm");
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

class SourceHistoryTest : public TargetTest {
 protected:
  void SetUp() override {
    TargetTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    db_ = dir_ + "/app.db";
    RunResult g = RunProgram(SLIPWAY_GEN_RACETIMING, {"--out", db_, "--rows", "3000", "--seed", "3"});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    RunResult s = RunSlipway({"snapshot", "--source", db_, "--target", target_});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    env_ = dir_ + "/app.env";
    std::ofstream(env_) << "DATABASE_URL=sqlite://" << db_ << "\n";
  }

  RunResult Stream(const std::string& db) {
    return RunSlipway({"stream", "--source", db, "--target", target_, "--until-caught-up"});
  }

  std::string PgValue(const std::string& sql) {
    auto pg = PgConn::Connect(target_);
    if (!pg.ok()) return "<no connection>";
    auto r = pg->Exec(sql);
    if (!r.ok() || r->Rows() == 0 || r->IsNull(0, 0)) return "";
    return r->Str(0, 0);
  }
  std::string Laps(int id) { return PgValue("SELECT laps FROM results WHERE id = " + std::to_string(id)); }
  std::string TargetToken() { return PgValue("SELECT history FROM slipway.migration"); }
  std::string Applied() { return PgValue("SELECT applied_seq FROM slipway.migration"); }

  // The refused file and the target are as they were.
  void ExpectNothingWritten(const std::string& db, const std::string& file_token, const std::string& target_token,
                            const std::string& applied) {
    EXPECT_EQ(Meta(db, "history"), file_token);
    EXPECT_EQ(TargetToken(), target_token);
    EXPECT_EQ(Applied(), applied);
  }

  std::string db_, env_;
};

TEST_F(SourceHistoryTest, SnapshotGivesBothSidesOneToken) {
  const std::string token = Meta(db_, "history");
  EXPECT_EQ(token.size(), 32u);
  EXPECT_EQ(TargetToken(), token);
  RunResult r = Stream(db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Each attach moves both sides to a new token, keeping the one replaced.
  EXPECT_NE(Meta(db_, "history"), token);
  EXPECT_EQ(Meta(db_, "history_prev"), token);
  EXPECT_EQ(TargetToken(), Meta(db_, "history"));
}

TEST_F(SourceHistoryTest, ACopyStreamedFirstMakesTheOriginalRefused) {
  const std::string fork = dir_ + "/fork.db";
  CopyClosedFile(db_, fork);
  Write(fork, "UPDATE results SET laps = 111 WHERE id = 1");
  RunResult f = Stream(fork);
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(Laps(1), "111");

  Write(db_, "UPDATE results SET laps = 222 WHERE id = 2");
  const std::string file_token = Meta(db_, "history"), target_token = TargetToken(), applied = Applied();
  RunResult s = Stream(db_);
  EXPECT_EQ(s.exit_code, kWrongSource) << s.out << s.err;
  EXPECT_NE(s.err.find("history token"), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("slipway snapshot"), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("slipway cleanup"), std::string::npos) << s.err;
  EXPECT_EQ(std::count(s.err.begin(), s.err.end(), '\n'), 1) << "one line: " << s.err;
  EXPECT_NE(Laps(2), "222");
  ExpectNothingWritten(db_, file_token, target_token, applied);

  RunResult v = RunSlipway({"verify", "--source", db_, "--target", target_});
  EXPECT_EQ(v.exit_code, kWrongSource) << v.out << v.err;
  RunResult c = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", env_, "--flip-key",
                            "DATABASE_URL"});
  EXPECT_EQ(c.exit_code, kWrongSource) << c.out << c.err;
  ExpectNothingWritten(db_, file_token, target_token, applied);
  EXPECT_EQ(PgValue("SELECT phase FROM slipway.migration"), "streaming");
  EXPECT_EQ(PgValue("SELECT handover_requested FROM slipway.migration"), "f");
  Write(db_, "UPDATE results SET laps = 223 WHERE id = 2");  // SQLite stays the app's, unfenced

  // The copy that was followed goes on.
  Write(fork, "UPDATE results SET laps = 112 WHERE id = 1");
  RunResult again = Stream(fork);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Laps(1), "112");
}

TEST_F(SourceHistoryTest, ABackupRestoredAfterTheTargetMovedOnIsRefused) {
  ASSERT_EQ(Stream(db_).exit_code, 0);
  const std::string backup = dir_ + "/backup.db";
  CopyClosedFile(db_, backup);
  Write(db_, "UPDATE results SET laps = 333 WHERE id = 3");
  ASSERT_EQ(Stream(db_).exit_code, 0);
  EXPECT_EQ(Laps(3), "333");

  CopyClosedFile(backup, db_);
  Write(db_, "UPDATE results SET laps = 334 WHERE id = 4");
  const std::string file_token = Meta(db_, "history"), target_token = TargetToken(), applied = Applied();
  RunResult s = Stream(db_);
  EXPECT_EQ(s.exit_code, kWrongSource) << s.out << s.err;
  EXPECT_NE(s.err.find("history token"), std::string::npos) << s.err;
  EXPECT_NE(Laps(4), "334");
  ExpectNothingWritten(db_, file_token, target_token, applied);
}

TEST_F(SourceHistoryTest, AChangelogThatWentBackIsRefused) {
  // A backup taken while the stream runs carries the stream's token; restored
  // after the target moved past it, its changelog ends below the position.
  int stream = StartProgram(SLIPWAY_BINARY, {"stream", "--source", db_, "--target", target_}, dir_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (TargetToken() == Meta(db_, "history_prev") || Meta(db_, "history_prev").empty()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the stream did not attach";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string backup = dir_ + "/backup.db";
  Write(db_, "VACUUM INTO '" + backup + "'");
  for (int i = 0; i < 20; ++i) Write(db_, "UPDATE results SET laps = 500 + " + std::to_string(i) + " WHERE id = 5");
  while (Laps(5) != "519") {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the stream did not apply";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(stream, SIGTERM);
  ASSERT_EQ(WaitProgram(stream), 0);

  CopyClosedFile(backup, db_);
  EXPECT_EQ(Meta(db_, "history"), TargetToken()) << "same token: only the position tells";
  Write(db_, "UPDATE results SET laps = 600 WHERE id = 6");
  const std::string file_token = Meta(db_, "history"), target_token = TargetToken(), applied = Applied();
  RunResult s = Stream(db_);
  EXPECT_EQ(s.exit_code, kWrongSource) << s.out << s.err;
  EXPECT_NE(s.err.find("went back"), std::string::npos) << s.err;
  EXPECT_NE(Laps(6), "600");
  ExpectNothingWritten(db_, file_token, target_token, applied);
  RunResult v = RunSlipway({"verify", "--source", db_, "--target", target_});
  EXPECT_EQ(v.exit_code, kWrongSource) << v.out << v.err;
}

TEST_F(SourceHistoryTest, AnAttachInterruptedBeforeTheTargetIsAccepted) {
  // As if an applier crashed between writing the file and the target.
  const std::string token = TargetToken();
  Write(db_, "INSERT OR REPLACE INTO _slipway_meta (key, value) VALUES ('history', 'ffffffffffffffffffffffffffffffff'), "
             "('history_prev', '" + token + "')");
  Write(db_, "UPDATE results SET laps = 700 WHERE id = 7");
  RunResult s = Stream(db_);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(Laps(7), "700");
  EXPECT_EQ(TargetToken(), Meta(db_, "history"));
  RunResult v = RunSlipway({"verify", "--source", db_, "--target", target_});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(SourceHistoryTest, AMigrationWithoutTokensTakesOneAtItsFirstAttach) {
  Write(db_, "DELETE FROM _slipway_meta WHERE key IN ('history', 'history_prev')");
  ASSERT_EQ(PgValue("UPDATE slipway.migration SET history = NULL RETURNING 1"), "1");
  RunResult s = Stream(db_);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(Meta(db_, "history").size(), 32u);
  EXPECT_EQ(TargetToken(), Meta(db_, "history"));
}

}  // namespace
}  // namespace slipway::testing
