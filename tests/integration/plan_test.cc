// `slipway plan` end to end: the real binary, real SQLite files built here or
// taken from the corpus, a real PostgreSQL from the harness.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/pg.h"
#include "common/sqlite.h"
#include "tests/harness/sqlite_fixture.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

struct PlanRun {
  int exit_code;
  json plan;
  std::string err;
};

PlanRun Plan(const std::string& db, const std::string& target, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"plan", "--source", db, "--json"};
  if (!target.empty()) {
    args.push_back("--target");
    args.push_back(target);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  RunResult r = RunSlipway(args);
  PlanRun out{r.exit_code, json::parse(r.out, nullptr, false), r.err};
  return out;
}

const json* FindColumn(const json& plan, const std::string& table, const std::string& column) {
  for (const auto& t : plan["tables"]) {
    if (t["source"] != table) continue;
    for (const auto& c : t["columns"]) {
      if (c["source"] == column) return &c;
    }
  }
  return nullptr;
}

std::vector<json> NotesFor(const json& plan, const std::string& table, const std::string& column,
                           const std::string& severity) {
  std::vector<json> out;
  for (const auto& n : plan["notes"]) {
    if (n["table"] == table && n.value("column", "") == column && n["severity"] == severity) out.push_back(n);
  }
  return out;
}

int64_t CountTables(const std::string& uri) {
  auto c = PgConn::Connect(uri);
  EXPECT_TRUE(c.ok());
  auto r = c->Exec("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema')");
  EXPECT_TRUE(r.ok());
  return std::stoll(r->Str(0, 0));
}

using PlanTest = TargetTest;

TEST_F(PlanTest, TypesChosenFromTheData) {
  std::string db = MakeSqlite(dir_, "types.db", R"sql(
    CREATE TABLE t (
      id INTEGER PRIMARY KEY,
      done BOOLEAN, flag BOOLEAN, price DECIMAL(6,2), big DECIMAL(3,1),
      created DATETIME, born DATE, at_zone TEXT, zones TEXT, mixed_dates DATETIME,
      epoch DATETIME, doc JSON, doc_compact JSON, doc_text TEXT, uid TEXT,
      qty INTEGER, ratio REAL, inf REAL, untyped, raw BLOB);
    INSERT INTO t VALUES (1, 1, 0, 4.99, 12.5, '2024-01-02 03:04:05', '1990-05-06', '2024-01-02T03:04:05Z',
      '2024-01-02 03:04:05+02:00', '2024-01-02', 1700000000, '{"a": 1, "b": [1, 2]}', '{"b":1,"a":2}', '[1, 2]',
      '0b5c1f1e-9d5a-4c1e-8f6a-2d3b4c5d6e7f', 5, 0.1, 9e999, 'x', x'00ff');
    INSERT INTO t VALUES (2, 0, 2, 10, 1234.5, '2024-02-29 23:59:59', '2000-02-29', '2024-01-03T00:00:00Z',
      '2024-01-02 03:04:05-05:00', '2024-01-02 10:00:00', 1700000001, '{}', '[1,2]', '{"k": "v"}',
      '1b5c1f1e-9d5a-4c1e-8f6a-2d3b4c5d6e7f', 'lots', -2.5, -9e999, 7, x'01');
  )sql");
  PlanRun r = Plan(db, target_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto type = [&](const char* col) { return (*FindColumn(r.plan, "t", col))["type"].get<std::string>(); };
  auto repr = [&](const char* col) { return (*FindColumn(r.plan, "t", col))["repr"].get<std::string>(); };
  EXPECT_EQ(type("done"), "boolean");
  EXPECT_EQ(repr("done"), "bool01");
  EXPECT_EQ(type("flag"), "bigint");
  EXPECT_EQ(NotesFor(r.plan, "t", "flag", "widened").size(), 1u);
  EXPECT_EQ(type("price"), "numeric(6,2)");
  EXPECT_EQ(type("big"), "numeric");
  EXPECT_EQ(type("created"), "timestamp");
  EXPECT_EQ((*FindColumn(r.plan, "t", "created"))["format"], "YYYY-MM-DD HH:MM:SS");
  EXPECT_EQ(type("born"), "date");
  EXPECT_EQ(type("at_zone"), "timestamptz");
  EXPECT_EQ((*FindColumn(r.plan, "t", "at_zone"))["zone_offset"], "Z");
  EXPECT_EQ(type("zones"), "text");
  EXPECT_EQ(NotesFor(r.plan, "t", "zones", "warning").size(), 1u);
  EXPECT_EQ(type("mixed_dates"), "text");
  EXPECT_EQ(NotesFor(r.plan, "t", "mixed_dates", "warning").size(), 1u);
  EXPECT_EQ(type("epoch"), "timestamptz");
  EXPECT_EQ(repr("epoch"), "unix_seconds");
  EXPECT_EQ(type("doc"), "jsonb");
  EXPECT_EQ(type("doc_compact"), "json");
  EXPECT_EQ(type("doc_text"), "jsonb");
  EXPECT_EQ(type("uid"), "uuid");
  EXPECT_EQ(type("qty"), "text");
  auto widened = NotesFor(r.plan, "t", "qty", "widened");
  ASSERT_EQ(widened.size(), 1u);
  EXPECT_EQ(widened[0]["count"], 1);
  EXPECT_EQ(widened[0]["example_keys"][0], "id=2");
  EXPECT_EQ(type("ratio"), "double precision");
  EXPECT_EQ(type("inf"), "double precision");
  EXPECT_EQ(type("untyped"), "text");
  EXPECT_EQ(type("raw"), "bytea");
  EXPECT_TRUE(r.plan["summary"]["ddl_validated"]);
  EXPECT_EQ(CountTables(target_), 0) << "plan must leave the target as it was";
}

TEST_F(PlanTest, KeepProfileKeepsStorageTypes) {
  std::string db = MakeSqlite(dir_, "keep.db", R"sql(
    CREATE TABLE t (id INTEGER PRIMARY KEY, done BOOLEAN, created DATETIME, doc JSON, price DECIMAL(6,2));
    INSERT INTO t VALUES (1, 1, '2024-01-02 03:04:05', '{"a": 1}', 4.5);
  )sql");
  PlanRun r = Plan(db, target_, {"--types", "keep"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ((*FindColumn(r.plan, "t", "done"))["type"], "bigint");
  EXPECT_EQ((*FindColumn(r.plan, "t", "created"))["type"], "text");
  EXPECT_EQ((*FindColumn(r.plan, "t", "doc"))["type"], "text");
  EXPECT_EQ((*FindColumn(r.plan, "t", "price"))["type"], "double precision");
}

TEST_F(PlanTest, TextPostgresCannotHoldIsWidenedToBytea) {
  std::string db = MakeSqlite(dir_, "bytes.db", R"sql(
    CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, nul TEXT);
    INSERT INTO t VALUES (1, 'fine', 'ok');
    INSERT INTO t VALUES (2, CAST(x'66ff6f' AS TEXT), CAST(x'610062' AS TEXT));
  )sql");
  PlanRun r = Plan(db, target_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ((*FindColumn(r.plan, "t", "name"))["type"], "bytea");
  EXPECT_EQ((*FindColumn(r.plan, "t", "name"))["repr"], "text_as_bytes");
  EXPECT_EQ((*FindColumn(r.plan, "t", "nul"))["type"], "bytea");
  auto n = NotesFor(r.plan, "t", "name", "widened");
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0]["example_keys"][0], "id=2");
}

TEST_F(PlanTest, MixedBlobAndTextBlocksWithExitCode3) {
  std::string db = MakeSqlite(dir_, "mixed.db", R"sql(
    CREATE TABLE t (k TEXT PRIMARY KEY, v);
    INSERT INTO t VALUES ('a', 'text'), ('b', x'0102'), ('c', 3);
  )sql");
  PlanRun r = Plan(db, target_);
  EXPECT_EQ(r.exit_code, 3);
  auto n = NotesFor(r.plan, "t", "v", "blocking");
  ASSERT_EQ(n.size(), 1u);
  EXPECT_FALSE(r.plan["summary"]["clean"]);
  // The mapping file resolves it: the user chooses bytea.
  std::string mapping = dir_ + "/map.json";
  std::ofstream(mapping) << R"({"tables": {"t": {"columns": {"v": {"type": "bytea"}}}}})";
  PlanRun fixed = Plan(db, target_, {"--mapping", mapping});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_EQ((*FindColumn(fixed.plan, "t", "v"))["repr"], "any_as_bytes");
}

// A mapping that keeps only a value's text or bytes, not its kind, is loud:
// per column and storage class, a rollback risk with the count and example
// keys, in the plan's JSON and its text.
TEST_F(PlanTest, MappingThatLosesTheKindIsARollbackRiskPerKind) {
  std::string db = MakeSqlite(dir_, "kinds.db", R"sql(
    CREATE TABLE t (k INTEGER PRIMARY KEY, v);
    INSERT INTO t VALUES (1, 7), (2, 8), (3, 2.5), (4, 'seven'), (5, x'0102');
  )sql");
  std::string mapping = dir_ + "/map.json";
  std::ofstream(mapping) << R"({"tables": {"t": {"columns": {"v": {"type": "bytea"}}}}})";
  PlanRun r = Plan(db, target_, {"--mapping", mapping});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto warnings = NotesFor(r.plan, "t", "v", "warning");
  std::map<std::string, json> by_kind;
  for (const auto& n : warnings) {
    const std::string m = n["message"];
    if (m.rfind("rollback risk: ", 0) != 0) continue;
    for (const char* kind : {"INTEGER", "REAL", "TEXT", "BLOB"}) {
      if (m.find(std::string(" ") + kind + " values") != std::string::npos) by_kind[kind] = n;
    }
  }
  ASSERT_EQ(by_kind.count("INTEGER"), 1u) << r.plan["notes"].dump();
  EXPECT_EQ(by_kind["INTEGER"]["count"], 2);
  EXPECT_EQ(by_kind["INTEGER"]["example_keys"], json::array({"k=1", "k=2"}));
  ASSERT_EQ(by_kind.count("REAL"), 1u);
  EXPECT_EQ(by_kind["REAL"]["count"], 1);
  EXPECT_EQ(by_kind["REAL"]["example_keys"], json::array({"k=3"}));
  ASSERT_EQ(by_kind.count("TEXT"), 1u);
  EXPECT_EQ(by_kind["TEXT"]["example_keys"], json::array({"k=4"}));
  EXPECT_EQ(by_kind.count("BLOB"), 0u) << "blobs keep their kind in bytea";

  RunResult text = RunSlipway({"plan", "--source", db, "--mapping", mapping});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("t.v: rollback risk: 2 INTEGER values land in bytea as the bytes of their text"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("e.g. k=1 -> 7; k=2 -> 8"), std::string::npos) << text.out;

  // A column of blobs only: nothing to say.
  std::string blobs = MakeSqlite(dir_, "blobs.db", R"sql(
    CREATE TABLE t (k INTEGER PRIMARY KEY, v);
    INSERT INTO t VALUES (1, x'07'), (2, x'08');
  )sql");
  PlanRun clean = Plan(blobs, target_, {"--mapping", mapping});
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_TRUE(NotesFor(clean.plan, "t", "v", "warning").empty()) << clean.plan["notes"].dump();
}

// Trigger capture cannot see SQLite's incremental blob API: the plan says so
// for each table with a column holding TEXT or BLOB values, and only there.
TEST_F(PlanTest, TablesWithTextOrBlobColumnsNoteIncrementalBlobWrites) {
  std::string db = MakeSqlite(dir_, "blobs.db", R"sql(
    CREATE TABLE files (id INTEGER PRIMARY KEY, data BLOB);
    INSERT INTO files VALUES (1, x'0102');
    CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
    INSERT INTO notes VALUES (1, 'hello');
    CREATE TABLE counts (id INTEGER PRIMARY KEY, n INTEGER, ratio REAL);
    INSERT INTO counts VALUES (1, 2, 0.5);
  )sql");
  PlanRun r = Plan(db, target_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto blob_note = [&](const std::string& table) {
    int n = 0;
    for (const auto& note : NotesFor(r.plan, table, "", "info")) {
      n += note["message"].get<std::string>().find("incremental blob API") != std::string::npos;
    }
    return n;
  };
  EXPECT_EQ(blob_note("files"), 1) << r.plan["notes"].dump();
  EXPECT_EQ(blob_note("notes"), 1);
  EXPECT_EQ(blob_note("counts"), 0);
  RunResult text = RunSlipway({"plan", "--source", db});
  EXPECT_NE(text.out.find("files: trigger capture cannot see writes through SQLite's incremental blob API"),
            std::string::npos)
      << text.out;
}

TEST_F(PlanTest, MappingFileRenamesSkipsAndChecksFit) {
  std::string db = MakeSqlite(dir_, "m.db", R"sql(
    CREATE TABLE People (id INTEGER PRIMARY KEY, Name TEXT, secret TEXT, age TEXT);
    INSERT INTO People VALUES (1, 'a', 's', '42'), (2, 'b', 't', 'old');
  )sql");
  std::string mapping = dir_ + "/map.json";
  std::ofstream(mapping) << R"({"tables": {"People": {"target": "persons", "columns": {
      "Name": {"target": "full_name"}, "secret": {"skip": true}, "age": {"type": "integer"}}}}})";
  PlanRun r = Plan(db, target_, {"--mapping", mapping});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.plan["tables"][0]["target"], "persons");
  EXPECT_EQ((*FindColumn(r.plan, "People", "Name"))["target"], "full_name");
  EXPECT_TRUE((*FindColumn(r.plan, "People", "secret"))["skip"]);
  auto n = NotesFor(r.plan, "People", "age", "blocking");
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0]["count"], 2);
  RunResult ddl = RunSlipway({"plan", "--source", db, "--mapping", mapping, "--ddl"});
  EXPECT_EQ(ddl.out.find("secret"), std::string::npos) << ddl.out;
  EXPECT_NE(ddl.out.find("\"full_name\" text"), std::string::npos) << ddl.out;
}

TEST_F(PlanTest, NamesFoldCollideAndShorten) {
  // SQLite names are case-insensitive, so folding alone cannot merge two;
  // truncation and user renames can, and must be caught.
  std::string long_a(70, 'a');
  std::string long_b = long_a;
  long_b.back() = 'b';
  std::string db = MakeSqlite(dir_, "names.db",
                              "CREATE TABLE \"MixedCase Table\" (id INTEGER PRIMARY KEY, \"Name\" TEXT, other TEXT);"
                              "CREATE TABLE foo (id INTEGER PRIMARY KEY);"
                              "CREATE TABLE \"select\" (\"group\" INTEGER PRIMARY KEY, " + long_a + " INTEGER, " + long_b +
                                  " INTEGER);");
  PlanRun r = Plan(db, target_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.plan["tables"][0]["target"], "mixedcase table");
  EXPECT_EQ((*FindColumn(r.plan, "MixedCase Table", "Name"))["target"], "name");
  std::string a = (*FindColumn(r.plan, "select", long_a))["target"];
  std::string b = (*FindColumn(r.plan, "select", long_b))["target"];
  EXPECT_LE(a.size(), 63u);
  EXPECT_LE(b.size(), 63u);
  EXPECT_NE(a, b);
  PlanRun kept = Plan(db, target_, {"--keep-names"});
  EXPECT_EQ(kept.exit_code, 0) << kept.err;
  EXPECT_EQ(kept.plan["tables"][0]["target"], "MixedCase Table");
  // Renames that land on one name are reported, never merged.
  std::string mapping = dir_ + "/map.json";
  std::ofstream(mapping) << R"({"tables": {"foo": {"target": "mixedcase table"},
      "MixedCase Table": {"columns": {"other": {"target": "name"}}}}})";
  PlanRun clash = Plan(db, target_, {"--mapping", mapping});
  EXPECT_EQ(clash.exit_code, 3);
  EXPECT_EQ(NotesFor(clash.plan, "MixedCase Table", "other", "blocking").size(), 1u) << clash.plan["notes"].dump(1);
  EXPECT_GE(NotesFor(clash.plan, "foo", "", "blocking").size(), 1u);
}

TEST_F(PlanTest, TableSelectionWithGlobs) {
  std::string db = MakeSqlite(dir_, "sel.db",
                              "CREATE TABLE app_users (id INTEGER PRIMARY KEY); CREATE TABLE app_logs (id INTEGER PRIMARY KEY);"
                              "CREATE TABLE other (id INTEGER PRIMARY KEY);");
  PlanRun r = Plan(db, "", {"--tables", "app_*", "--exclude", "*_logs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.plan["tables"].size(), 1u);
  EXPECT_EQ(r.plan["tables"][0]["source"], "app_users");
}

TEST_F(PlanTest, DefaultsTranslatedOrDroppedLoudly) {
  std::string db = MakeSqlite(dir_, "def.db", R"sql(
    CREATE TABLE t (id INTEGER PRIMARY KEY, created DATETIME DEFAULT CURRENT_TIMESTAMP,
      label TEXT DEFAULT 'it''s', active BOOLEAN DEFAULT TRUE, n INTEGER DEFAULT '0',
      r INTEGER DEFAULT (abs(random())), stamp TEXT DEFAULT (datetime('now')));
    INSERT INTO t (id) VALUES (1);
  )sql");
  PlanRun r = Plan(db, target_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ((*FindColumn(r.plan, "t", "created"))["default"], "((CURRENT_TIMESTAMP AT TIME ZONE 'UTC'))::timestamp(0)");
  EXPECT_EQ((*FindColumn(r.plan, "t", "label"))["default"], "'it''s'::text");
  EXPECT_EQ((*FindColumn(r.plan, "t", "active"))["default"], "'t'::boolean");
  EXPECT_EQ((*FindColumn(r.plan, "t", "n"))["default"], "'0'::bigint");
  EXPECT_FALSE(FindColumn(r.plan, "t", "r")->contains("default"));
  EXPECT_EQ(NotesFor(r.plan, "t", "r", "warning").size(), 1u);
  // The one value is datetime() text, so the column is a timestamp.
  EXPECT_EQ((*FindColumn(r.plan, "t", "stamp"))["default"], "((CURRENT_TIMESTAMP AT TIME ZONE 'UTC'))::timestamp(0)");
}

TEST_F(PlanTest, ConstraintsIndexesAndForeignKeysReachTheDdl) {
  std::string db = MakeSqlite(dir_, "cons.db", R"sql(
    CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT UNIQUE, email TEXT COLLATE NOCASE);
    CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE
        DEFERRABLE INITIALLY DEFERRED, qty INTEGER CHECK (qty >= 0), note TEXT,
        CONSTRAINT positive CHECK (id > 0));
    CREATE INDEX child_note ON child(note) WHERE note IS NOT NULL;
    CREATE INDEX child_lower ON child(lower(note));
    CREATE VIEW v AS SELECT * FROM child;
    CREATE TRIGGER tr AFTER INSERT ON child BEGIN SELECT 1; END;
    INSERT INTO parent VALUES (1, 'a', 'x@y'); INSERT INTO child VALUES (1, 1, 3, 'n'), (2, 99, 1, NULL);
    DELETE FROM parent WHERE id = 1; INSERT INTO parent (code) VALUES ('b');
  )sql");
  RunResult r = RunSlipway({"plan", "--source", db, "--target", target_, "--ddl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GENERATED BY DEFAULT AS IDENTITY"), std::string::npos);
  EXPECT_NE(r.out.find("CREATE UNIQUE INDEX"), std::string::npos);
  EXPECT_NE(r.out.find("ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED NOT VALID"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CHECK (\"qty\" >= 0)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ADD CONSTRAINT \"positive\" CHECK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("WHERE \"note\" IS NOT NULL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(lower(\"note\"))"), std::string::npos) << r.out;
  // The DDL really runs.
  auto conn = PgConn::Connect(target_);
  ASSERT_TRUE(conn.ok());
  Status s = conn->Run(r.out);
  EXPECT_TRUE(s.ok()) << s.message();
  PlanRun j = Plan(db, "");
  EXPECT_EQ(j.plan["tables"][0]["sqlite_sequence"], 2);
  EXPECT_EQ(NotesFor(j.plan, "parent", "email", "warning").size(), 1u);  // NOCASE
  bool fk_violation = false, view = false, trigger = false;
  for (const auto& n : j.plan["notes"]) {
    std::string m = n["message"];
    fk_violation = fk_violation || (n["table"] == "child" && m.find("foreign key") != std::string::npos && n["count"] == 2);
    view = view || m.find("view not migrated") != std::string::npos;
    trigger = trigger || m.find("trigger tr") != std::string::npos;
  }
  EXPECT_TRUE(fk_violation) << j.plan["notes"].dump(1);
  EXPECT_TRUE(view);
  EXPECT_TRUE(trigger);
}

// The plan counts rows that break a foreign key without a lookup per row
// where the key is one column referring to a rowid; the counts and example
// rowids are pragma_foreign_key_check's, for every shape of key and value,
// with one job or several.
TEST_F(PlanTest, ForeignKeyViolationsAreThoseOfSqlitesCheck) {
  std::string db = MakeSqlite(dir_, "fks.db", R"sql(
    CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT UNIQUE);
    CREATE TABLE q (a INTEGER, b TEXT, PRIMARY KEY (a, b));
    CREATE TABLE w (k INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID;
    CREATE TABLE ints (id INTEGER PRIMARY KEY, p1 INTEGER REFERENCES p(id), p2 INTEGER REFERENCES P);
    CREATE TABLE texts (id INTEGER PRIMARY KEY, p1 TEXT REFERENCES p(id));
    CREATE TABLE reals (id INTEGER PRIMARY KEY, p1 REFERENCES p);
    CREATE TABLE other (id INTEGER PRIMARY KEY, c TEXT REFERENCES p(code), k INTEGER REFERENCES w(k),
                        a INTEGER, b TEXT, FOREIGN KEY (a, b) REFERENCES q(a, b));
    CREATE TABLE orphan (id INTEGER PRIMARY KEY, x INTEGER REFERENCES gone(id));
    INSERT INTO p VALUES (1, 'a'), (2, 'b'), (5, 'c'), (1000, 'd');
    INSERT INTO q VALUES (1, 'x');
    INSERT INTO w VALUES (1, 'y');
    INSERT INTO ints VALUES (1, 1, 2), (2, 3, NULL), (3, NULL, 4), (4, 5, 1000), (5, -1, 0), (6, 1001, 3),
                            (7, 9223372036854775807, -9223372036854775808), (8, 4, 4);
    INSERT INTO texts VALUES (1, '1'), (2, '3'), (3, 'x'), (4, NULL), (5, '5');
    INSERT INTO reals VALUES (1, 1.0), (2, 2.5), (3, 5), (4, x'01'), (5, '2'), (6, 7);
    INSERT INTO other VALUES (1, 'a', 1, 1, 'x'), (2, 'z', 2, 1, 'y'), (3, NULL, NULL, NULL, 'x');
    INSERT INTO orphan VALUES (1, 1), (2, NULL);
  )sql");
  // What SQLite's own check finds: count and first example rowids per table and key.
  std::map<std::string, std::pair<int64_t, std::vector<std::string>>> expected;
  {
    auto src = Db::Open(db, Db::Mode::kReadOnly);
    ASSERT_TRUE(src.ok());
    for (const char* t : {"ints", "texts", "reals", "other", "orphan"}) {
      auto st = src->Prepare(std::string("SELECT rowid, fkid FROM pragma_foreign_key_check('") + t + "')");
      ASSERT_TRUE(st.ok());
      while (true) {
        auto row = st->Step();
        ASSERT_TRUE(row.ok());
        if (!*row) break;
        auto& e = expected[std::string(t) + "/" + std::to_string(st->Int(1))];
        ++e.first;
        if (e.second.size() < 3) e.second.push_back("rowid=" + std::to_string(st->Int(0)));
      }
    }
  }
  ASSERT_GE(expected.size(), 6u);
  for (const char* jobs : {"1", "3"}) {
    SCOPED_TRACE(std::string("jobs ") + jobs);
    PlanRun j = Plan(db, "", {"--jobs", jobs});
    ASSERT_TRUE(j.plan.is_object()) << j.err;
    // Notes name the table and the referenced table; per table they come in
    // key order, as the check's fkid.
    std::map<std::string, std::vector<json>> notes;
    for (const auto& n : j.plan["notes"]) {
      if (n["message"].get<std::string>().find("break the foreign key") == std::string::npos) continue;
      notes[n["table"]].push_back(n);
    }
    std::map<std::string, std::pair<int64_t, std::vector<std::string>>> got;
    auto src = Db::Open(db, Db::Mode::kReadOnly);
    ASSERT_TRUE(src.ok());
    for (const auto& [table, list] : notes) {
      auto st = src->Prepare("SELECT id FROM pragma_foreign_key_list('" + table + "') GROUP BY id ORDER BY id");
      ASSERT_TRUE(st.ok());
      std::vector<int64_t> ids;
      while (*st->Step()) ids.push_back(st->Int(0));
      size_t i = 0;
      for (int64_t id : ids) {
        std::string key = table + "/" + std::to_string(id);
        if (expected.count(key) == 0) continue;
        ASSERT_LT(i, list.size()) << table;
        got[key] = {list[i]["count"].get<int64_t>(), list[i]["example_keys"].get<std::vector<std::string>>()};
        ++i;
      }
      EXPECT_EQ(i, list.size()) << table;
    }
    EXPECT_EQ(got, expected);
  }
}

TEST_F(PlanTest, EveryCorpusDatabasePlansAndItsDdlRuns) {
  namespace fs = std::filesystem;
  std::string root = CorpusPath("");
  ASSERT_TRUE(fs::exists(root)) << root;
  int planned = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string p = e.path().string();
    if (!e.is_regular_file() || (e.path().extension() != ".db" && e.path().extension() != ".sqlite")) continue;
    SCOPED_TRACE(p);
    std::string target = FreshDatabase();
    struct stat before {};
    ::stat(p.c_str(), &before);
    RunResult r = RunSlipway({"plan", "--source", p, "--target", target, "--ddl"});
    ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 3) << r.err;
    auto conn = PgConn::Connect(target);
    ASSERT_TRUE(conn.ok());
    Status s = conn->Run(r.out);
    EXPECT_TRUE(s.ok()) << s.message();
    struct stat after {};
    ::stat(p.c_str(), &after);
    EXPECT_EQ(before.st_mtime, after.st_mtime);
    EXPECT_EQ(before.st_size, after.st_size);
    ++planned;
  }
  EXPECT_GE(planned, 30);
}

TEST_F(PlanTest, ExistingTargetSchemaIsCheckedValueByValue) {
  std::string db = MakeSqlite(dir_, "ex.db", R"sql(
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, code TEXT, score INTEGER, nick TEXT);
    INSERT INTO users VALUES (1, 'alice', 'ABCD', 5000000000, NULL), (2, 'bob', 'XY', 3, 'b');
    CREATE TABLE nokey (id INTEGER PRIMARY KEY, v TEXT);
  )sql");
  auto conn = PgConn::Connect(target_);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn->Run("CREATE TABLE users (id bigint PRIMARY KEY, name text, code varchar(3), score integer, "
                        "nick text NOT NULL, extra int NOT NULL); CREATE TABLE nokey (id bigint, v text)")
                  .ok());
  PlanRun r = Plan(db, target_, {"--target-schema", "existing"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(NotesFor(r.plan, "users", "code", "blocking").size(), 1u) << r.plan["notes"].dump(1);
  EXPECT_EQ(NotesFor(r.plan, "users", "score", "blocking").size(), 1u);
  EXPECT_EQ(NotesFor(r.plan, "users", "nick", "blocking").size(), 1u);
  EXPECT_GE(NotesFor(r.plan, "users", "", "blocking").size(), 1u);  // extra NOT NULL column
  EXPECT_GE(NotesFor(r.plan, "nokey", "", "blocking").size(), 1u);  // no unique key
  EXPECT_EQ(NotesFor(r.plan, "users", "name", "blocking").size(), 0u);
  // A compatible schema is clean.
  ASSERT_TRUE(conn->Run("DROP TABLE users, nokey; CREATE TABLE users (id bigint PRIMARY KEY, name text, code varchar(10), "
                        "score bigint, nick text); CREATE TABLE nokey (id integer PRIMARY KEY, v varchar(5))")
                  .ok());
  PlanRun ok = Plan(db, target_, {"--target-schema", "existing"});
  EXPECT_EQ(ok.exit_code, 0) << ok.plan["notes"].dump(1);
}

TEST_F(PlanTest, SavedPlanRecordsRepresentations) {
  std::string db = MakeSqlite(dir_, "save.db", R"sql(
    CREATE TABLE t (id INTEGER PRIMARY KEY, d DATETIME, b BOOLEAN);
    INSERT INTO t VALUES (1, '2024-01-02T03:04:05.123', 1);
  )sql");
  std::string out = dir_ + "/plan.json";
  RunResult r = RunSlipway({"plan", "--source", db, "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(out);
  json saved = json::parse(in);
  EXPECT_EQ((*FindColumn(saved, "t", "d"))["format"], "YYYY-MM-DDTHH:MM:SS.fff");
  EXPECT_EQ((*FindColumn(saved, "t", "b"))["repr"], "bool01");
  EXPECT_FALSE(saved["source"]["fingerprint"].get<std::string>().empty());
}

// Bad input: one line on stderr, a distinct exit code, nothing touched.
TEST_F(PlanTest, BadInputGetsOneLineAndDistinctExitCodes) {
  std::string good = MakeSqlite(dir_, "good.db", "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);");
  std::string script = dir_ + "/script.sqlite";
  std::ofstream(script) << "CREATE TABLE t (id INTEGER);\nINSERT INTO t VALUES (1);\n";
  std::string corrupt = dir_ + "/corrupt.db";
  {
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t i = 100; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
    std::ofstream(corrupt, std::ios::binary) << bytes;
  }
  auto one_line = [](const RunResult& r) {
    return !r.err.empty() && r.err.find('\n') == r.err.size() - 1 && r.err.rfind("slipway: error: ", 0) == 0;
  };
  RunResult missing = RunSlipway({"plan", "--source", dir_ + "/nope.db"});
  EXPECT_EQ(missing.exit_code, 4);
  EXPECT_TRUE(one_line(missing)) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/nope.db"));

  RunResult not_db = RunSlipway({"plan", "--source", script});
  EXPECT_EQ(not_db.exit_code, 5);
  EXPECT_TRUE(one_line(not_db)) << not_db.err;
  EXPECT_NE(not_db.err.find("not a SQLite database"), std::string::npos);

  RunResult bad = RunSlipway({"plan", "--source", corrupt});
  EXPECT_EQ(bad.exit_code, 5) << bad.err;
  EXPECT_TRUE(one_line(bad)) << bad.err;

  auto* c = PgEnvironment::cluster();
  RunResult unreachable = RunSlipway({"plan", "--source", good, "--target",
                                      "postgresql:///postgres?host=" + dir_ + "/nosocket&port=1&user=postgres"});
  EXPECT_EQ(unreachable.exit_code, 6);
  EXPECT_TRUE(one_line(unreachable)) << unreachable.err;

  std::string pw_uri = c->UriFor("postgres", "slipway_pw") + "&password=hunter2-wrong";
  RunResult auth = RunSlipway({"plan", "--source", good, "--target", pw_uri});
  EXPECT_EQ(auth.exit_code, 7);
  EXPECT_TRUE(one_line(auth)) << auth.err;
  EXPECT_EQ(auth.err.find("hunter2"), std::string::npos) << auth.err;
  EXPECT_EQ(auth.out.find("hunter2"), std::string::npos);

  RunResult usage = RunSlipway({"plan", "--source", good, "--bogus"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_TRUE(one_line(usage)) << usage.err;

  RunResult unknown = RunSlipway({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(CountTables(target_), 0);
}

}  // namespace
}  // namespace slipway::testing
