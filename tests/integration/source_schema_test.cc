// What the stream does when the source's schema moves under it: VACUUM
// (rowids renumbered, no trigger fired) while streaming, while stopped and
// before a cutover; schema changes the stream cannot carry, refused whole.
#include "tests/integration/stream_fixture.h"

namespace slipway::testing {
namespace {

class SourceSchemaTest : public StreamTest {
 protected:
  // Statements through the sqlite3 shell: a process of its own, like the app.
  RunResult Sqlite(const std::string& sql) { return RunProgram("/usr/bin/sqlite3", {"-cmd", ".timeout 10000", db_, sql}); }

  void CreateAndSnapshot() {
    std::string sql =
        "PRAGMA journal_mode=WAL; CREATE TABLE nokey (a INTEGER, b TEXT); "
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT, n INTEGER); "
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000) "
        "INSERT INTO nokey (a, b) SELECT i, 'row ' || i FROM c; "
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 50) "
        "INSERT INTO items (id, v, n) SELECT i, 'item ' || i, i FROM c;";
    RunResult r = Sqlite(sql);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    RunResult snap = RunSlipway({"snapshot", "--source", db_, "--target", target_});
    ASSERT_EQ(snap.exit_code, 0) << snap.out << snap.err;
  }

  RunResult CatchUp() { return RunSlipway({"stream", "--source", db_, "--target", target_, "--until-caught-up"}); }

  void ExpectEqual() {
    RunResult v = RunSlipway({"verify", "--source", db_, "--target", target_, "--json"});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    json j = json::parse(v.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << v.out;
    EXPECT_TRUE(j["equal"].get<bool>()) << v.out;
    for (const auto& t : j["tables"]) {
      EXPECT_EQ(t["mismatched"].get<int64_t>(), 0) << t.dump();
      EXPECT_EQ(t["source_rows"], t["target_rows"]) << t.dump();
    }
  }

  std::vector<std::string> TargetColumns(const std::string& table) {
    auto pg = PgConn::Connect(target_);
    EXPECT_TRUE(pg.ok()) << pg.status().message();
    if (!pg.ok()) return {};
    auto r = pg->ExecParams("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND "
                            "table_name = $1 ORDER BY ordinal_position",
                            {table});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? ColumnOf(*r, 0) : std::vector<std::string>{};
  }

  // The stream refuses the schema change made by `ddl`: exit 9, every part
  // of the change named, and the target's tables as before.
  void ExpectRefused(const std::string& ddl, const std::vector<std::string>& named) {
    ASSERT_NO_FATAL_FAILURE(CreateAndSnapshot());
    RunResult first = CatchUp();
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const auto items_before = TargetColumns("items");
    const auto nokey_before = TargetColumns("nokey");
    auto stream = StartStream();
    Sleep(500);
    // One transaction: the stream sees all of the change or none of it.
    RunResult r = Sqlite("UPDATE items SET n = n + 1 WHERE id = 3; BEGIN; " + ddl +
                         "; COMMIT; UPDATE nokey SET b = b || '!' WHERE a = 4;");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(stream->Wait(20000), kSchemaChangedExit) << stream->Err();
    for (const auto& n : named) EXPECT_NE(stream->Err().find(n), std::string::npos) << n << "\n" << stream->Err();
    EXPECT_EQ(stream->Err().find("carried over new"), std::string::npos) << stream->Err();
    EXPECT_EQ(TargetColumns("items"), items_before);
    EXPECT_EQ(TargetColumns("nokey"), nokey_before);
    // A restart refuses the same way, and still changes nothing.
    RunResult again = CatchUp();
    EXPECT_EQ(again.exit_code, kSchemaChangedExit) << again.err;
    for (const auto& n : named) EXPECT_NE(again.err.find(n), std::string::npos) << n << "\n" << again.err;
    EXPECT_EQ(TargetColumns("items"), items_before);
    EXPECT_EQ(TargetColumns("nokey"), nokey_before);
  }
};

// VACUUM renumbers the rowids of `nokey` while the stream runs and a writer
// keeps changing it: each time the stream copies the table whole in the
// apply transaction, so no change lands on the wrong row.
TEST_F(SourceSchemaTest, VacuumWhileStreamingKeepsRowidTablesEqual) {
  ASSERT_NO_FATAL_FAILURE(CreateAndSnapshot());
  auto stream = StartStream();
  std::string script;
  for (int k = 0; k < 5; ++k) {
    const std::string ks = std::to_string(k);
    script += "sqlite3 -cmd '.timeout 10000' " + db_ + " \"DELETE FROM nokey WHERE a % 5 = " + ks +
              " AND a % 2 = 0; UPDATE items SET n = n + 1 WHERE id = " + std::to_string(k + 1) +
              "\" || exit 1; sleep 0.3; "
              "sqlite3 -cmd '.timeout 10000' " + db_ + " 'VACUUM' || exit 2; "
              "sqlite3 -cmd '.timeout 10000' " + db_ + " \"UPDATE nokey SET b = 'changed " + ks +
              "' WHERE a IN (" + std::to_string(101 + k) + ", " + std::to_string(997 - k) +
              "); INSERT INTO nokey (a, b) VALUES (" + std::to_string(2000 + k) + ", 'new')\" || exit 3; sleep 0.3; ";
  }
  Proc writer("/usr/bin/sh", {"-c", script});
  EXPECT_EQ(writer.Wait(60000), 0) << writer.Err();
  Sleep(1000);
  EXPECT_TRUE(stream->Running()) << stream->Err();
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  EXPECT_NE(stream->Err().find("VACUUM renumbered rowids: table nokey copied whole"), std::string::npos)
      << stream->Err();
  // Tables with a key of their own are not copied again.
  EXPECT_EQ(stream->Err().find("table items copied whole"), std::string::npos) << stream->Err();
  RunResult caught = CatchUp();
  ASSERT_EQ(caught.exit_code, 0) << caught.err;
  ExpectEqual();
}

// VACUUM while no stream runs: the stream, started later, finds the moved
// schema_version against the one the target keeps, before it applies anything.
TEST_F(SourceSchemaTest, VacuumWhileStoppedIsFoundAtStart) {
  ASSERT_NO_FATAL_FAILURE(CreateAndSnapshot());
  ASSERT_EQ(Sqlite("DELETE FROM nokey WHERE a % 2 = 0").exit_code, 0);
  RunResult r1 = CatchUp();
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  ASSERT_EQ(Sqlite("VACUUM").exit_code, 0);
  ASSERT_EQ(Sqlite("UPDATE nokey SET b = 'one' WHERE a = 301; UPDATE nokey SET b = 'two' WHERE a = 999;").exit_code, 0);
  RunResult r2 = CatchUp();
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_NE(r2.err.find("VACUUM renumbered rowids: table nokey copied whole"), std::string::npos) << r2.err;
  ExpectEqual();
  // Nothing moved since: the next start copies nothing whole.
  RunResult r3 = CatchUp();
  ASSERT_EQ(r3.exit_code, 0) << r3.err;
  EXPECT_EQ(r3.err.find("copied whole"), std::string::npos) << r3.err;
}

// The cutover's catch-up (no stream running) finds a VACUUM the target has
// not seen and copies the rowid-keyed table whole before its verify: the app
// lands on PostgreSQL with every row where SQLite has it.
TEST_F(SourceSchemaTest, CutoverAfterVacuumCopiesRowidTablesWhole) {
  ASSERT_NO_FATAL_FAILURE(CreateAndSnapshot());
  ASSERT_EQ(Sqlite("DELETE FROM nokey WHERE a % 2 = 0").exit_code, 0);
  RunResult caught = CatchUp();
  ASSERT_EQ(caught.exit_code, 0) << caught.err;
  ASSERT_EQ(Sqlite("VACUUM").exit_code, 0);
  ASSERT_EQ(Sqlite("UPDATE nokey SET b = 'one' WHERE a = 301; UPDATE nokey SET b = 'two' WHERE a = 999;").exit_code, 0);
  const std::string env = dir_ + "/app.env";
  std::ofstream(env) << "DATABASE_URL=sqlite://" << db_ << "\n";
  RunResult r = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", env, "--flip-key",
                            "DATABASE_URL", "--verify", "full"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("VACUUM renumbered rowids: table nokey copied whole"), std::string::npos) << r.err;
  const std::string rows = "SELECT group_concat(a || ':' || b, ',') FROM (SELECT a, b FROM nokey ORDER BY a)";
  auto src = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(src.ok()) << src.status().message();
  auto want = src->QueryText(rows);
  ASSERT_TRUE(want.ok()) << want.status().message();
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok()) << pg.status().message();
  auto got = pg->Exec("SELECT string_agg(a || ':' || b, ',' ORDER BY a) FROM nokey");
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->Str(0, 0), want->value_or(""));
}

TEST_F(SourceSchemaTest, RenamedColumnIsRefusedWhole) {
  ExpectRefused("ALTER TABLE items RENAME COLUMN v TO v2",
                {"column items.v was dropped or renamed", "new column items.v2", "nothing of this change was applied"});
}

TEST_F(SourceSchemaTest, RenamedTableIsRefusedWhole) {
  ExpectRefused("ALTER TABLE items RENAME TO things", {"table items was dropped or renamed", "new table things"});
  EXPECT_TRUE(TargetColumns("things").empty());
}

TEST_F(SourceSchemaTest, DroppedColumnWithANewOneIsRefusedWhole) {
  ExpectRefused("ALTER TABLE items DROP COLUMN v; ALTER TABLE items ADD COLUMN w TEXT",
                {"column items.v was dropped or renamed", "new column items.w"});
}

TEST_F(SourceSchemaTest, SeveralChangesAtOnceAreRefusedWhole) {
  ExpectRefused("ALTER TABLE nokey ADD COLUMN c TEXT; CREATE TABLE extra (id INTEGER PRIMARY KEY); "
                "ALTER TABLE items DROP COLUMN n",
                {"column items.n was dropped or renamed", "new column nokey.c", "new table extra"});
  EXPECT_TRUE(TargetColumns("extra").empty());
}

}  // namespace
}  // namespace slipway::testing
