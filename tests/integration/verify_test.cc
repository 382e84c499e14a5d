// `slipway verify` end to end: SQLite files built here, tables created with
// `slipway plan --ddl`, data loaded by a small test-only loader (INSERT with
// parameters from EncodeForPg), then the real binary compares both sides.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/pg.h"
#include "common/sqlite.h"
#include "cutover/verifier.h"
#include "cutover/verify_report.h"
#include "schema/codec.h"
#include "schema/plan.h"
#include "tests/harness/sqlite_fixture.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

constexpr size_t kMaxParams = 20000;

// Copies a mapped table from SQLite into PostgreSQL with multi-row INSERTs,
// each value written as EncodeForPg writes it. `reverse` loads the rows in
// the opposite order, so the two sides are not read in the same order.
Status LoadTable(Db& src, PgConn& pg, const schema::Plan& plan, const schema::TableMapping& t, bool reverse) {
  const bool rowid = t.key_kind == schema::KeyKind::kRowid;
  std::vector<const schema::ColumnMapping*> cols;
  for (const auto& c : t.columns) {
    if (!c.skip) cols.push_back(&c);
  }
  // Column 0 is the rowid, or the first key column again (WITHOUT ROWID
  // tables have no rowid); it orders the rows.
  std::string select = "SELECT " + (rowid ? std::string("rowid") : QuoteSqliteIdent(t.key_source[0]));
  std::string insert_cols;
  for (const auto* c : cols) {
    select += ", " + QuoteSqliteIdent(c->source);
    insert_cols += (insert_cols.empty() ? "" : ", ") + QuotePgIdent(c->target);
  }
  if (rowid) insert_cols += ", " + QuotePgIdent(schema::kRowidColumn);
  select += " FROM " + QuoteSqliteIdent(t.source) + " ORDER BY 1" + (reverse ? " DESC" : "");
  const size_t width = cols.size() + (rowid ? 1 : 0);
  const std::string head =
      "INSERT INTO " + QuotePgIdent(plan.options.pg_schema) + "." + QuotePgIdent(t.target) + " (" + insert_cols + ") VALUES ";
  ASSIGN_OR_RETURN(Stmt st, src.Prepare(select));
  std::vector<PgParam> params;
  std::string values;
  auto flush = [&]() -> Status {
    if (params.empty()) return Status::Ok();
    Status s = pg.ExecParams(head + values, params).status();
    params.clear();
    values.clear();
    return s;
  };
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    values += values.empty() ? "(" : ", (";
    for (size_t i = 0; i < width; ++i) {
      values += (i ? ", $" : "$") + std::to_string(params.size() + 1);
      if (i == cols.size()) {
        params.push_back(std::to_string(st.Int(0)));
        continue;
      }
      schema::SqlValue v = schema::SqlValue::FromColumn(st.get(), static_cast<int>(i) + 1);
      if (v.type == SQLITE_NULL) {
        params.push_back(std::nullopt);
        continue;
      }
      std::string text;
      RETURN_IF_ERROR(schema::EncodeForPg(v, *cols[i], &text).Annotate(t.source + "." + cols[i]->source));
      params.push_back(std::move(text));
    }
    values += ")";
    if (params.size() + width > kMaxParams) RETURN_IF_ERROR(flush());
  }
  return flush();
}

struct VerifyRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  json doc;
};

class VerifyTest : public TargetTest {
 protected:

  // plan --out, the DDL run on the target, then every table loaded.
  void Migrate(const std::string& db, const std::vector<std::string>& reversed = {}) {
    plan_path_ = dir_ + "/plan.json";
    RunResult p = RunSlipway({"plan", "--source", db, "--out", plan_path_});
    ASSERT_EQ(p.exit_code, 0) << p.err << p.out;
    RunResult ddl = RunSlipway({"plan", "--source", db, "--ddl"});
    ASSERT_EQ(ddl.exit_code, 0) << ddl.err;
    auto conn = PgConn::Connect(target_);
    ASSERT_TRUE(conn.ok()) << conn.status().message();
    // The post-data DDL (keys) is run with the rest: the loader inserts rows.
    Status s = conn->Run(ddl.out);
    ASSERT_TRUE(s.ok()) << s.message() << "\n" << ddl.out;
    auto plan = schema::LoadPlan(plan_path_);
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    auto src = Db::Open(db, Db::Mode::kReadOnly);
    ASSERT_TRUE(src.ok()) << src.status().message();
    for (const auto& t : plan->tables) {
      bool rev = std::find(reversed.begin(), reversed.end(), t.source) != reversed.end();
      Status l = LoadTable(*src, *conn, *plan, t, rev);
      ASSERT_TRUE(l.ok()) << l.message();
    }
  }

  VerifyRun Verify(const std::string& db, std::vector<std::string> extra = {},
                   const std::vector<std::string>& env = {}) {
    std::vector<std::string> args = {"verify", "--source", db, "--target", target_};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = RunSlipway(args, env);
    VerifyRun v{r.exit_code, r.out, r.err, json()};
    if (std::find(extra.begin(), extra.end(), "--json") != extra.end()) v.doc = json::parse(r.out, nullptr, false);
    return v;
  }

  void Pg(const std::string& sql) {
    auto conn = PgConn::Connect(target_);
    ASSERT_TRUE(conn.ok()) << conn.status().message();
    Status s = conn->Run(sql);
    ASSERT_TRUE(s.ok()) << s.message() << "\n" << sql;
  }

  void Sqlite(const std::string& db, const std::string& sql) {
    auto d = Db::Open(db, Db::Mode::kReadWrite);
    ASSERT_TRUE(d.ok()) << d.status().message();
    Status s = d->Exec(sql);
    ASSERT_TRUE(s.ok()) << s.message() << "\n" << sql;
  }

  std::string plan_path_;
};

const json* FindTable(const json& doc, const std::string& name) {
  for (const auto& t : doc["tables"]) {
    if (t["table"] == name) return &t;
  }
  return nullptr;
}

const json* FindKey(const json& table, const std::string& key) {
  for (const auto& k : table["keys"]) {
    if (k["key"] == key) return &k;
  }
  return nullptr;
}

// Every type the mapping produces, the awkward values among them, a
// composite text key, a rowid table and a WITHOUT ROWID table.
constexpr const char* kManyTypes = R"sql(
  CREATE TABLE items (
    id INTEGER PRIMARY KEY, active BOOLEAN, created DATETIME, seen_at TEXT, utc_at TEXT, epoch DATETIME,
    price DECIMAL(10,2), ratio REAL, data BLOB, note TEXT, born DATE, uid TEXT, doc JSON);
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
  INSERT INTO items SELECT i, i % 2, printf('2024-01-%02dT03:04:05.%03d', i % 28 + 1, i),
    printf('2024-02-%02d 05:04:05+02:00', i % 28 + 1), printf('2024-03-%02dT10:00:00.5Z', i % 28 + 1),
    1700000000 + i, i * 1.25, i / 7.0, randomblob(4), 'note ' || i, printf('1990-05-%02d', i % 28 + 1),
    printf('%08x-9d5a-4c1e-8f6a-2d3b4c5d6e7f', i), '{"a": ' || i || '}' FROM n;
  UPDATE items SET ratio = 9e999 WHERE id = 1;
  UPDATE items SET ratio = -9e999 WHERE id = 2;
  UPDATE items SET ratio = 1e100, price = 10 WHERE id = 3;
  UPDATE items SET note = 'tab' || char(9) || 'nl' || char(10) || 'cr' || char(13) || 'bs\ \N end',
    data = x'00090a5c' WHERE id = 4;
  UPDATE items SET note = '', data = x'' WHERE id = 6;
  UPDATE items SET note = NULL, data = NULL, price = NULL, active = NULL, created = NULL, seen_at = NULL,
    ratio = NULL WHERE id = 7;
  CREATE TABLE pairs (a TEXT, b TEXT, v INTEGER, PRIMARY KEY (a, b));
  INSERT INTO pairs VALUES ('k1', 'x', 1), ('k2', 'x', 2), ('k2', 'y', 3), ('k3', 'y', 4), ('tab' || char(9), 'x', 5);
  CREATE TABLE log (msg TEXT, n INTEGER);
  INSERT INTO log VALUES ('a', 1), ('b', NULL), ('c\d', 3);
  DELETE FROM log WHERE msg = 'a';
  INSERT INTO log VALUES ('e', 5);
  CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
  INSERT INTO kv VALUES ('one', x'01'), ('two', x'0202'), ('three', NULL);
)sql";

TEST_F(VerifyTest, EqualThenThreeDifferencesNamed) {
  std::string db = MakeSqlite(dir_, "many.db", kManyTypes);
  // items and log go in backwards: order must not matter.
  Migrate(db, {"items", "log"});

  VerifyRun ok = Verify(db);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("equal"), std::string::npos) << ok.out;
  // One progress line per table: rows, rate, time left.
  EXPECT_NE(ok.err.find("table items ("), std::string::npos) << ok.err;
  EXPECT_NE(ok.err.find("rows/s, about "), std::string::npos) << ok.err;
  VerifyRun ok_plan = Verify(db, {"--plan", plan_path_, "--json"});
  ASSERT_EQ(ok_plan.exit_code, 0) << ok_plan.out << ok_plan.err;
  ASSERT_TRUE(ok_plan.doc.is_object()) << ok_plan.out;
  EXPECT_TRUE(ok_plan.doc["equal"]);
  ASSERT_EQ(ok_plan.doc["tables"].size(), 4u);
  EXPECT_EQ((*FindTable(ok_plan.doc, "items"))["source_rows"], 300);
  EXPECT_EQ((*FindTable(ok_plan.doc, "items"))["target_rows"], 300);
  EXPECT_EQ((*FindTable(ok_plan.doc, "log"))["target_rows"], 3);

  Pg("UPDATE items SET note = 'changed', price = 99.5 WHERE id = 5;"
     "DELETE FROM pairs WHERE a = 'k2' AND b = 'x';"
     "INSERT INTO log (_slipway_rowid, msg, n) VALUES (9999, 'extra', 1);");
  VerifyRun bad = Verify(db);
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  std::printf("%s", bad.out.c_str());
  EXPECT_NE(bad.out.find("id=5  different: price source 6.25, target 99.5; note source 'note 5', target 'changed'"),
            std::string::npos)
      << bad.out;
  EXPECT_NE(bad.out.find("a='k2', b='x'  missing in target (v=2)"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("rowid=9999  extra in target (msg='extra', n=1)"), std::string::npos) << bad.out;

  VerifyRun js = Verify(db, {"--json"});
  EXPECT_EQ(js.exit_code, 1);
  ASSERT_TRUE(js.doc.is_object()) << js.out;
  EXPECT_FALSE(js.doc["equal"]);
  const json& items = *FindTable(js.doc, "items");
  EXPECT_EQ(items["status"], "different");
  EXPECT_EQ(items["mismatched"], 1);
  const json* k5 = FindKey(items, "id=5");
  ASSERT_NE(k5, nullptr) << items.dump(2);
  EXPECT_EQ((*k5)["kind"], "different");
  ASSERT_EQ((*k5)["columns"].size(), 2u);
  EXPECT_EQ((*k5)["columns"][0]["column"], "price");
  EXPECT_EQ((*k5)["columns"][0]["source"], "6.25");
  EXPECT_EQ((*k5)["columns"][0]["target"], "99.5");
  EXPECT_EQ((*k5)["columns"][1]["column"], "note");
  EXPECT_EQ((*FindKey(*FindTable(js.doc, "pairs"), "a='k2', b='x'"))["kind"], "missing");
  EXPECT_EQ((*FindKey(*FindTable(js.doc, "log"), "rowid=9999"))["kind"], "extra");
  EXPECT_TRUE((*FindTable(js.doc, "kv"))["equal"]);

  // --tables narrows the run to the tables that are equal.
  VerifyRun only = Verify(db, {"--tables", "kv", "--json"});
  EXPECT_EQ(only.exit_code, 0) << only.out << only.err;
  EXPECT_EQ(only.doc["tables"].size(), 1u);
  VerifyRun only_plan = Verify(db, {"--plan", plan_path_, "--tables", "kv,items", "--json"});
  EXPECT_EQ(only_plan.exit_code, 1);
  EXPECT_EQ(only_plan.doc["tables"].size(), 2u);
}

TEST_F(VerifyTest, SubtleValueChangesAreDifferences) {
  std::string db = MakeSqlite(dir_, "many.db", kManyTypes);
  Migrate(db);
  // Each of these is one value, in another representation or changed by
  // a hair: NULL vs '', a microsecond, a timestamptz an hour off, a byte.
  Pg("UPDATE items SET note = '' WHERE id = 7;"
     "UPDATE items SET created = created + interval '1 microsecond' WHERE id = 8;"
     "UPDATE items SET seen_at = seen_at + interval '1 hour' WHERE id = 9;"
     "UPDATE items SET data = '\\x00090a5d' WHERE id = 4;"
     "UPDATE items SET ratio = 0.30000000000000004 WHERE id = 10;"
     "UPDATE pairs SET v = NULL WHERE a = 'tab' || chr(9);");
  VerifyRun r = Verify(db, {"--json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  ASSERT_TRUE(r.doc.is_object()) << r.out;
  const json& items = *FindTable(r.doc, "items");
  EXPECT_EQ(items["mismatched"], 5) << items.dump(2);
  for (const char* key : {"id=4", "id=7", "id=8", "id=9", "id=10"}) {
    EXPECT_NE(FindKey(items, key), nullptr) << key << "\n" << items.dump(2);
  }
  const json* k7 = FindKey(items, "id=7");
  ASSERT_NE(k7, nullptr);
  EXPECT_EQ((*k7)["columns"][0]["source"], "NULL");
  EXPECT_EQ((*k7)["columns"][0]["target"], "''");
  const json* tab = FindKey(*FindTable(r.doc, "pairs"), "a='tab\\t', b='x'");
  ASSERT_NE(tab, nullptr) << FindTable(r.doc, "pairs")->dump(2);
  EXPECT_EQ((*tab)["columns"][0]["source"], "5");
  EXPECT_EQ((*tab)["columns"][0]["target"], "NULL");
}

TEST_F(VerifyTest, ChangedAfterTheTargetPositionIsPending) {
  std::string db = MakeSqlite(dir_, "many.db", kManyTypes);
  Migrate(db);
  // The catalogs snapshot and stream keep, made by hand: the target has
  // applied up to seq 10; the source changed items id=5 and pairs (k3, y)
  // after that.
  Sqlite(db, R"sql(
    CREATE TABLE _slipway_tables (tid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE _slipway_changelog (seq INTEGER PRIMARY KEY, tid INTEGER NOT NULL, k1, k2, k3, k4,
      ts REAL NOT NULL DEFAULT (julianday('now')));
    INSERT INTO _slipway_tables VALUES (1, 'items'), (2, 'pairs');
    INSERT INTO _slipway_changelog (seq, tid, k1, k2) VALUES (3, 1, 6, NULL), (10, 1, 8, NULL),
      (11, 1, 5, NULL), (12, 2, 'k3', 'y');
    UPDATE items SET note = 'newer' WHERE id = 5;
    UPDATE pairs SET v = 40 WHERE a = 'k3' AND b = 'y';
  )sql");
  Pg("CREATE SCHEMA slipway;"
     "CREATE TABLE slipway.tables (source_table text PRIMARY KEY, start_seq bigint);"
     "CREATE TABLE slipway.migration (applied_seq bigint NOT NULL);"
     "INSERT INTO slipway.tables VALUES ('items', 2), ('pairs', 2), ('log', 2), ('kv', 2);"
     "INSERT INTO slipway.migration VALUES (10);");
  // No --plan: the plan's fingerprint covers the _slipway_* tables made
  // after it, so a saved plan is refused as a changed schema (exit 9).
  VerifyRun r = Verify(db);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::printf("%s", r.out.c_str());
  EXPECT_NE(r.out.find("pending 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("id=5  pending, different: note source 'newer', target 'note 5'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a='k3', b='y'  pending, different"), std::string::npos) << r.out;

  // A change the target says it has (seq 10 <= position) but lacks is a
  // mismatch; the pending key stays pending.
  Sqlite(db, "UPDATE items SET note = 'lost' WHERE id = 8;");
  VerifyRun bad = Verify(db, {"--json"});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  ASSERT_TRUE(bad.doc.is_object()) << bad.out;
  const json& items = *FindTable(bad.doc, "items");
  EXPECT_EQ(items["mismatched"], 1);
  EXPECT_EQ(items["pending"], 1);
  EXPECT_EQ(items["position"], 10);
  EXPECT_FALSE((*FindKey(items, "id=8"))["pending"]);
  EXPECT_TRUE((*FindKey(items, "id=5"))["pending"]);
  EXPECT_EQ(items["keys"][0]["key"], "id=8");  // mismatches first

  // Without the target's positions every difference is a mismatch.
  Pg("DROP SCHEMA slipway CASCADE");
  VerifyRun plain = Verify(db, {"--json"});
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_EQ((*FindTable(plain.doc, "items"))["mismatched"], 2);
  EXPECT_EQ((*FindTable(plain.doc, "items"))["pending"], 0);
}

// The app writes between the verifier's two reads (a burst while the stream
// applies): the report's row counts and buckets are those of the read its
// keys and verdict come from, and the first read's are labelled as such.
TEST_F(VerifyTest, CountsComeFromTheReadOfTheVerdict) {
  std::string db = MakeSqlite(dir_, "many.db", kManyTypes);
  Migrate(db);
  Sqlite(db, R"sql(
    CREATE TABLE _slipway_tables (tid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE _slipway_changelog (seq INTEGER PRIMARY KEY, tid INTEGER NOT NULL, k1, k2, k3, k4,
      ts REAL NOT NULL DEFAULT (julianday('now')));
    INSERT INTO _slipway_tables VALUES (1, 'items'), (2, 'pairs');
    INSERT INTO _slipway_changelog (seq, tid, k1) VALUES (10, 1, 8), (11, 1, 5);
    UPDATE items SET note = 'newer' WHERE id = 5;
  )sql");
  Pg("CREATE SCHEMA slipway;"
     "CREATE TABLE slipway.tables (source_table text PRIMARY KEY, start_seq bigint);"
     "CREATE TABLE slipway.migration (applied_seq bigint NOT NULL);"
     "INSERT INTO slipway.tables VALUES ('items', 2), ('pairs', 2), ('log', 2), ('kv', 2);"
     "INSERT INTO slipway.migration VALUES (10);");
  auto plan = schema::LoadPlan(plan_path_);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const schema::TableMapping* items = nullptr;
  for (const auto& t : plan->tables) {
    if (t.source == "items") items = &t;
  }
  ASSERT_NE(items, nullptr);
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok()) << pg.status().message();

  cutover::VerifyOptions options;
  int burst = 0;
  options.between_reads = [&] {
    ++burst;
    // 200 new rows, captured after the target's position: pending, not wrong.
    Sqlite(db, R"sql(
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
      INSERT INTO items (id, note) SELECT 1000 + i, 'burst' FROM n;
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
      INSERT INTO _slipway_changelog (seq, tid, k1) SELECT 11 + i, 1, 1000 + i FROM n;
    )sql");
  };
  cutover::Verifier verifier(db, *pg, "public", options);
  ASSERT_TRUE(verifier.Open().ok());
  auto r = verifier.VerifyTable(*items);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(burst, 1) << "the first read found no difference to narrow down";

  EXPECT_TRUE(r->Equal()) << cutover::RenderVerifyText({*r});
  EXPECT_GE(r->pending, 1);
  EXPECT_EQ(r->mismatched, 0);
  EXPECT_EQ(r->source_rows, 500) << "source rows not from the read the verdict comes from";
  EXPECT_EQ(r->target_rows, 300);
  ASSERT_TRUE(r->first_read.has_value());
  EXPECT_EQ(r->first_read->source_rows, 300);
  EXPECT_EQ(r->first_read->target_rows, 300);
  EXPECT_GE(r->first_read->differing_buckets, 1u);
  EXPECT_GE(r->differing_buckets, r->first_read->differing_buckets);
  EXPECT_GT(r->buckets_changed_between_reads, 0u) << "200 new rows all in the one bucket narrowed down";

  const json j = cutover::VerifyToJson({*r});
  const json& t = j["tables"][0];
  EXPECT_EQ(t["source_rows"], 500);
  EXPECT_EQ(t["first_read"]["source_rows"], 300);
  EXPECT_EQ(t["buckets_changed_between_reads"], r->buckets_changed_between_reads);
}

TEST_F(VerifyTest, ValueThePlanCannotEncodeIsADifference) {
  std::string db = MakeSqlite(dir_, "t.db", R"sql(
    CREATE TABLE t (id INTEGER PRIMARY KEY, qty INTEGER);
    INSERT INTO t VALUES (1, 10), (2, 20), (3, 30);
  )sql");
  Migrate(db);
  Sqlite(db, "UPDATE t SET qty = 'lots' WHERE id = 2");
  VerifyRun r = Verify(db, {"--plan", plan_path_});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("id=2  different: qty source (cannot be encoded: value 'lots' does not fit bigint"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("target 20"), std::string::npos) << r.out;
}

// A mapping file choosing bytea for an untyped column of integers, reals,
// text and blobs: every value whose kind bytea cannot keep is different,
// named by table, key, column and value, whether the snapshot copied it or
// the stream carried it; blobs are equal.
TEST_F(VerifyTest, KindTheMappingCannotKeepIsADifference) {
  std::string db = MakeSqlite(dir_, "kinds.db", R"sql(
    CREATE TABLE t (k INTEGER PRIMARY KEY, v);
    INSERT INTO t VALUES (1, 7), (2, 2.5), (3, 'seven'), (4, x'0102');
  )sql");
  std::string mapping = dir_ + "/map.json";
  std::ofstream(mapping) << R"({"tables": {"t": {"columns": {"v": {"type": "bytea"}}}}})";
  plan_path_ = dir_ + "/plan.json";
  RunResult p = RunSlipway({"plan", "--source", db, "--mapping", mapping, "--out", plan_path_});
  ASSERT_EQ(p.exit_code, 0) << p.err << p.out;
  RunResult snap = RunSlipway({"snapshot", "--source", db, "--target", target_, "--plan", plan_path_, "--set-wal"});
  ASSERT_EQ(snap.exit_code, 0) << snap.err;

  VerifyRun r = Verify(db);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("k=1  different: v source INTEGER 7 (bytea keeps only its text: its kind is lost), "
                       "target '\\x37'"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("k=2  different: v source REAL 2.5 (bytea keeps only its text: its kind is lost), "
                       "target '\\x322e35'"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("k=3  different: v source TEXT 'seven'"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("k=4 "), std::string::npos) << r.out;

  Sqlite(db, "UPDATE t SET v = x'0708' WHERE k IN (1, 2, 3); INSERT INTO t VALUES (5, 9), (6, x'09')");
  RunResult stream = RunSlipway({"stream", "--source", db, "--target", target_, "--until-caught-up"});
  ASSERT_EQ(stream.exit_code, 0) << stream.err;
  VerifyRun after = Verify(db, {"--json"});
  EXPECT_EQ(after.exit_code, 1) << after.out << after.err;
  const json* t = FindTable(after.doc, "t");
  ASSERT_NE(t, nullptr) << after.out;
  EXPECT_EQ((*t)["mismatched"], 1) << after.out;
  const json* five = FindKey(*t, "k=5");
  ASSERT_NE(five, nullptr) << after.out;
  EXPECT_EQ((*five)["columns"][0]["column"], "v");
  EXPECT_EQ((*five)["columns"][0]["source"], "INTEGER 9 (bytea keeps only its text: its kind is lost)");
  EXPECT_EQ((*five)["columns"][0]["target"], "'\\x39'");
}

// The cutover's verify compares the kind too: it refuses while such values
// are left, and goes through once SQLite stores them as BLOBs (what bytea
// keeps), carried by the stream like any change.
TEST_F(VerifyTest, KindLossStopsTheCutoverUntilTheValuesAreBlobs) {
  std::string db = MakeSqlite(dir_, "kinds.db", R"sql(
    CREATE TABLE t (k INTEGER PRIMARY KEY, v);
    INSERT INTO t VALUES (1, 7), (2, 2.5), (3, x'0102');
  )sql");
  std::string mapping = dir_ + "/map.json";
  std::ofstream(mapping) << R"({"tables": {"t": {"columns": {"v": {"type": "bytea"}}}}})";
  plan_path_ = dir_ + "/plan.json";
  ASSERT_EQ(RunSlipway({"plan", "--source", db, "--mapping", mapping, "--out", plan_path_}).exit_code, 0);
  RunResult snap = RunSlipway({"snapshot", "--source", db, "--target", target_, "--plan", plan_path_, "--set-wal"});
  ASSERT_EQ(snap.exit_code, 0) << snap.err;
  std::string env = dir_ + "/app.env";
  std::ofstream(env) << "DATABASE_URL=sqlite://" << db << "\n";
  const std::vector<std::string> cutover = {"cutover", "--source", db, "--target", target_,
                                            "--flip-file", env, "--flip-key", "DATABASE_URL"};
  RunResult refused = RunSlipway(cutover);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("differing keys in table t (e.g. k=1)"), std::string::npos) << refused.err;
  Sqlite(db, "INSERT INTO t VALUES (4, 8)");  // SQLite is still the app's database

  Sqlite(db, "UPDATE t SET v = CAST(v AS BLOB) WHERE typeof(v) <> 'blob'");
  RunResult stream = RunSlipway({"stream", "--source", db, "--target", target_, "--until-caught-up"});
  ASSERT_EQ(stream.exit_code, 0) << stream.err;
  EXPECT_EQ(Verify(db).exit_code, 0);
  RunResult moved = RunSlipway(cutover);
  ASSERT_EQ(moved.exit_code, 0) << moved.out << moved.err;
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  auto r = pg->Exec("SELECT string_agg(k || '=' || v::text, ' ' ORDER BY k) FROM t");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Str(0, 0), "1=\\x37 2=\\x322e35 3=\\x0102 4=\\x38");
}

TEST_F(VerifyTest, MissingTargetTableIsAnError) {
  std::string db = MakeSqlite(dir_, "many.db", kManyTypes);
  Migrate(db);
  Pg("DROP TABLE log");
  VerifyRun r = Verify(db);
  EXPECT_EQ(r.exit_code, 8) << r.out << r.err;
  EXPECT_NE(r.err.find("\"public\".\"log\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  Pg("ALTER TABLE kv DROP COLUMN v");
  VerifyRun c = Verify(db, {"--tables", "kv"});
  EXPECT_EQ(c.exit_code, 8) << c.out << c.err;
  EXPECT_NE(c.err.find("no column \"v\""), std::string::npos) << c.err;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// After `slipway snapshot` the target holds the plan the rows were copied
// with: verify compares by it instead of auditing every table again, and the
// snapshot's audit logged one line per table although stderr is no terminal.
TEST_F(VerifyTest, ComparesByThePlanTheTargetHolds) {
  std::string db = MakeSqlite(dir_, "many.db", std::string("PRAGMA journal_mode=WAL;\n") + kManyTypes);
  RunResult snap = RunSlipway({"snapshot", "--source", db, "--target", target_});
  ASSERT_EQ(snap.exit_code, 0) << snap.err;
  EXPECT_NE(snap.err.find("audited table=items"), std::string::npos) << snap.err;
  VerifyRun v = Verify(db);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.err.find("comparing by the plan the target holds"), std::string::npos) << v.err;
  EXPECT_EQ(v.err.find("audited table="), std::string::npos) << v.err;
  // A file whose schema changed since: a plan is built for it, as before.
  {
    auto w = Db::Open(db, Db::Mode::kReadWrite);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Exec("ALTER TABLE items ADD COLUMN extra TEXT").ok());
  }
  VerifyRun changed = Verify(db);
  EXPECT_NE(changed.err.find("does not fit the file's schema any more"), std::string::npos) << changed.err;
  EXPECT_NE(changed.err.find("audited table="), std::string::npos) << changed.err;
}

TEST_F(VerifyTest, HundredThousandRows) {
  std::string db = MakeSqlite(dir_, "big.db", R"sql(
    CREATE TABLE big (id INTEGER PRIMARY KEY, name TEXT, amount REAL, created DATETIME, flag BOOLEAN,
                      price DECIMAL(12,2), payload BLOB);
    CREATE TABLE app_log (id INTEGER PRIMARY KEY, msg TEXT);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
    INSERT INTO big SELECT i, 'customer name ' || i, i / 3.0, printf('2024-%02d-%02d %02d:%02d:%02d', i % 12 + 1,
      i % 28 + 1, i % 24, i % 60, i % 60), i % 2, i * 0.25, randomblob(16) FROM n;
  )sql");
  Migrate(db, {"big"});

  // A plain read of each side, for comparison.
  auto t0 = std::chrono::steady_clock::now();
  {
    auto src = Db::Open(db, Db::Mode::kReadOnly);
    ASSERT_TRUE(src.ok());
    auto st = src->Prepare("SELECT id, name, amount, created, flag, price, payload FROM big");
    ASSERT_TRUE(st.ok());
    int64_t rows = 0;
    while (*st->Step()) ++rows;
    EXPECT_EQ(rows, 100000);
  }
  const double sqlite_read = Seconds(t0);
  t0 = std::chrono::steady_clock::now();
  {
    auto conn = PgConn::Connect(target_);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(conn->Run("COPY big TO STDOUT").ok());
    int64_t rows = 0;
    char* buf = nullptr;
    while (PQgetCopyData(conn->get(), &buf, 0) > 0) {
      ++rows;
      PQfreemem(buf);
    }
    while (PGresult* r = PQgetResult(conn->get())) PQclear(r);
    EXPECT_EQ(rows, 100000);
  }
  const double pg_read = Seconds(t0);

  t0 = std::chrono::steady_clock::now();
  VerifyRun r = Verify(db, {"--plan", plan_path_, "--json"}, {"SLIPWAY_LOG=debug"});
  const double verify = Seconds(t0);
  std::printf("%s", r.err.c_str());  // the per-side times
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json& big = *FindTable(r.doc, "big");
  EXPECT_EQ(big["source_rows"], 100000);
  std::printf("verify of 100k rows: %.3f s in the table (%.3f s for the whole command); plain read: sqlite %.3f s, "
              "postgresql COPY %.3f s\n",
              big["seconds"].get<double>(), verify, sqlite_read, pg_read);

  // The app keeps writing while verify reads (WAL): verify only ever takes
  // read transactions, so no write waits for it.
  Sqlite(db, "PRAGMA journal_mode=WAL");
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0}, failed{0};
  std::atomic<int64_t> worst_us{0};
  std::thread app([&] {
    auto w = Db::Open(db, Db::Mode::kReadWrite, /*busy_timeout_ms=*/5000);
    if (!w.ok()) {
      ++failed;
      return;
    }
    for (int i = 0; !stop; ++i) {
      auto t = std::chrono::steady_clock::now();
      Status s = w->Exec("INSERT INTO app_log (msg) VALUES ('write " + std::to_string(i) + "')");
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t).count();
      if (us > worst_us) worst_us = us;
      ++(s.ok() ? writes : failed);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  VerifyRun during = Verify(db, {"--plan", plan_path_, "--tables", "big", "--json"});
  stop = true;
  app.join();
  EXPECT_EQ(during.exit_code, 0) << during.out << during.err;
  EXPECT_EQ(failed, 0);
  EXPECT_GT(writes, 0);
  std::printf("app writes during verify: %d, slowest %.1f ms\n", writes.load(), worst_us.load() / 1000.0);

  // One changed row among 100k is found and named.
  Pg("UPDATE big SET amount = amount + 1e-9 WHERE id = 77777");
  t0 = std::chrono::steady_clock::now();
  VerifyRun bad = Verify(db, {"--plan", plan_path_, "--tables", "big", "--json"});
  ASSERT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  const json& b = *FindTable(bad.doc, "big");
  std::printf("verify with one difference: %.3f s (two passes)\n", b["seconds"].get<double>());
  EXPECT_EQ(b["mismatched"], 1);
  EXPECT_EQ(b["differing_buckets"], 1);
  ASSERT_EQ(b["keys"].size(), 1u);
  EXPECT_EQ(b["keys"][0]["key"], "id=77777");
  EXPECT_EQ(b["keys"][0]["columns"][0]["column"], "amount");
}

}  // namespace
}  // namespace slipway::testing
