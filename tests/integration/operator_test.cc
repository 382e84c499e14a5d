// What the person running a move sees when the setup is wrong: where the
// target's URI comes from (argv, a file, the environment), a malformed URI
// refused without leaking its password, and exit codes and messages that
// name the cause (a role without a privilege, a locked source, a file
// without capture) before anything is written.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "common/pg.h"
#include "common/sqlite.h"
#include "tests/harness/sqlite_fixture.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

constexpr const char* kSmall = R"sql(
  PRAGMA journal_mode = WAL;
  CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
  INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');
)sql";

class OperatorTest : public TargetTest {
 protected:
  void Pg(const std::string& uri, const std::string& sql) {
    auto conn = PgConn::Connect(uri);
    ASSERT_TRUE(conn.ok()) << conn.status().message();
    Status s = conn->Run(sql);
    ASSERT_TRUE(s.ok()) << s.message() << "\n" << sql;
  }

  // A login role of this test run, and the target URI that connects as it.
  std::string MakeRole(const std::string& base) {
    const std::string role = base + "_" + std::to_string(::getpid());
    Pg(target_, "DROP ROLE IF EXISTS " + QuotePgIdent(role) + "; CREATE ROLE " + QuotePgIdent(role) + " LOGIN");
    const std::string from = "user=postgres";
    std::string uri = target_;
    uri.replace(uri.find(from), from.size(), "user=" + role);
    return uri;
  }

  std::string Database() {
    auto conn = PgConn::Connect(target_);
    EXPECT_TRUE(conn.ok());
    auto r = conn->Exec("SELECT current_database()");
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->Str(0, 0) : "";
  }

  // Nothing of slipway in either database.
  void ExpectNothingWritten(const std::string& db) {
    auto src = Db::Open(db, Db::Mode::kReadOnly);
    ASSERT_TRUE(src.ok());
    auto n = src->QueryInt("SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_slipway%' ESCAPE '\\'");
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->value_or(-1), 0) << "slipway wrote to the source";
    auto pg = PgConn::Connect(target_);
    ASSERT_TRUE(pg.ok());
    auto r = pg->Exec("SELECT count(*) FROM pg_namespace WHERE nspname = 'slipway'");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->Str(0, 0), "0") << "slipway wrote to the target";
    auto t = pg->Exec("SELECT count(*) FROM pg_class WHERE relname = 'items'");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->Str(0, 0), "0");
  }
};

TEST_F(OperatorTest, RoleWithoutCreateIsFoundBeforeAnythingIsWritten) {
  const std::string db = MakeSqlite(dir_, "app.db", kSmall);
  const std::string role = "nocreate_" + std::to_string(::getpid());
  const std::string uri = MakeRole("nocreate");
  Pg(target_, "GRANT SET ON PARAMETER session_replication_role TO " + QuotePgIdent(role));

  RunResult r = RunSlipway({"snapshot", "--source", db, "--target", uri});
  EXPECT_EQ(r.exit_code, 12) << r.out << r.err;
  EXPECT_NE(r.err.find("CREATE on database"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("GRANT CREATE ON DATABASE " + QuotePgIdent(Database()) + " TO " + QuotePgIdent(role)),
            std::string::npos)
      << r.err;
  ExpectNothingWritten(db);

  // With CREATE on the database, the schema the tables go to is next.
  Pg(target_, "GRANT CREATE ON DATABASE " + QuotePgIdent(Database()) + " TO " + QuotePgIdent(role));
  r = RunSlipway({"snapshot", "--source", db, "--target", uri});
  EXPECT_EQ(r.exit_code, 12) << r.out << r.err;
  EXPECT_NE(r.err.find("GRANT CREATE ON SCHEMA \"public\" TO " + QuotePgIdent(role)), std::string::npos) << r.err;
  ExpectNothingWritten(db);
}

TEST_F(OperatorTest, RoleThatCannotSetReplicationRoleIsFoundBeforeAnythingIsWritten) {
  const std::string db = MakeSqlite(dir_, "app.db", kSmall);
  const std::string role = "norepl_" + std::to_string(::getpid());
  const std::string uri = MakeRole("norepl");
  Pg(target_, "GRANT CREATE ON DATABASE " + QuotePgIdent(Database()) + " TO " + QuotePgIdent(role) +
                  "; GRANT CREATE ON SCHEMA public TO " + QuotePgIdent(role));
  RunResult r = RunSlipway({"snapshot", "--source", db, "--target", uri});
  EXPECT_EQ(r.exit_code, 12) << r.out << r.err;
  EXPECT_NE(r.err.find("session_replication_role"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("GRANT SET ON PARAMETER session_replication_role TO " + QuotePgIdent(role)), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("query: ERROR"), std::string::npos) << r.err;
  ExpectNothingWritten(db);
}

// Another connection's exclusive transaction (a rollback-journal file: it
// keeps readers out too) is not an unreachable target.
TEST_F(OperatorTest, SourceLockedByAnotherWriterHasItsOwnCode) {
  const std::string db = MakeSqlite(dir_, "journal.db",
                                    "PRAGMA journal_mode = DELETE; CREATE TABLE items (id INTEGER PRIMARY KEY);");
  auto holder = Db::Open(db, Db::Mode::kReadWrite);
  ASSERT_TRUE(holder.ok());
  ASSERT_TRUE(holder->Exec("BEGIN EXCLUSIVE; INSERT INTO items VALUES (1)").ok());
  RunResult r = RunSlipway({"plan", "--source", db});
  EXPECT_EQ(r.exit_code, 13) << r.out << r.err;
  EXPECT_NE(r.err.find("locked"), std::string::npos) << r.err;
  ASSERT_TRUE(holder->Exec("ROLLBACK").ok());
  EXPECT_EQ(RunSlipway({"plan", "--source", db}).exit_code, 0);
}

// A cutover while another connection's exclusive transaction holds the
// SQLite write lock (its first write to the file, or every freeze attempt,
// waits in vain).
TEST_F(OperatorTest, CutoverBlockedByAnExclusiveTransactionHasTheLockedCode) {
  const std::string db = MakeSqlite(dir_, "app.db", kSmall);
  ASSERT_EQ(RunSlipway({"snapshot", "--source", db, "--target", target_}).exit_code, 0);
  ASSERT_EQ(RunSlipway({"stream", "--source", db, "--target", target_, "--until-caught-up"}).exit_code, 0);
  auto holder = Db::Open(db, Db::Mode::kReadWrite);
  ASSERT_TRUE(holder.ok());
  ASSERT_TRUE(holder->Exec("BEGIN EXCLUSIVE; INSERT INTO items VALUES (4, 'd')").ok());
  RunResult r = RunSlipway(
      {"cutover", "--source", db, "--target", target_, "--dry-run", "--max-freeze", "200ms", "--attempts", "2"});
  EXPECT_EQ(r.exit_code, 13) << r.out << r.err;
  EXPECT_NE(r.err.find("locked"), std::string::npos) << r.err;
  ASSERT_TRUE(holder->Exec("ROLLBACK").ok());
}

TEST_F(OperatorTest, StreamAndStatusWithoutCaptureHaveTheirOwnCode) {
  const std::string db = MakeSqlite(dir_, "app.db", kSmall);
  RunResult r = RunSlipway({"stream", "--source", db, "--target", target_, "--until-caught-up"});
  EXPECT_EQ(r.exit_code, 14) << r.out << r.err;
  EXPECT_NE(r.err.find("capture is not installed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("slipway snapshot"), std::string::npos) << r.err;
  // A file that is not there is still 4.
  EXPECT_EQ(RunSlipway({"stream", "--source", dir_ + "/absent.db", "--target", target_}).exit_code, 4);

  // Before any snapshot there is nothing to report: status is fine.
  EXPECT_EQ(RunSlipway({"status", "--source", db, "--target", target_}).exit_code, 0);
  // The target follows another file; this one has no capture.
  const std::string other = MakeSqlite(dir_, "other.db", kSmall);
  ASSERT_EQ(RunSlipway({"snapshot", "--source", other, "--target", target_}).exit_code, 0);
  RunResult st = RunSlipway({"status", "--source", db, "--target", target_});
  EXPECT_EQ(st.exit_code, 14) << st.out << st.err;
  EXPECT_NE(st.err.find("capture is not installed"), std::string::npos) << st.err;
  RunResult js = RunSlipway({"status", "--source", db, "--target", target_, "--json"});
  EXPECT_EQ(js.exit_code, 14) << js.err;
  EXPECT_NE(js.out.find("\"capture_installed\": false"), std::string::npos) << js.out;
  EXPECT_EQ(RunSlipway({"status", "--source", other, "--target", target_}).exit_code, 0);
}

TEST_F(OperatorTest, TargetFromAFileOrTheEnvironment) {
  const std::string db = MakeSqlite(dir_, "app.db", kSmall);
  const std::string file = dir_ + "/target";
  { std::ofstream(file) << target_ << "\n"; }
  RunResult from_file = RunSlipway({"status", "--source", db, "--target-file", file, "--json"});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_NE(from_file.out.find("\"phase\": \"none\""), std::string::npos) << from_file.out;

  RunResult from_env = RunSlipway({"status", "--source", db, "--json"}, {"SLIPWAY_TARGET=" + target_});
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;

  RunResult snap = RunSlipway({"snapshot", "--source", db, "--target-file", file});
  EXPECT_EQ(snap.exit_code, 0) << snap.err;
  RunResult verify = RunSlipway({"verify", "--source", db}, {"SLIPWAY_TARGET=" + target_});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  RunResult both = RunSlipway({"status", "--source", db, "--target", target_, "--target-file", file});
  EXPECT_EQ(both.exit_code, 2) << both.err;
  RunResult none = RunSlipway({"status", "--source", db}, {"SLIPWAY_TARGET="});
  EXPECT_EQ(none.exit_code, 2) << none.err;
  EXPECT_NE(none.err.find("SLIPWAY_TARGET"), std::string::npos) << none.err;
  RunResult missing = RunSlipway({"status", "--source", db, "--target-file", dir_ + "/absent"});
  EXPECT_EQ(missing.exit_code, 10) << missing.err;
}

// postgres:Se@kr1t@host: libpq would take "kr1t@host" for the host and say
// so in its error. Refused before connecting, with no piece of the password.
TEST_F(OperatorTest, UnencodedAtInThePasswordIsRefusedWithoutLeakingIt) {
  const std::string db = MakeSqlite(dir_, "app.db", kSmall);
  const std::string uri = "postgresql://postgres:Se@kr1t@127.0.0.1:1/app";
  for (const char* command : {"status", "stream", "snapshot"}) {
    RunResult r = RunSlipway({command, "--source", db, "--target", uri});
    EXPECT_EQ(r.exit_code, 2) << command << ": " << r.err;
    EXPECT_NE(r.err.find("%40"), std::string::npos) << command << ": " << r.err;
    EXPECT_EQ(r.err.find("kr1t"), std::string::npos) << command << ": " << r.err;
    EXPECT_EQ(r.out.find("kr1t"), std::string::npos) << command << ": " << r.out;
    EXPECT_EQ(r.err.find("Se@"), std::string::npos) << command << ": " << r.err;
  }
}

}  // namespace
}  // namespace slipway::testing
