// What must never leave two writable databases or a flipped file the app does
// not read: cleanup after a cutover, and a mistyped --flip-file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/pg.h"
#include "common/sqlite.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool SqliteAcceptsWrites(const std::string& db) {
  auto d = Db::Open(db, Db::Mode::kReadWrite);
  if (!d.ok()) return false;
  return d->Exec("UPDATE results SET laps = laps + 1 WHERE id = 1").ok();
}

class CutoverSafetyTest : public TargetTest {
 protected:
  void SetUp() override {
    TargetTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    db_ = dir_ + "/app.db";
    RunResult g = RunProgram(SLIPWAY_GEN_RACETIMING, {"--out", db_, "--rows", "3000", "--seed", "4"});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    RunResult s = RunSlipway({"snapshot", "--source", db_, "--target", target_});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    env_ = dir_ + "/app.env";
    std::ofstream(env_) << "DATABASE_URL=sqlite://" << db_ << "\n";
  }
  std::string Phase() {
    auto pg = PgConn::Connect(target_);
    if (!pg.ok()) return "<no connection>";
    auto r = pg->Exec("SELECT phase FROM slipway.migration");
    return r.ok() && r->Rows() == 1 ? r->Str(0, 0) : "<none>";
  }
  int64_t SlipwayObjects(const std::string& like) {
    auto d = Db::Open(db_, Db::Mode::kReadOnly);
    if (!d.ok()) return -1;
    auto n = d->QueryInt("SELECT count(*) FROM sqlite_schema WHERE name LIKE '" + like + "' ESCAPE '\\'");
    return n.ok() ? n->value_or(0) : -1;
  }
  std::string db_, env_;
};

TEST_F(CutoverSafetyTest, CleanupAfterACutoverKeepsTheFence) {
  RunResult c = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", env_, "--flip-key",
                            "DATABASE_URL"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  ASSERT_FALSE(SqliteAcceptsWrites(db_));

  RunResult r = RunSlipway({"cleanup", "--source", db_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("kept the cutover's fence"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--remove-fence"), std::string::npos) << r.out;
  EXPECT_FALSE(SqliteAcceptsWrites(db_)) << "two writable databases";
  // Capture is gone; the fence and the phase that records it stay.
  EXPECT_EQ(SlipwayObjects("\\_slipway\\_changelog"), 0);
  EXPECT_EQ(SlipwayObjects("\\_slipway\\_1\\_%"), 0);
  EXPECT_GT(SlipwayObjects("\\_slipway\\_fence\\_%"), 0);
  EXPECT_EQ(SlipwayObjects("\\_slipway\\_meta"), 1);

  // Again: still fenced, still said.
  RunResult again = RunSlipway({"cleanup", "--source", db_});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("kept the cutover's fence"), std::string::npos) << again.out;
  EXPECT_FALSE(SqliteAcceptsWrites(db_));

  // The target was cut over to: its state stays, its tables are never dropped.
  RunResult target = RunSlipway({"cleanup", "--target", target_, "--drop-tables"});
  EXPECT_EQ(target.exit_code, 8) << target.out << target.err;
  EXPECT_EQ(Phase(), "cut_over");

  RunResult removed = RunSlipway({"cleanup", "--source", db_, "--remove-fence"});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_NE(removed.out.find("accepts writes again"), std::string::npos) << removed.out;
  EXPECT_TRUE(SqliteAcceptsWrites(db_));
  EXPECT_EQ(SlipwayObjects("\\_slipway\\_%"), 0);
}

TEST_F(CutoverSafetyTest, CleanupBeforeACutoverRemovesEverything) {
  RunResult r = RunSlipway({"cleanup", "--source", db_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("fence"), std::string::npos) << r.out;
  EXPECT_EQ(SlipwayObjects("\\_slipway\\_%"), 0);
  EXPECT_TRUE(SqliteAcceptsWrites(db_));
}

TEST_F(CutoverSafetyTest, AMissingFlipFileIsRefusedBeforeTheFreeze) {
  const std::string typo = dir_ + "/ap.env";
  RunResult r = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", typo, "--flip-key",
                            "DATABASE_URL"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--create-flip-file"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(typo));
  EXPECT_TRUE(SqliteAcceptsWrites(db_));
  EXPECT_EQ(Phase(), "snapshotted");

  // A file without a key (a dry run needs neither, but given, both).
  RunResult nokey = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", env_, "--dry-run"});
  EXPECT_EQ(nokey.exit_code, 2) << nokey.out << nokey.err;
  RunResult nofile = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-key", "DATABASE_URL",
                                 "--dry-run"});
  EXPECT_EQ(nofile.exit_code, 2) << nofile.out << nofile.err;
  EXPECT_TRUE(SqliteAcceptsWrites(db_));
  EXPECT_EQ(Phase(), "snapshotted");
  EXPECT_EQ(ReadText(env_), "DATABASE_URL=sqlite://" + db_ + "\n");

  // Asked for: created, with the key.
  RunResult created = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", typo,
                                  "--flip-key", "DATABASE_URL", "--create-flip-file"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(ReadText(typo), "DATABASE_URL=" + target_ + "\n");
  EXPECT_FALSE(SqliteAcceptsWrites(db_));
}

}  // namespace
}  // namespace slipway::testing
