// The reverse stream after a cutover, beyond rows: the app's full-text
// indexes kept in step, constraints SQLite enforces carried into PostgreSQL
// (or the stream stopping at a row SQLite refuses, naming it), and schema
// changes made in PostgreSQL followed or stopped at. Real SQLite files, the
// real binary, the harness's PostgreSQL.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/sqlite.h"
#include "cutover/key_verify.h"
#include "replicator/capture.h"
#include "replicator/pg_state.h"
#include "replicator/reverse_applier.h"
#include "replicator/session.h"
#include "replicator/sqlite_sink.h"
#include "schema/plan.h"
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

  // One reverse round applied to the file from the cutover's position, and
  // the comparison of the keys PostgreSQL touched in it with the file.
  struct AppliedRound {
    std::optional<PgConn> pg;
    std::optional<Db> sink;
    std::unique_ptr<replicator::ReverseApplier> applier;
    schema::Plan plan;
    std::map<std::string, int> tids;
    replicator::Position start, pos;

    // "table key: what" for each difference, sorted.
    std::vector<std::string> Differences(bool skip_touched_after) {
      auto& source = applier->source();
      auto now = source.BeginRead();
      EXPECT_TRUE(now.ok());
      auto diffs = cutover::VerifyTouchedInSqlite(source, *sink, applier->plan(), tids, start, pos, skip_touched_after);
      source.EndRead();
      EXPECT_TRUE(diffs.ok()) << diffs.status().message();
      std::vector<std::string> out;
      if (diffs.ok()) {
        for (const auto& d : *diffs) out.push_back(d.table + " " + d.key + ": " + d.what);
      }
      std::sort(out.begin(), out.end());
      return out;
    }
  };
  void ApplyOneRound(AppliedRound* r) {
    int cycle = 0;
    ASSERT_NO_FATAL_FAILURE(LoadMove(&r->plan, &r->tids, &cycle, &r->start));
    auto pg = PgConn::Connect(target_);
    ASSERT_TRUE(pg.ok());
    r->pg.emplace(std::move(*pg));
    ASSERT_TRUE(replicator::SetupSession(*r->pg, replicator::SessionRole::kApplier).ok());
    auto sink = replicator::OpenReverseSinkDb(db_);
    ASSERT_TRUE(sink.ok());
    r->sink.emplace(std::move(*sink));
    r->applier = std::make_unique<replicator::ReverseApplier>(*r->pg, *r->sink, r->plan, r->tids, cycle);
    replicator::RoundStats rs;
    auto pos = r->applier->Round(r->start, &rs);
    ASSERT_TRUE(pos.ok()) << pos.status().message();
    r->pos = *pos;
  }

  // What the reverse applier needs, as the cutover left it: the plan, the
  // table ids, the cycle and the position the reverse stream starts from.
  void LoadMove(schema::Plan* plan, std::map<std::string, int>* tids, int* cycle, replicator::Position* start) {
    auto d = Db::Open(db_, Db::Mode::kReadOnly);
    ASSERT_TRUE(d.ok());
    auto capture = replicator::ReadCapture(*d);
    ASSERT_TRUE(capture.ok()) << capture.status().message();
    *tids = capture->tids;
    auto m = replicator::ReadMigration(app_);
    ASSERT_TRUE(m.ok() && m->has_value());
    auto p = schema::PlanFromJson((*m)->plan);
    ASSERT_TRUE(p.ok()) << p.status().message();
    *plan = *p;
    auto r = app_.Exec("SELECT reverse_cycle, pg_snapshot_xmax(reverse_start::pg_snapshot)::text, reverse_start "
                       "FROM slipway.migration");
    ASSERT_TRUE(r.ok());
    *cycle = std::stoi(r->Str(0, 0));
    *start = replicator::Position{std::stoll(r->Str(0, 1)), r->Str(0, 2)};
  }

  std::string db_;
  PgConn app_;
};

constexpr const char* kDocs = R"sql(
  CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, updated_at INTEGER);
  CREATE VIRTUAL TABLE docs_fts USING fts5(title, body, content='docs', content_rowid='id');
  CREATE TRIGGER docs_ai AFTER INSERT ON docs BEGIN
    INSERT INTO docs_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
  END;
  CREATE TRIGGER docs_ad AFTER DELETE ON docs BEGIN
    INSERT INTO docs_fts(docs_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
  END;
  CREATE TRIGGER docs_au AFTER UPDATE ON docs BEGIN
    INSERT INTO docs_fts(docs_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
    INSERT INTO docs_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
  END;
  CREATE TRIGGER docs_touch AFTER UPDATE OF title, body ON docs BEGIN
    UPDATE docs SET updated_at = 999 WHERE id = new.id;
  END;
  CREATE VIRTUAL TABLE docs_fts4 USING fts4(content="docs", title, body);
  CREATE TRIGGER docs4_bu BEFORE UPDATE ON docs BEGIN DELETE FROM docs_fts4 WHERE docid = old.rowid; END;
  CREATE TRIGGER docs4_bd BEFORE DELETE ON docs BEGIN DELETE FROM docs_fts4 WHERE docid = old.rowid; END;
  CREATE TRIGGER docs4_au AFTER UPDATE ON docs BEGIN
    INSERT INTO docs_fts4(docid, title, body) VALUES (new.rowid, new.title, new.body);
  END;
  CREATE TRIGGER docs4_ai AFTER INSERT ON docs BEGIN
    INSERT INTO docs_fts4(docid, title, body) VALUES (new.rowid, new.title, new.body);
  END;
  CREATE VIRTUAL TABLE notes_fts USING fts5(text);
  INSERT INTO docs (id, title, body, updated_at) VALUES
    (1, 'apple pie', 'sweet crust', 10), (2, 'banana bread', 'moist loaf', 10), (3, 'cherry tart', 'sour filling', 10);
)sql";

TEST_F(ReverseApplyTest, ExternalContentFullTextIndexFollowsRowsWrittenBack) {
  CutOver(kDocs);
  if (HasFatalFailure()) return;
  AppRuns("INSERT INTO docs (id, title, body, updated_at) VALUES (4, 'durian smoothie', 'creamy', 42)");
  AppRuns("UPDATE docs SET title = 'apple crumble', updated_at = 43 WHERE id = 1");
  AppRuns("DELETE FROM docs WHERE id = 2");
  RunResult back = StreamBack();
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_NE(back.err.find("notes_fts"), std::string::npos) << "an index the sink cannot keep is named: " << back.err;

  auto db = Db::Open(db_, Db::Mode::kReadWrite);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(Match(*db, "docs_fts", "durian"), std::vector<int64_t>{4});
  EXPECT_EQ(Match(*db, "docs_fts", "crumble"), std::vector<int64_t>{1});
  EXPECT_EQ(Match(*db, "docs_fts", "pie"), std::vector<int64_t>{}) << "the old title is out of the index";
  EXPECT_EQ(Match(*db, "docs_fts", "banana"), std::vector<int64_t>{}) << "the deleted row is out of the index";
  EXPECT_EQ(Match(*db, "docs_fts", "cherry"), std::vector<int64_t>{3});
  // rank 1: the index is compared with its content table too.
  Status check = db->Exec("INSERT INTO docs_fts(docs_fts, rank) VALUES ('integrity-check', 1)");
  EXPECT_TRUE(check.ok()) << check.message();
  // FTS4 the same way.
  EXPECT_EQ(Match(*db, "docs_fts4", "durian"), std::vector<int64_t>{4});
  EXPECT_EQ(Match(*db, "docs_fts4", "crumble"), std::vector<int64_t>{1});
  EXPECT_EQ(Match(*db, "docs_fts4", "pie"), std::vector<int64_t>{});
  EXPECT_EQ(Match(*db, "docs_fts4", "banana"), std::vector<int64_t>{});
  check = db->Exec("INSERT INTO docs_fts4(docs_fts4) VALUES ('integrity-check')");
  EXPECT_TRUE(check.ok()) << check.message();
  // The app's triggers did not fire a second time: SQLite holds PostgreSQL's values.
  auto pg = app_.Exec("SELECT id, updated_at FROM docs ORDER BY id");
  ASSERT_TRUE(pg.ok());
  auto st = db->Prepare("SELECT id, updated_at FROM docs ORDER BY id");
  ASSERT_TRUE(st.ok());
  int rows = 0;
  for (; *st->Step(); ++rows) {
    ASSERT_LT(rows, pg->Rows());
    EXPECT_EQ(std::to_string(st->Int(0)), pg->Str(rows, 0));
    EXPECT_EQ(std::to_string(st->Int(1)), pg->Str(rows, 1)) << "id " << st->Int(0);
  }
  EXPECT_EQ(rows, pg->Rows());
}

// A mapping file made an untyped column bytea though it held numbers and
// text (the plan and verify report each such value; the cutover ran with
// --verify none). Rows the app touches in PostgreSQL come back with the
// file's storage class for values PostgreSQL did not change — INTEGER 7, not
// BLOB '7' — and a value written in PostgreSQL comes back as the bytes it is.
TEST_F(ReverseApplyTest, ValuesPostgresDidNotChangeComeBackInTheirKind) {
  db_ = MakeSqlite(dir_, "app.db", R"sql(
    PRAGMA journal_mode=WAL;
    CREATE TABLE t (k INTEGER PRIMARY KEY, v, note TEXT);
    INSERT INTO t VALUES (1, 7, 'a'), (2, 2.5, 'b'), (3, 'seven', 'c'), (4, x'01', 'd'), (5, 5, 'e');
  )sql");
  const std::string mapping = dir_ + "/map.json";
  std::ofstream(mapping) << R"({"tables": {"t": {"columns": {"v": {"type": "bytea"}}}}})";
  const std::string plan = dir_ + "/plan.json";
  ASSERT_EQ(RunSlipway({"plan", "--source", db_, "--mapping", mapping, "--out", plan}).exit_code, 0);
  RunResult s = RunSlipway({"snapshot", "--source", db_, "--target", target_, "--plan", plan});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const std::string env = dir_ + "/app.env";
  std::ofstream(env) << "DATABASE_URL=sqlite://" << db_ << "\n";
  RunResult c = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", env, "--flip-key",
                            "DATABASE_URL", "--verify", "none"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  app_ = std::move(*pg);
  AppRuns("UPDATE t SET note = note || '!'");
  AppRuns("UPDATE t SET v = '\\x39'::bytea WHERE k = 5");
  RunResult back = StreamBack();
  ASSERT_EQ(back.exit_code, 0) << back.err;
  auto d = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(d.ok());
  auto got = d->QueryText("SELECT group_concat(k || ':' || typeof(v) || ':' || quote(v) || ':' || note, ' ') FROM "
                          "(SELECT * FROM t ORDER BY k)");
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->value_or(""), "1:integer:7:a! 2:real:2.5:b! 3:text:'seven':c! 4:blob:X'01':d! 5:blob:X'39':e!");
}

TEST_F(ReverseApplyTest, PlanNamesFullTextIndexesItCannotKeep) {
  std::string db = MakeSqlite(dir_, "plan.db", kDocs);
  RunResult r = RunSlipway({"plan", "--source", db, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  bool kept = false, not_kept = false;
  for (const auto& n : j["notes"]) {
    const std::string m = n["message"];
    kept = kept || (n["table"] == "docs_fts" && m.find("keeps it in step") != std::string::npos);
    not_kept = not_kept || (n["table"] == "notes_fts" && m.find("not kept in step") != std::string::npos &&
                            n["severity"] == "warning");
  }
  EXPECT_TRUE(kept) << j["notes"].dump(1);
  EXPECT_TRUE(not_kept) << j["notes"].dump(1);
}

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

TEST_F(ReverseApplyTest, RowSqliteRefusesStopsTheStreamNamingIt) {
  const std::string sql = R"sql(
    CREATE TABLE items (id INTEGER PRIMARY KEY, tag TEXT COLLATE RTRIM UNIQUE,
                        code TEXT, CONSTRAINT no_dash CHECK (instr(code, '-') = 0));
    INSERT INTO items VALUES (1, 'red', 'a1');
  )sql";
  std::string plan_db = MakeSqlite(dir_, "plan.db", sql);
  RunResult plan = RunSlipway({"plan", "--source", plan_db, "--target", target_, "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  nlohmann::json j = nlohmann::json::parse(plan.out);
  bool rtrim = false, check = false;
  for (const auto& n : j["notes"]) {
    const std::string m = n["message"];
    rtrim = rtrim || (m.find("RTRIM") != std::string::npos && m.find("rollback risk") != std::string::npos);
    check = check || (m.find("no_dash") != std::string::npos && m.find("rollback risk") != std::string::npos);
  }
  EXPECT_TRUE(rtrim) << j["notes"].dump(1);
  EXPECT_TRUE(check) << j["notes"].dump(1);

  CutOver(sql);
  if (HasFatalFailure()) return;
  // PostgreSQL compares 'red ' and 'red' as different; SQLite's RTRIM does not.
  AppRuns("INSERT INTO items VALUES (2, 'red ', 'a2')");
  RunResult back = StreamBack();
  EXPECT_EQ(back.exit_code, kBlockedExit) << back.err;
  EXPECT_NE(back.err.find("table items, key id=2"), std::string::npos) << back.err;
  EXPECT_NE(back.err.find("UNIQUE (tag)"), std::string::npos) << back.err;
  EXPECT_NE(back.err.find("already held by the row id=1"), std::string::npos) << back.err;
  // Fixed in PostgreSQL, the stream goes on; then a CHECK PostgreSQL could not carry.
  AppRuns("UPDATE items SET tag = 'blue' WHERE id = 2");
  AppRuns("INSERT INTO items VALUES (3, 'green', 'a-3')");
  back = StreamBack();
  EXPECT_EQ(back.exit_code, kBlockedExit) << back.err;
  EXPECT_NE(back.err.find("table items, key id=3"), std::string::npos) << back.err;
  EXPECT_NE(back.err.find("no_dash"), std::string::npos) << back.err;
  // Nothing was dropped: the round that stopped wrote nothing, and once the
  // row is fixed every row arrives.
  AppRuns("UPDATE items SET code = 'a3' WHERE id = 3");
  back = StreamBack();
  ASSERT_EQ(back.exit_code, 0) << back.err;
  auto db = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*db->QueryText("SELECT group_concat(id || ':' || tag || ':' || code, ' ') FROM (SELECT * FROM items "
                           "ORDER BY id)"),
            "1:red:a1 2:blue:a2 3:green:a3");
}

constexpr const char* kItems = R"sql(
  CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER);
  INSERT INTO items VALUES (1, 'one', 1), (2, 'two', 2);
)sql";

TEST_F(ReverseApplyTest, NullableColumnAddedInPostgresIsFollowed) {
  CutOver(kItems);
  if (HasFatalFailure()) return;
  AppRuns("ALTER TABLE items ADD COLUMN note text");
  AppRuns("UPDATE items SET note = 'hello' WHERE id = 1");
  // A default fills existing rows without touching them: no change captured.
  AppRuns("ALTER TABLE items ADD COLUMN rating integer DEFAULT 5");
  AppRuns("INSERT INTO items (id, name, qty, note, rating) VALUES (3, 'three', 3, 'new', 7)");
  RunResult back = StreamBack();
  ASSERT_EQ(back.exit_code, 0) << back.err;
  auto db = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(db.ok());
  auto rows = db->QueryText("SELECT group_concat(id || ':' || coalesce(note, '-') || ':' || rating, ' ') FROM "
                            "(SELECT * FROM items ORDER BY id)");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ(rows->value_or(""), "1:hello:5 2:-:5 3:new:7");
  // The stored plan has the columns: the forward direction maps them after a rollback.
  auto plan = app_.Exec("SELECT plan::text FROM slipway.migration");
  ASSERT_TRUE(plan.ok());
  nlohmann::json p = nlohmann::json::parse(plan->Str(0, 0));
  std::vector<std::string> cols;
  for (const auto& c : p["source_columns"]["items"]) cols.push_back(c[0]);
  EXPECT_EQ(cols, (std::vector<std::string>{"id", "name", "qty", "note", "rating"}));
  // Later writes to the new column keep arriving.
  AppRuns("UPDATE items SET note = 'again' WHERE id = 2");
  back = StreamBack();
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(*db->QueryText("SELECT note FROM items WHERE id = 2"), "again");
}

// After a rollback the column is part of the move: the forward stream maps
// the app's SQLite writes to it.
TEST_F(ReverseApplyTest, FollowedColumnSurvivesARollback) {
  CutOver(kItems);
  if (HasFatalFailure()) return;
  AppRuns("ALTER TABLE items ADD COLUMN note text");
  AppRuns("UPDATE items SET note = 'from pg' WHERE id = 1");
  RunResult r = RunSlipway({"rollback", "--source", db_, "--target", target_, "--flip-file", dir_ + "/app.env",
                            "--flip-key", "DATABASE_URL", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  {
    auto db = Db::Open(db_, Db::Mode::kReadWrite);
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(*db->QueryText("SELECT note FROM items WHERE id = 1"), "from pg");
    Status w = db->Exec("UPDATE items SET note = 'from sqlite' WHERE id = 2");
    ASSERT_TRUE(w.ok()) << "SQLite is the app's database again: " << w.message();
  }
  RunResult fwd = StreamBack();
  ASSERT_EQ(fwd.exit_code, 0) << fwd.err;
  auto note = app_.Exec("SELECT note FROM items WHERE id = 2");
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(note->Str(0, 0), "from sqlite");
}

TEST_F(ReverseApplyTest, OtherSchemaChangesInPostgresStopTheStream) {
  CutOver(kItems);
  if (HasFatalFailure()) return;
  AppRuns("ALTER TABLE items ALTER COLUMN name TYPE varchar(20)");
  RunResult back = StreamBack();
  EXPECT_EQ(back.exit_code, kSchemaChangedExit) << back.err;
  EXPECT_NE(back.err.find("column items.name changed type"), std::string::npos) << back.err;

  AppRuns("ALTER TABLE items ALTER COLUMN name TYPE text");  // as it was
  AppRuns("ALTER TABLE items ADD COLUMN code text NOT NULL DEFAULT 'x'");
  back = StreamBack();
  EXPECT_EQ(back.exit_code, kSchemaChangedExit) << back.err;
  EXPECT_NE(back.err.find("column items.code (text) was added NOT NULL"), std::string::npos) << back.err;

  AppRuns("ALTER TABLE items DROP COLUMN code");
  AppRuns("CREATE TABLE audit_log (id bigint PRIMARY KEY, what text)");
  back = StreamBack();
  EXPECT_EQ(back.exit_code, kSchemaChangedExit) << back.err;
  EXPECT_NE(back.err.find("table audit_log was created"), std::string::npos) << back.err;

  AppRuns("DROP TABLE audit_log");
  AppRuns("INSERT INTO items VALUES (3, 'three', 3)");
  back = StreamBack();
  ASSERT_EQ(back.exit_code, 0) << "undone in PostgreSQL, the stream goes on: " << back.err;

  AppRuns("ALTER TABLE items DROP COLUMN qty");
  back = StreamBack();
  EXPECT_EQ(back.exit_code, kSchemaChangedExit) << back.err;
  EXPECT_NE(back.err.find("column items.qty was dropped or renamed"), std::string::npos) << back.err;
}

// A backlog is written back in bounded SQLite transactions: each round
// takes whole PostgreSQL transactions up to the bound (one bigger
// transaction whole), a transaction held open across rounds and committed
// late still arrives, and an applier that stops after any round resumes from
// the position stored with that round: the file ends equal to PostgreSQL.
TEST_F(ReverseApplyTest, BoundedRoundsResumeExactly) {
  std::string rows = "CREATE TABLE items (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);\nINSERT INTO items VALUES ";
  for (int i = 1; i <= 20; ++i) rows += std::string(i > 1 ? ", " : "") + "(" + std::to_string(i) + ", 0)";
  CutOver(rows + ";");

  auto slow = PgConn::Connect(target_);
  ASSERT_TRUE(slow.ok());
  ASSERT_TRUE(slow->Run("BEGIN").ok());
  ASSERT_TRUE(slow->Run("UPDATE items SET v = -1 WHERE id = 1").ok());
  for (int i = 0; i < 120; ++i) AppRuns("INSERT INTO items VALUES (" + std::to_string(1000 + i) + ", " + std::to_string(i) + ")");
  std::string big = "BEGIN; ";
  for (int i = 0; i < 90; ++i) big += "INSERT INTO items VALUES (" + std::to_string(2000 + i) + ", 1); ";
  AppRuns(big + "COMMIT");
  for (int i = 0; i < 60; ++i) AppRuns("UPDATE items SET v = v + 7 WHERE id = " + std::to_string(1000 + i));
  for (int i = 0; i < 30; ++i) AppRuns("DELETE FROM items WHERE id = " + std::to_string(1060 + i));

  schema::Plan plan;
  std::map<std::string, int> tids;
  int cycle = 0;
  replicator::Position pos;
  ASSERT_NO_FATAL_FAILURE(LoadMove(&plan, &tids, &cycle, &pos));

  constexpr int64_t kBound = 25;
  int rounds = 0, restarts = 0;
  bool slow_open = true;
  std::vector<int64_t> sizes;
  for (int attempt = 0; attempt < 200; ++attempt) {
    // A fresh applier every third round: it starts from the stored position.
    auto pg = PgConn::Connect(target_);
    ASSERT_TRUE(pg.ok());
    ASSERT_TRUE(replicator::SetupSession(*pg, replicator::SessionRole::kApplier).ok());
    auto sink = replicator::OpenReverseSinkDb(db_);
    ASSERT_TRUE(sink.ok()) << sink.status().message();
    if (rounds > 0) {
      auto stored = replicator::ReadReversePosition(*sink, cycle);
      ASSERT_TRUE(stored.ok() && stored->has_value());
      pos = **stored;
      ++restarts;
    }
    replicator::ReverseApplier applier(*pg, *sink, plan, tids, cycle);
    bool idle = false;
    for (int i = 0; i < 3; ++i) {
      replicator::RoundStats rs;
      auto next = applier.Round(pos, &rs, kBound);
      ASSERT_TRUE(next.ok()) << next.status().message();
      if (*next == pos) {
        idle = true;
        break;
      }
      pos = *next;
      sizes.push_back(rs.changes);
      ++rounds;
      if (rounds == 4 && slow_open) {
        ASSERT_TRUE(slow->Run("COMMIT").ok());
        slow_open = false;
      }
    }
    if (idle && !slow_open) break;
  }
  ASSERT_FALSE(slow_open) << "the backlog was applied in fewer than 4 rounds";
  EXPECT_GT(restarts, 2);
  int over = 0;
  for (int64_t n : sizes) over += n > kBound ? 1 : 0;
  EXPECT_EQ(over, 1) << "only the round holding the 90-row transaction may pass the bound";
  EXPECT_GE(rounds, (301 - 90) / static_cast<int>(kBound) + 1);

  auto pg_rows = app_.Exec("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM items");
  ASSERT_TRUE(pg_rows.ok());
  auto d = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(d.ok());
  auto sq_rows = d->QueryText("SELECT group_concat(id || '=' || v, ',') FROM (SELECT id, v FROM items ORDER BY id)");
  ASSERT_TRUE(sq_rows.ok() && sq_rows->has_value());
  EXPECT_EQ(**sq_rows, pg_rows->Str(0, 0));
  auto v1 = d->QueryInt("SELECT v FROM items WHERE id = 1");
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->value_or(0), -1) << "the transaction committed late reached SQLite";
}

// The rollback's check inside the freeze: every key touched in PostgreSQL
// since the full verify, compared with the file value by value. A value
// changed behind the reverse stream's back, a row it lost and a row it kept
// after PostgreSQL deleted it are each named with table, key and column.
TEST_F(ReverseApplyTest, TouchedKeysAreComparedWithTheFile) {
  CutOver("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB);\n"
          "INSERT INTO items VALUES (1, 'one', 1.5, x'01'), (2, 'two', 2.5, x'02'), (3, 'three', 3.5, x'03'),"
          " (4, 'four', 4.5, x'04');");
  AppRuns("UPDATE items SET name = 'uno', price = 10.25 WHERE id = 1");
  AppRuns("INSERT INTO items VALUES (5, 'five', 5.5, '\\x0505')");
  AppRuns("DELETE FROM items WHERE id = 2");
  AppRuns("UPDATE items SET data = '\\xff00' WHERE id = 3");
  AppliedRound r;
  ASSERT_NO_FATAL_FAILURE(ApplyOneRound(&r));
  auto check = [&]() { return r.Differences(/*skip_touched_after=*/false); };
  auto& sink = r.sink;
  EXPECT_EQ(check(), std::vector<std::string>{}) << "applied rows equal the file";

  // Behind the reverse stream's back (triggers off, as the stream writes).
  ASSERT_TRUE(sink->Exec("UPDATE items SET price = 10.5 WHERE id = 1").ok());
  ASSERT_TRUE(sink->Exec("INSERT INTO items VALUES (2, 'two', 2.5, x'02')").ok());
  ASSERT_TRUE(sink->Exec("DELETE FROM items WHERE id = 5").ok());
  ASSERT_TRUE(sink->Exec("UPDATE items SET data = 'ff00' WHERE id = 3").ok());
  ASSERT_TRUE(sink->Exec("UPDATE items SET name = 'untouched' WHERE id = 4").ok());
  EXPECT_EQ(check(), (std::vector<std::string>{
                         "items id=1: column price: PostgreSQL 10.25, SQLite 10.5",
                         "items id=2: deleted in PostgreSQL, still in SQLite",
                         "items id=3: column data: PostgreSQL blob of 2 bytes, SQLite 'ff00'",
                         "items id=5: missing in SQLite",
                     }));
}

// Compared while the app goes on writing (the rollback's check before each
// freeze attempt): the file holds exactly the applied position, PostgreSQL
// has moved on. Keys touched again after the position by a committed
// transaction are left out (PostgreSQL holds newer rows for them, deleted
// and inserted ones too); a key an open transaction is changing is still
// compared, with the row that transaction has not committed yet.
TEST_F(ReverseApplyTest, KeysTouchedAgainAfterThePositionAreLeftOut) {
  CutOver("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n"
          "CREATE TABLE pairs (a TEXT NOT NULL, b INTEGER NOT NULL, v TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;\n"
          "INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four'), (5, 'five');\n"
          "INSERT INTO pairs VALUES ('x', 1, 'p'), ('y', 2, 'q');");
  AppRuns("UPDATE items SET name = name || '-a' WHERE id IN (1, 3, 4, 5)");
  AppRuns("DELETE FROM items WHERE id = 2");
  AppRuns("UPDATE pairs SET v = 'p-a' WHERE a = 'x'");
  AppRuns("UPDATE pairs SET v = 'q-a' WHERE a = 'y'");
  AppliedRound r;
  ASSERT_NO_FATAL_FAILURE(ApplyOneRound(&r));
  auto check = [&](bool skip_touched_after) { return r.Differences(skip_touched_after); };
  auto& sink = r.sink;

  // After the position: committed changes to keys of the window...
  AppRuns("UPDATE items SET name = 'later' WHERE id = 1");
  AppRuns("DELETE FROM items WHERE id = 3");
  AppRuns("INSERT INTO items VALUES (2, 'back')");
  AppRuns("UPDATE pairs SET v = 'later' WHERE a = 'x'");
  // ...and one still running.
  auto open = PgConn::Connect(target_);
  ASSERT_TRUE(open.ok());
  ASSERT_TRUE(open->Run("BEGIN").ok());
  ASSERT_TRUE(open->Run("UPDATE items SET name = 'uncommitted' WHERE id = 4").ok());

  EXPECT_EQ(check(/*skip_touched_after=*/true), std::vector<std::string>{});
  // Without the skip, PostgreSQL's newer rows would be taken for differences.
  EXPECT_EQ(check(/*skip_touched_after=*/false).size(), 4u);

  // Behind the reverse stream's back: the keys still compared find it.
  ASSERT_TRUE(sink->Exec("UPDATE items SET name = 'planted' WHERE id IN (4, 5)").ok());
  ASSERT_TRUE(sink->Exec("UPDATE pairs SET v = 'planted' WHERE a = 'y'").ok());
  EXPECT_EQ(check(/*skip_touched_after=*/true), (std::vector<std::string>{
                                                    "items id=4: column name: PostgreSQL 'four-a', SQLite 'planted'",
                                                    "items id=5: column name: PostgreSQL 'five-a', SQLite 'planted'",
                                                    "pairs a='y', b=2: column v: PostgreSQL 'q-a', SQLite 'planted'",
                                                }));
  ASSERT_TRUE(open->Run("ROLLBACK").ok());
}

// A difference the reverse stream cannot explain stops the rollback before
// its freeze: the full verify it runs first names the key, and the app stays
// on PostgreSQL.
TEST_F(ReverseApplyTest, RollbackRefusesAFileThatDiffers) {
  CutOver("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n"
          "INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three');");
  AppRuns("UPDATE items SET name = 'uno' WHERE id = 1");
  RunResult s = StreamBack();
  ASSERT_EQ(s.exit_code, 0) << s.err;
  {
    auto sink = replicator::OpenReverseSinkDb(db_);
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE(sink->Exec("UPDATE items SET name = 'planted' WHERE id = 3").ok());
  }
  AppRuns("UPDATE items SET name = 'dos' WHERE id = 2");
  const std::string env = dir_ + "/app.env";
  RunResult r = RunSlipway({"rollback", "--source", db_, "--target", target_, "--flip-file", env, "--flip-key",
                            "DATABASE_URL"});
  EXPECT_EQ(r.exit_code, 1) << r.err;  // the verify code: the databases differ
  EXPECT_NE(r.err.find("id=3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not rolling back"), std::string::npos) << r.err;
  auto phase = app_.Exec("SELECT phase FROM slipway.migration");
  ASSERT_TRUE(phase.ok());
  EXPECT_EQ(phase->Str(0, 0), "cut_over");
  EXPECT_TRUE(app_.Run("UPDATE items SET name = 'still writable' WHERE id = 2").ok()) << "the app stays on PostgreSQL";
}

}  // namespace
}  // namespace slipway::testing
