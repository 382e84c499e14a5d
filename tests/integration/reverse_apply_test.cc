// The reverse stream after a cutover, beyond rows: the app's full-text
// indexes kept in step, constraints SQLite enforces carried into PostgreSQL
// (or the stream stopping at a row SQLite refuses, naming it), and schema
// changes made in PostgreSQL followed or stopped at. Real SQLite files, the
// real binary, the harness's PostgreSQL.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/sqlite.h"
#include "tests/harness/sqlite_fixture.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

constexpr int kBlockedExit = 3;
constexpr int kSchemaChangedExit = 9;

class ReverseApplyTest : public TargetTest {
 protected:
  // Builds the app's file, snapshots it and cuts over: the app writes to
  // PostgreSQL from here on.
  void CutOver(const std::string& sql) {
    db_ = MakeSqlite(dir_, "app.db", "PRAGMA journal_mode=WAL;\n" + sql);
    RunResult s = RunSlipway({"snapshot", "--source", db_, "--target", target_});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    const std::string env = dir_ + "/app.env";
    std::ofstream(env) << "DATABASE_URL=sqlite://" << db_ << "\n";
    RunResult c = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", env, "--flip-key",
                              "DATABASE_URL", "--json"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    auto pg = PgConn::Connect(target_);
    ASSERT_TRUE(pg.ok());
    app_ = std::move(*pg);
  }
  // The app's write to PostgreSQL (not slipway's: captured).
  void AppRuns(const std::string& sql) {
    Status s = app_.Run(sql);
    ASSERT_TRUE(s.ok()) << sql << ": " << s.message();
  }
  RunResult StreamBack() { return RunSlipway({"stream", "--source", db_, "--target", target_, "--until-caught-up"}); }
  // Rowids of the full-text index's matches, in order.
  std::vector<int64_t> Match(Db& db, const std::string& table, const std::string& query) {
    std::vector<int64_t> out;
    auto st = db.Prepare("SELECT rowid FROM \"" + table + "\" WHERE \"" + table + "\" MATCH ?1 ORDER BY rowid");
    EXPECT_TRUE(st.ok()) << st.status().message();
    if (!st.ok()) return out;
    st->Bind(1, std::string_view(query));
    while (true) {
      auto row = st->Step();
      EXPECT_TRUE(row.ok()) << row.status().message();
      if (!row.ok() || !*row) break;
      out.push_back(st->Int(0));
    }
    return out;
  }

  std::string db_;
  PgConn app_;
};

TEST_F(ReverseApplyTest, NocaseUniqueIsEnforcedByPostgres) {
  const std::string sql = R"sql(
    CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT COLLATE NOCASE UNIQUE, name TEXT);
    INSERT INTO users VALUES (1, 'a@x', 'ann');
  )sql";
  std::string plan_db = MakeSqlite(dir_, "plan.db", sql);
  RunResult ddl = RunSlipway({"plan", "--source", plan_db, "--target", target_, "--ddl"});
  ASSERT_EQ(ddl.exit_code, 0) << ddl.err;
  EXPECT_NE(ddl.out.find("CREATE UNIQUE INDEX \"users_unique\" ON \"public\".\"users\" ((translate(\"email\", "
                         "'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')))"),
            std::string::npos)
      << ddl.out;

  CutOver(sql);
  if (HasFatalFailure()) return;
  Status clash = app_.Run("INSERT INTO users VALUES (2, 'A@X', 'bob')");
  EXPECT_FALSE(clash.ok()) << "PostgreSQL refuses what SQLite's NOCASE unique index refuses";
  EXPECT_NE(clash.message().find("duplicate key"), std::string::npos) << clash.message();
  // Only ASCII folds, as in SQLite: other values go in.
  AppRuns("INSERT INTO users VALUES (3, 'b@x', 'bea')");
  AppRuns("INSERT INTO users VALUES (4, 'É@x', 'eve'), (5, 'é@x', 'eli')");
  RunResult back = StreamBack();
  ASSERT_EQ(back.exit_code, 0) << back.err;
  auto db = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM users"), 4);
}

}  // namespace
}  // namespace slipway::testing
