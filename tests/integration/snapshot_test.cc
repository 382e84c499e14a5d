// `slipway snapshot` end to end: real SQLite files (some written to by another
// process during the copy), a real PostgreSQL, crashes at named failpoints.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/progress.h"
#include "replicator/table_copy.h"
#include "replicator/table_sql.h"
#include "schema/codec.h"
#include "schema/plan.h"
#include "tests/harness/sqlite_fixture.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

int64_t PgCount(const std::string& uri, const std::string& table) {
  auto c = PgConn::Connect(uri);
  EXPECT_TRUE(c.ok());
  auto r = c->Exec("SELECT count(*) FROM " + QuotePgIdent(table));
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::stoll(r->Str(0, 0)) : -1;
}

int64_t SqliteCount(const std::string& path, const std::string& table) {
  auto db = Db::Open(path, Db::Mode::kReadOnly);
  EXPECT_TRUE(db.ok());
  auto n = db->QueryInt("SELECT count(*) FROM " + QuoteSqliteIdent(table));
  EXPECT_TRUE(n.ok());
  return n.ok() ? n->value_or(-1) : -1;
}

RunResult Verify(const std::string& db, const std::string& target) {
  return RunSlipway({"verify", "--source", db, "--target", target});
}

// The corner cases the plan handles, in one WAL database.
std::string CornerCaseDb(const std::string& dir) {
  return MakeSqlite(dir, "corners.db", R"sql(
    PRAGMA journal_mode=WAL;
    CREATE TABLE kv (k BLOB PRIMARY KEY, v TEXT) WITHOUT ROWID;
    INSERT INTO kv VALUES (x'00ff', 'a'), (x'01', 'b'), (x'746578', CAST(x'610062' AS TEXT));
    CREATE TABLE comp (a TEXT, b INTEGER, c REAL, PRIMARY KEY (a, b)) WITHOUT ROWID;
    INSERT INTO comp VALUES ('x', 1, 1.5), ('x', 2, 1e300), ('y', -5, 9e999), ('tab	and
newline\back', 3, NULL);
    CREATE TABLE nokey (a, b TEXT, g TEXT GENERATED ALWAYS AS (upper(b)) VIRTUAL);
    INSERT INTO nokey (a, b) VALUES (1, 'one'), ('two', 'two'), (NULL, NULL), (1, 'one');
    CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB);
    INSERT INTO blobs VALUES (1, randomblob(3000000)), (2, x''), (3, NULL);
    CREATE TABLE bad (id INTEGER PRIMARY KEY, name TEXT);
    INSERT INTO bad VALUES (1, 'ok'), (2, CAST(x'ff' AS TEXT));
    CREATE TABLE typed (id INTEGER PRIMARY KEY AUTOINCREMENT, flag BOOLEAN, at DATETIME, day DATE,
      zoned TEXT, price DECIMAL(8,2), doc JSON, qty INTEGER, epoch DATETIME, u TEXT);
    INSERT INTO typed (flag, at, day, zoned, price, doc, qty, epoch, u) VALUES
      (1, '2024-01-02T03:04:05.123', '2024-02-29', '2024-01-02 03:04:05+05:30', 19.99, '{"a": [1, 2]}', 5, 1700000000,
       'A0B1C2D3-0000-4000-8000-00000000000F'),
      (0, '1999-12-31T23:59:59.000', '0001-01-01', '2024-06-30 23:00:00+05:30', -0.5, '{}', 'many', 0,
       'A0B1C2D3-0000-4000-8000-000000000010'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    DELETE FROM typed WHERE id = 3;
  )sql");
}

using SnapshotTest = TargetTest;

TEST_F(SnapshotTest, CornerCasesArriveEqual) {
  std::string db = CornerCaseDb(dir_);
  RunResult plan = RunSlipway({"plan", "--source", db, "--target", target_});
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  RunResult r = RunSlipway({"snapshot", "--source", db, "--target", target_, "--chunk-rows", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* t : {"kv", "comp", "nokey", "blobs", "bad", "typed"}) EXPECT_EQ(PgCount(target_, t), SqliteCount(db, t)) << t;
  RunResult v = Verify(db, target_);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // Identity continues after the largest id SQLite handed out.
  auto c = PgConn::Connect(target_);
  ASSERT_TRUE(c.ok());
  auto idx = c->Exec("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'");
  ASSERT_TRUE(idx.ok());
  EXPECT_GE(std::stoi(idx->Str(0, 0)), 6);  // every table has its key
  auto state = c->Exec("SELECT count(*) FROM slipway.tables WHERE state = 'done'");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->Str(0, 0), "6");
}

TEST_F(SnapshotTest, SecondRunCopiesNothingAgain) {
  std::string db = CornerCaseDb(dir_);
  ASSERT_EQ(RunSlipway({"snapshot", "--source", db, "--target", target_}).exit_code, 0);
  RunResult again = RunSlipway({"snapshot", "--source", db, "--target", target_, "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  json last = json::parse(again.out.substr(again.out.rfind('{')));
  EXPECT_EQ(last["tables_copied"], 0);
  EXPECT_EQ(last["tables_done_before"], 6);
  EXPECT_EQ(PgCount(target_, "nokey"), 4);
}

TEST_F(SnapshotTest, RefusesWhatItMustNotTouch) {
  std::string rollback_journal = MakeSqlite(dir_, "delete.db", "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);");
  RunResult not_wal = RunSlipway({"snapshot", "--source", rollback_journal, "--target", target_});
  EXPECT_EQ(not_wal.exit_code, 2);
  EXPECT_NE(not_wal.err.find("journal_mode=WAL"), std::string::npos) << not_wal.err;
  EXPECT_EQ(RunSlipway({"snapshot", "--source", rollback_journal, "--target", target_, "--set-wal"}).exit_code, 0);

  // A table that is in the way and not ours.
  std::string other = FreshDatabase();
  auto c = PgConn::Connect(other);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Run("CREATE TABLE t (id bigint); INSERT INTO t VALUES (42)").ok());
  std::string db2 = MakeSqlite(dir_, "wal.db", "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);");
  RunResult in_the_way = RunSlipway({"snapshot", "--source", db2, "--target", other});
  EXPECT_EQ(in_the_way.exit_code, 8) << in_the_way.err;
  EXPECT_NE(in_the_way.err.find("public.t already exists"), std::string::npos) << in_the_way.err;
  auto still = c->Exec("SELECT id FROM t");
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->Str(0, 0), "42");

  // Another source's migration in the target.
  RunResult foreign = RunSlipway({"snapshot", "--source", db2, "--target", target_});
  EXPECT_EQ(foreign.exit_code, 8) << foreign.err;
  EXPECT_NE(foreign.err.find("migration"), std::string::npos);

  // A blocked plan copies nothing.
  std::string blocked = MakeSqlite(dir_, "blocked.db", "PRAGMA journal_mode=WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v); INSERT INTO t VALUES ('a', x'01'), ('b', 'x');");
  std::string fresh = FreshDatabase();
  EXPECT_EQ(RunSlipway({"snapshot", "--source", blocked, "--target", fresh}).exit_code, 3);
  auto f = PgConn::Connect(fresh);
  ASSERT_TRUE(f.ok());
  auto n = f->Exec("SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', 'slipway')");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->Str(0, 0), "0");
}

TEST_F(SnapshotTest, ExistingTargetSchemaIsLoadedNotRedefined) {
  std::string db = MakeSqlite(dir_, "ex.db", R"sql(
    PRAGMA journal_mode=WAL;
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, active BOOLEAN);
    INSERT INTO users VALUES (1, 'a', 1), (2, 'b', 0);
  )sql");
  auto c = PgConn::Connect(target_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Run("CREATE TABLE users (id integer PRIMARY KEY, name varchar(20), active smallint, "
                     "created timestamptz DEFAULT now())").ok());
  RunResult r = RunSlipway({"snapshot", "--source", db, "--target", target_, "--target-schema", "existing"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = c->Exec("SELECT id, name, active FROM users ORDER BY id");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->Rows(), 2);
  EXPECT_EQ(rows->Str(1, 1), "b");
  EXPECT_EQ(rows->Str(0, 2), "1");
  auto type = c->Exec("SELECT data_type FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'name'");
  ASSERT_TRUE(type.ok());
  EXPECT_EQ(type->Str(0, 0), "character varying");
}

TEST_F(SnapshotTest, CleanupRemovesOnlySlipwayObjects) {
  std::string db = CornerCaseDb(dir_);
  ASSERT_EQ(RunSlipway({"snapshot", "--source", db, "--target", target_}).exit_code, 0);
  int64_t before = SqliteCount(db, "typed");
  RunResult r = RunSlipway({"cleanup", "--source", db, "--target", target_, "--drop-tables"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = Db::Open(db, Db::Mode::kReadOnly);
  ASSERT_TRUE(s.ok());
  auto left = s->QueryInt("SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_slipway%' ESCAPE '\\'");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->value_or(-1), 0);
  EXPECT_EQ(SqliteCount(db, "typed"), before);
  auto c = PgConn::Connect(target_);
  ASSERT_TRUE(c.ok());
  auto n = c->Exec("SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', 'slipway')");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->Str(0, 0), "0");
}

// A crash at each named point, then a second run: the result equals the
// source, with no row copied twice (every table has its primary key).
TEST_F(SnapshotTest, KilledAtEveryFailpointResumesToEqual) {
  const std::vector<std::string> points = {
      "capture.before_commit=crash",        "snapshot.after_capture=crash",
      "snapshot.before_setup_commit=crash", "snapshot.after_setup=crash",
      "snapshot.before_table_start_commit=crash@2", "snapshot.before_chunk_commit=crash@3",
      "snapshot.after_chunk_commit=crash@5", "snapshot.before_table_loaded=crash",
      "snapshot.before_foreign_keys=crash",
  };
  std::string gen = MakeSqlite(dir_, "unused.db", "");
  for (const auto& fp : points) {
    SCOPED_TRACE(fp);
    std::string case_dir = TempDir();
    std::string db = case_dir + "/rt.db";
    RunResult g = RunProgram(SLIPWAY_GEN_RACETIMING, {"--out", db, "--rows", "20000", "--seed", "7"});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    std::string target = FreshDatabase();
    RunResult crashed = RunSlipway({"snapshot", "--source", db, "--target", target, "--chunk-rows", "1000", "--jobs", "2"},
                                   {"SLIPWAY_FAILPOINTS=" + fp});
    EXPECT_EQ(crashed.exit_code, 128 + SIGKILL) << crashed.err;
    RunResult resumed = RunSlipway({"snapshot", "--source", db, "--target", target, "--chunk-rows", "1000"});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    for (const char* t : {"events", "races", "participants", "results"}) {
      EXPECT_EQ(PgCount(target, t), SqliteCount(db, t)) << t;
    }
    RunResult v = Verify(db, target);
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }
}

// Applies, per table, the changelog rows after the table's start position by
// re-reading the row's current state in SQLite, as the stream does.
void CatchUp(const std::string& db_path, const std::string& target) {
  auto pg = PgConn::Connect(target);
  ASSERT_TRUE(pg.ok());
  auto m = pg->Exec("SELECT plan::text FROM slipway.migration");
  ASSERT_TRUE(m.ok());
  auto plan = schema::PlanFromJson(json::parse(m->Str(0, 0)));
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  auto db = Db::Open(db_path, Db::Mode::kReadOnly);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(pg->Run("SET session_replication_role = replica; BEGIN").ok());
  for (const auto& tm : plan->tables) {
    auto st = pg->ExecParams("SELECT tid, start_seq FROM slipway.tables WHERE source_table = $1", {tm.source});
    ASSERT_TRUE(st.ok());
    std::string tid = st->Str(0, 0), start = st->Str(0, 1);
    replicator::TableSql sql = replicator::BuildTableSql(tm, plan->options.pg_schema);
    std::string kcols;
    for (size_t i = 0; i < sql.sqlite_key.size(); ++i) kcols += (i ? ", " : "") + std::string("k") + std::to_string(i + 1);
    auto keys = db->Prepare("SELECT DISTINCT " + kcols + " FROM _slipway_changelog WHERE tid = " + tid + " AND seq > " + start);
    ASSERT_TRUE(keys.ok());
    while (*keys->Step()) {
      std::vector<PgParam> kp;
      std::string where, sqlite_where;
      for (size_t i = 0; i < sql.sqlite_key.size(); ++i) {
        schema::SqlValue v = schema::SqlValue::FromColumn(keys->get(), static_cast<int>(i));
        std::string text;
        if (sql.rowid_keyed) {
          text = std::to_string(v.i);
        } else {
          ASSERT_TRUE(schema::EncodeForPg(v, *tm.FindSource(tm.key_source[i]), &text).ok());
        }
        kp.push_back(text);
        where += (i ? " AND " : "") + QuotePgIdent(tm.key_target[i]) + " = $" + std::to_string(i + 1);
        sqlite_where += (i ? " AND " : "") + sql.sqlite_key[i] + " = ?";
      }
      ASSERT_TRUE(pg->ExecParams("DELETE FROM " + sql.pg_table + " WHERE " + where, kp).ok());
      std::string select = "SELECT ";
      if (sql.rowid_keyed) select += sql.sqlite_key[0] + ", ";
      for (size_t i = 0; i < sql.sqlite_columns.size(); ++i) select += (i ? ", " : "") + sql.sqlite_columns[i];
      auto row = db->Prepare(select + " FROM " + sql.sqlite_table + " WHERE " + sqlite_where);
      ASSERT_TRUE(row.ok());
      for (size_t i = 0; i < sql.sqlite_key.size(); ++i) row->BindValue(static_cast<int>(i + 1), sqlite3_column_value(keys->get(), static_cast<int>(i)));
      if (!*row->Step()) continue;
      std::vector<PgParam> vals;
      std::string cols, marks;
      int off = sql.rowid_keyed ? 1 : 0;
      if (sql.rowid_keyed) vals.push_back(std::to_string(row->Int(0)));
      for (size_t i = 0; i < sql.column_index.size(); ++i) {
        schema::SqlValue v = schema::SqlValue::FromColumn(row->get(), off + static_cast<int>(i));
        if (v.type == SQLITE_NULL) {
          vals.push_back(std::nullopt);
          continue;
        }
        std::string text;
        ASSERT_TRUE(schema::EncodeForPg(v, tm.columns[static_cast<size_t>(sql.column_index[i])], &text).ok());
        vals.push_back(text);
      }
      for (size_t i = 0; i < sql.pg_columns.size(); ++i) {
        cols += (i ? ", " : "") + sql.pg_columns[i];
        marks += (i ? ", $" : "$") + std::to_string(i + 1);
      }
      auto ins = pg->ExecParams("INSERT INTO " + sql.pg_table + " (" + cols + ") VALUES (" + marks + ")", vals);
      ASSERT_TRUE(ins.ok()) << ins.status().message();
    }
  }
  ASSERT_TRUE(pg->Run("COMMIT").ok());
}

TEST_F(SnapshotTest, CopyPlusChangelogReproducesTheSourceUnderWrites) {
  std::string db = dir_ + "/rt.db";
  RunResult g = RunProgram(SLIPWAY_GEN_RACETIMING, {"--out", db, "--rows", "60000", "--seed", "3"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  // Capture must be on before the writer starts for the changelog to hold
  // every change after each table's start; the snapshot installs it first,
  // so start the writer right away and let it run through the copy.
  int writer = StartProgram(SLIPWAY_APP_WRITER, {"--db", db, "--rate", "400", "--seconds", "0", "--rows-per-tx", "5",
                                                 "--seed", "11"},
                            dir_);
  RunResult r = RunSlipway({"snapshot", "--source", db, "--target", target_, "--chunk-rows", "2000", "--jobs", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(writer, SIGTERM);
  EXPECT_EQ(WaitProgram(writer), 0);
  // Writes happened during and after the copy.
  auto s = Db::Open(db, Db::Mode::kReadOnly);
  ASSERT_TRUE(s.ok());
  auto changes = s->QueryInt("SELECT count(*) FROM _slipway_changelog");
  ASSERT_TRUE(changes.ok());
  EXPECT_GT(changes->value_or(0), 100);
  CatchUp(db, target_);
  RunResult v = Verify(db, target_);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// Foreign keys: NOT VALID after the copy, validated by the stream in the
// background (or by the snapshot itself with --validate-fks).
TEST_F(SnapshotTest, ForeignKeysAreValidatedOffTheCopysCriticalPath) {
  std::string db = dir_ + "/rt.db";
  ASSERT_EQ(RunProgram(SLIPWAY_GEN_RACETIMING, {"--out", db, "--rows", "5000"}).exit_code, 0);
  ASSERT_EQ(RunSlipway({"snapshot", "--source", db, "--target", target_}).exit_code, 0);
  auto c = PgConn::Connect(target_);
  ASSERT_TRUE(c.ok());
  const char* q = "SELECT count(*) FILTER (WHERE convalidated), count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace";
  auto before = c->Exec(q);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->Str(0, 0), "0");
  EXPECT_EQ(before->Str(0, 1), "3");
  ASSERT_EQ(RunSlipway({"stream", "--source", db, "--target", target_, "--until-caught-up"}).exit_code, 0);
  auto after = c->Exec(q);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->Str(0, 0), "3");

  std::string db2 = dir_ + "/rt2.db";
  ASSERT_EQ(RunProgram(SLIPWAY_GEN_RACETIMING, {"--out", db2, "--rows", "5000"}).exit_code, 0);
  std::string target2 = FreshDatabase();
  ASSERT_EQ(RunSlipway({"snapshot", "--source", db2, "--target", target2, "--validate-fks"}).exit_code, 0);
  auto c2 = PgConn::Connect(target2);
  ASSERT_TRUE(c2.ok());
  auto now = c2->Exec(q);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->Str(0, 0), "3");
}

// Every corpus database the plan accepts arrives equal.
TEST_F(SnapshotTest, EveryCorpusDatabaseThePlanAcceptsArrivesEqual) {
  namespace fs = std::filesystem;
  int copied = 0;
  for (const auto& e : fs::recursive_directory_iterator(CorpusPath(""))) {
    if (!e.is_regular_file() || (e.path().extension() != ".db" && e.path().extension() != ".sqlite")) continue;
    SCOPED_TRACE(e.path().string());
    std::string case_dir = TempDir();
    std::string db = CopyFile(e.path().string(), case_dir);
    std::string target = FreshDatabase();
    if (RunSlipway({"plan", "--source", db, "--target", target}).exit_code != 0) continue;
    RunResult s = RunSlipway({"snapshot", "--source", db, "--target", target, "--set-wal", "--chunk-rows", "500"});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    RunResult v = Verify(db, target);
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    ++copied;
  }
  EXPECT_GE(copied, 25);
}

// The progress of a table counts every row of every chunk once its COPY has
// ended, also the rows after the chunk's last flush (a chunk smaller than one
// flush has only those).
TEST_F(SnapshotTest, ProgressCountsTheRowsOfEveryChunkCopied) {
  std::string db = MakeSqlite(dir_, "pr.db", R"sql(
    PRAGMA journal_mode=WAL;
    CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
    INSERT INTO t SELECT i, 'row ' || i FROM n;
  )sql");
  RunResult snap = RunSlipway({"snapshot", "--source", db, "--target", target_});
  ASSERT_EQ(snap.exit_code, 0) << snap.err;
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  auto m = pg->Exec("SELECT plan::text FROM slipway.migration");
  ASSERT_TRUE(m.ok());
  auto plan = schema::PlanFromJson(json::parse(m->Str(0, 0)));
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const schema::TableMapping& tm = plan->tables.at(0);
  replicator::TableSql sql = replicator::BuildTableSql(tm, plan->options.pg_schema);
  ASSERT_TRUE(pg->Run("SET session_replication_role = replica; DELETE FROM " + sql.pg_table).ok());
  auto src = Db::Open(db, Db::Mode::kReadOnly);
  ASSERT_TRUE(src.ok());
  std::string select = "SELECT " + sql.chunk_key[0];
  if (sql.rowid_keyed) select += ", " + sql.sqlite_key[0];
  for (const auto& c : sql.sqlite_columns) select += ", " + c;
  select += " FROM " + sql.sqlite_table + " WHERE " + sql.chunk_key[0] + " BETWEEN ? AND ?";
  replicator::TableProgress progress;
  int64_t expected = 0;
  for (auto [lo, hi] : std::vector<std::pair<int64_t, int64_t>>{{1, 400}, {401, 1000}}) {
    auto st = src->Prepare(select);
    ASSERT_TRUE(st.ok()) << st.status().message();
    st->Bind(1, lo).Bind(2, hi);
    ASSERT_TRUE(pg->CopyBegin(replicator::BinaryCopySql(sql)).ok());
    auto rows = replicator::StreamRows(*st, 1, *pg, tm, sql, &progress);
    ASSERT_TRUE(rows.ok()) << rows.status().message();
    EXPECT_EQ(*rows, hi - lo + 1);
    expected += hi - lo + 1;
    EXPECT_EQ(progress.rows.load(), expected);
  }
  EXPECT_EQ(PgCount(target_, "t"), 1000);
}

// A saved plan is refused, naming the change, once the source schema moved.
TEST_F(SnapshotTest, SavedPlanRefusedAfterSchemaChange) {
  std::string db = MakeSqlite(dir_, "p.db", "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT);");
  std::string plan = dir_ + "/plan.json";
  ASSERT_EQ(RunSlipway({"plan", "--source", db, "--out", plan}).exit_code, 0);
  {
    auto d = Db::Open(db, Db::Mode::kReadWrite);
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE(d->Exec("ALTER TABLE t ADD COLUMN added_later INTEGER").ok());
  }
  RunResult r = RunSlipway({"snapshot", "--source", db, "--target", target_, "--plan", plan});
  EXPECT_EQ(r.exit_code, 9) << r.err;
  EXPECT_NE(r.err.find("t.added_later"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace slipway::testing
