// Tests of AuditTable(): small SQLite files with known values, and the exact
// counters and example keys the audit must report for them. The Table
// structs are written by hand, as Introspect() would fill them.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/sqlite.h"
#include "schema/audit.h"
#include "schema/model.h"

namespace slipway::schema {
namespace {

using Examples = std::vector<std::string>;

Table MakeTable(const std::string& name, const std::vector<std::pair<std::string, std::string>>& columns,
                const std::vector<std::string>& primary_key = {}, bool without_rowid = false) {
  Table t;
  t.name = name;
  t.without_rowid = without_rowid;
  t.primary_key = primary_key;
  int cid = 0;
  for (const auto& [column, type] : columns) {
    Column c;
    c.name = column;
    c.cid = cid++;
    c.declared_type = type;
    c.affinity = AffinityOf(type);
    for (size_t i = 0; i < primary_key.size(); ++i) {
      if (primary_key[i] == column) c.pk_position = static_cast<int>(i) + 1;
    }
    t.columns.push_back(c);
  }
  return t;
}

class AuditScan : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slipway-audit-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A fresh database holding what `sql` creates.
  Db Create(const std::string& sql) {
    auto db = Db::OpenOrCreate(dir_ + "/audit" + std::to_string(++files_) + ".db");
    EXPECT_TRUE(db.ok()) << db.status().message();
    Status s = db->Exec(sql);
    EXPECT_TRUE(s.ok()) << s.message();
    return std::move(db).value();
  }

  TableAudit Audit(Db& db, const Table& t) {
    auto r = AuditTable(db, t);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(r).value() : TableAudit{};
  }

  std::string dir_;
  int files_ = 0;
};

TEST_F(AuditScan, StorageClassesAndMixed) {
  Db db = Create(R"(
    CREATE TABLE t(id INTEGER PRIMARY KEY, v);
    INSERT INTO t VALUES (1, 10), (2, 20), (3, 30), (4, 'abc'), (5, 2.5), (6, x'0102'), (7, NULL), (8, 40);
  )");
  TableAudit t = Audit(db, MakeTable("t", {{"id", "INTEGER"}, {"v", ""}}, {"id"}));
  EXPECT_EQ(t.table, "t");
  EXPECT_EQ(t.rows, 8);
  EXPECT_GE(t.seconds, 0);
  ASSERT_EQ(t.columns.size(), 2u);
  EXPECT_EQ(t.columns[0].name, "id");
  EXPECT_EQ(t.columns[0].integers, 8);
  EXPECT_EQ(t.columns[0].mixed.count, 0);
  const ColumnAudit& v = t.columns[1];
  EXPECT_EQ(v.name, "v");
  EXPECT_EQ(v.nulls, 1);
  EXPECT_EQ(v.integers, 4);
  EXPECT_EQ(v.reals, 1);
  EXPECT_EQ(v.texts, 1);
  EXPECT_EQ(v.blobs, 1);
  EXPECT_EQ(v.NonNull(), 7);
  // Majority is INTEGER; the others are listed real, text, blob.
  EXPECT_EQ(v.mixed.count, 3);
  EXPECT_EQ(v.mixed.examples, (Examples{"id=5", "id=4", "id=6"}));
  EXPECT_EQ(v.mixed.values, (Examples{"2.5", "'abc'", "x'0102'"}));
  EXPECT_EQ(v.blob_max_bytes, 2);
  EXPECT_EQ(v.blob_values.count, 1);
  EXPECT_EQ(v.blob_values.examples, (Examples{"id=6"}));
  EXPECT_EQ(v.int_min, 10);
  EXPECT_EQ(v.int_max, 40);
}

TEST_F(AuditScan, MixedKeepsThreeExamplesPerClass) {
  Db db = Create(R"(
    CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
    INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e'), (6, 'f');
    INSERT INTO t VALUES (7, x'00'), (8, x'01'), (9, x'02'), (10, x'03');
  )");
  const TableAudit scan = Audit(db, MakeTable("t", {{"id", "INTEGER"}, {"v", "TEXT"}}, {"id"}));
  const ColumnAudit& v = scan.columns[1];
  EXPECT_EQ(v.texts, 6);
  EXPECT_EQ(v.blobs, 4);
  EXPECT_EQ(v.mixed.count, 4);
  EXPECT_EQ(v.mixed.examples, (Examples{"id=7", "id=8", "id=9"}));
  EXPECT_EQ(v.blob_values.count, 4);
  EXPECT_EQ(v.blob_values.values, (Examples{"x'00'", "x'01'", "x'02'"}));
}

TEST_F(AuditScan, Integers) {
  Db db = Create(R"(
    CREATE TABLE t(n INTEGER);
    INSERT INTO t VALUES (0), (1), (1), (-9223372036854775808), (9223372036854775807), (1700000000),
                         (1700000000000), (100000000000), (4102444800), (4102444801), (-5), (NULL);
  )");
  const TableAudit scan = Audit(db, MakeTable("t", {{"n", "INTEGER"}}));
  const ColumnAudit& n = scan.columns[0];
  EXPECT_EQ(n.integers, 11);
  EXPECT_EQ(n.nulls, 1);
  EXPECT_EQ(n.int_min, INT64_MIN);
  EXPECT_EQ(n.int_max, INT64_MAX);
  EXPECT_EQ(n.int_bool, 3);
  EXPECT_EQ(n.int_epoch_s, 5);   // 0, 1, 1, 1700000000, 4102444800
  EXPECT_EQ(n.int_epoch_ms, 2);  // 1700000000000, 100000000000
  EXPECT_EQ(n.mixed.count, 0);
  EXPECT_EQ(n.texts + n.reals + n.blobs, 0);
}

TEST_F(AuditScan, Reals) {
  Db db = Create(R"(
    CREATE TABLE t(id INTEGER PRIMARY KEY, r REAL);
    INSERT INTO t VALUES (1, 1.5), (2, 2.0), (3, 0.001), (4, 1e20), (5, 9e999), (6, -9e999),
                         (7, 1700000000.25), (8, 123.456), (9, -0.5), (10, 9007199254740992.0);
  )");
  const TableAudit scan = Audit(db, MakeTable("t", {{"id", "INTEGER"}, {"r", "REAL"}}, {"id"}));
  const ColumnAudit& r = scan.columns[1];
  EXPECT_EQ(r.reals, 10);
  EXPECT_EQ(r.real_nonfinite.count, 2);
  EXPECT_EQ(r.real_nonfinite.examples, (Examples{"id=5", "id=6"}));
  EXPECT_EQ(r.real_nonfinite.values, (Examples{"Infinity", "-Infinity"}));
  EXPECT_EQ(r.real_integral, 1);  // 2.0; 1e20 and 2^53 are beyond 2^53
  EXPECT_EQ(r.real_epoch_s, 4);   // 1.5, 0.001, 1700000000.25, 123.456
  EXPECT_EQ(r.real_max_int_digits, 21);  // 1e20
  EXPECT_EQ(r.real_max_frac_digits, 3);  // 0.001, 123.456
}

TEST_F(AuditScan, RealDigitsWithoutHugeValues) {
  Db db = Create(R"(
    CREATE TABLE t(r REAL);
    INSERT INTO t VALUES (1700000000.25), (0.1), (-12.125), (3.0);
  )");
  const TableAudit scan = Audit(db, MakeTable("t", {{"r", "REAL"}}));
  const ColumnAudit& r = scan.columns[0];
  EXPECT_EQ(r.real_max_int_digits, 10);
  EXPECT_EQ(r.real_max_frac_digits, 3);
  EXPECT_EQ(r.real_integral, 1);
  EXPECT_EQ(r.real_epoch_s, 2);
}

TEST_F(AuditScan, TextKinds) {
  Db db = Create(R"(
    CREATE TABLE t(s TEXT);
    INSERT INTO t VALUES ('hello'), (CAST(x'c328' AS TEXT)), (CAST(x'610062' AS TEXT)), ('h' || char(233) || 'llo'),
                         (''), ('42'), ('-17'), ('007'), ('3.14'), ('12345678901234567890'), ('true'), ('F'),
                         ('yes'), ('-0');
  )");
  const TableAudit scan = Audit(db, MakeTable("t", {{"s", "TEXT"}}));
  const ColumnAudit& s = scan.columns[0];
  EXPECT_EQ(s.texts, 14);
  EXPECT_EQ(s.text_invalid_utf8.count, 1);
  EXPECT_EQ(s.text_invalid_utf8.examples, (Examples{"rowid=2"}));
  EXPECT_EQ(s.text_invalid_utf8.values, (Examples{"'\\xc3('"}));
  EXPECT_EQ(s.text_nul.count, 1);
  EXPECT_EQ(s.text_nul.examples, (Examples{"rowid=3"}));
  EXPECT_EQ(s.text_nul.values, (Examples{"'a\\x00b'"}));
  EXPECT_EQ(s.text_max_bytes, 20);
  EXPECT_EQ(s.text_max_chars, 20);
  EXPECT_EQ(s.text_integer, 2);  // 42, -17
  EXPECT_EQ(s.text_number, 6);   // 42, -17, 007, 3.14, 1234..., -0
  EXPECT_EQ(s.text_num_noncanonical.count, 2);
  EXPECT_EQ(s.text_num_noncanonical.examples, (Examples{"rowid=8", "rowid=14"}));
  EXPECT_EQ(s.text_num_max_int_digits, 20);
  EXPECT_EQ(s.text_num_max_frac_digits, 2);
  EXPECT_EQ(s.text_bool, 2);
  // 42, -17, 3.14, 1234..., true, -0 are JSON scalars; "007" is not JSON.
  EXPECT_EQ(s.json_scalar, 6);
  EXPECT_EQ(s.json_valid, 0);
  EXPECT_EQ(s.json_invalid.count, 8);
  EXPECT_TRUE(s.json_invalid.examples.empty());  // no valid JSON: no examples
  EXPECT_EQ(s.text_other.count, 6);  // hello, bad UTF-8, NUL, héllo, '', yes
  EXPECT_EQ(s.text_other.examples, (Examples{"rowid=1", "rowid=2", "rowid=3"}));
  EXPECT_EQ(s.text_other.values[0], "'hello'");
  EXPECT_EQ(s.uuid_lower + s.uuid_upper, 0);
  EXPECT_TRUE(s.dates.formats.empty());
}

TEST_F(AuditScan, TextCharsVersusBytes) {
  Db db = Create(R"(
    CREATE TABLE t(s TEXT);
    INSERT INTO t VALUES ('h' || char(233) || 'llo'), (char(8364, 8364, 8364));
  )");
  const TableAudit scan = Audit(db, MakeTable("t", {{"s", "TEXT"}}));
  const ColumnAudit& s = scan.columns[0];
  EXPECT_EQ(s.text_max_bytes, 9);  // three 3-byte euro signs
  EXPECT_EQ(s.text_max_chars, 5);  // héllo
}

TEST_F(AuditScan, Json) {
  Db db = Create(R"(
    CREATE TABLE t(id INTEGER PRIMARY KEY, j JSON);
    INSERT INTO t(j) VALUES ('{"b":1,"a":2}'), ('{"a": 1, "b": 2}'), ('{"a":1}'), ('[1, 2]'), ('{"a": 1.50}'),
                            ('{"a": 1e2}'), ('{"a": 1, "a": 2}'), ('{"aa": 1, "b": 2}'), ('{"b": 2, "aa": 1}'),
                            ('"str"'), ('null'), ('{bad'), ('plain');
  )");
  const TableAudit scan = Audit(db, MakeTable("t", {{"id", "INTEGER"}, {"j", "JSON"}}, {"id"}));
  const ColumnAudit& j = scan.columns[1];
  EXPECT_EQ(j.texts, 13);
  EXPECT_EQ(j.json_valid, 9);
  EXPECT_EQ(j.json_scalar, 2);
  // {"a": 1, "b": 2}, [1, 2], {"a": 1.50}, {"b": 2, "aa": 1}, "str", null
  EXPECT_EQ(j.json_jsonb_exact, 6);
  EXPECT_EQ(j.json_invalid.count, 2);
  EXPECT_EQ(j.json_invalid.examples, (Examples{"id=12", "id=13"}));
  EXPECT_EQ(j.json_invalid.values, (Examples{"'{bad'", "'plain'"}));
  EXPECT_EQ(j.text_other.count, 2);
  EXPECT_EQ(j.text_number, 0);
}

TEST_F(AuditScan, Uuids) {
  Db db = Create(R"(
    CREATE TABLE t(u TEXT);
    INSERT INTO t VALUES ('123e4567-e89b-12d3-a456-426614174000'), ('123E4567-E89B-12D3-A456-426614174000'),
                         ('123E4567-e89b-12d3-a456-426614174000'), ('12345678-1234-1234-1234-123456789012'),
                         ('123e4567e89b12d3a456426614174000');
  )");
  const TableAudit scan = Audit(db, MakeTable("t", {{"u", "TEXT"}}));
  const ColumnAudit& u = scan.columns[0];
  EXPECT_EQ(u.uuid_lower, 2);  // the lower-case one and the one without letters
  EXPECT_EQ(u.uuid_upper, 1);
  EXPECT_EQ(u.text_other.count, 5);
}

TEST_F(AuditScan, Dates) {
  Db db = Create(R"(
    CREATE TABLE t(id INTEGER PRIMARY KEY, d TEXT);
    INSERT INTO t(d) VALUES ('2024-01-31'), ('2024-02-29'), ('2023-02-29'), ('2024-01-31 12:00:00'),
                            ('2024-01-31 24:00:00'), ('2024-01-31T12:00:00.123Z'), ('2024-01-31T12:00:00+05:30'),
                            ('2024-01-31T12:00:00-05:00'), ('2024-01-31T12:00:00+05:30'), ('12:30:00'),
                            ('1999-12-31'), ('0000-01-01');
  )");
  const TableAudit scan = Audit(db, MakeTable("t", {{"id", "INTEGER"}, {"d", "TEXT"}}, {"id"}));
  const ColumnAudit& d = scan.columns[1];
  const std::map<std::string, int64_t> formats = {
      {"YYYY-MM-DD", 5}, {"YYYY-MM-DD HH:MM:SS", 2}, {"YYYY-MM-DDTHH:MM:SS.fffZ", 1},
      {"YYYY-MM-DDTHH:MM:SS+HH:MM", 3}, {"HH:MM:SS", 1}};
  EXPECT_EQ(d.dates.formats, formats);
  const std::map<std::string, int64_t> offsets = {{"Z", 1}, {"+05:30", 2}, {"-05:00", 1}};
  EXPECT_EQ(d.dates.offsets, offsets);
  EXPECT_EQ(d.dates.offsets_uncounted, 0);
  EXPECT_EQ(d.dates.invalid.count, 3);
  EXPECT_EQ(d.dates.invalid.examples, (Examples{"id=3", "id=5", "id=12"}));
  EXPECT_EQ(d.dates.invalid.values, (Examples{"'2023-02-29'", "'2024-01-31 24:00:00'", "'0000-01-01'"}));
  EXPECT_EQ(d.dates.year_min, 1999);
  EXPECT_EQ(d.dates.year_max, 2024);
  EXPECT_EQ(d.text_other.count, 0);
  EXPECT_EQ(d.json_scalar + d.json_valid, 0);
  EXPECT_EQ(d.text_number, 0);
}

TEST_F(AuditScan, OffsetsCappedAtEight) {
  std::string sql = "CREATE TABLE t(d TEXT);";
  for (int h = 0; h < 10; ++h) {
    sql += "INSERT INTO t VALUES ('2024-01-01 10:00:00+0" + std::to_string(h) + ":00');";
  }
  sql += "INSERT INTO t VALUES ('2024-01-01 10:00:00+00:00');";
  Db db = Create(sql);
  const TableAudit scan = Audit(db, MakeTable("t", {{"d", "TEXT"}}));
  const ColumnAudit& d = scan.columns[0];
  EXPECT_EQ(d.dates.offsets.size(), 8u);
  EXPECT_EQ(d.dates.offsets.at("+00:00"), 2);
  EXPECT_EQ(d.dates.offsets_uncounted, 2);
  EXPECT_EQ(d.dates.formats.at("YYYY-MM-DD HH:MM:SS+HH:MM"), 11);
}

TEST_F(AuditScan, CompositeKeyWithoutRowid) {
  Db db = Create(R"(
    CREATE TABLE c(pk1 TEXT, pk2 INTEGER, v, PRIMARY KEY(pk1, pk2)) WITHOUT ROWID;
    INSERT INTO c VALUES ('a', 3, 1.5), ('it''s', 4, 'x'), ('b', 1, 7);
  )");
  Table t = MakeTable("c", {{"pk1", "TEXT"}, {"pk2", "INTEGER"}, {"v", ""}}, {"pk1", "pk2"}, true);
  const TableAudit scan = Audit(db, t);
  const ColumnAudit& v = scan.columns[2];
  // Scanned in key order: ('a',3), ('b',1), ('it''s',4).
  EXPECT_EQ(v.mixed.count, 2);  // tie 1-1-1: INTEGER counts as the majority
  EXPECT_EQ(v.text_other.examples, (Examples{"pk1='it''s', pk2=4"}));
  EXPECT_EQ(v.real_epoch_s, 1);
  EXPECT_EQ(v.mixed.examples, (Examples{"pk1='a', pk2=3", "pk1='it''s', pk2=4"}));
}

TEST_F(AuditScan, LongKeysAreCut) {
  Db db = Create(R"(
    CREATE TABLE t(k TEXT PRIMARY KEY, v);
    INSERT INTO t VALUES (replace(hex(zeroblob(25)), '0', 'k'), 9e999), ('short', randomblob(30));
  )");
  const TableAudit scan = Audit(db, MakeTable("t", {{"k", "TEXT"}, {"v", ""}}, {"k"}));
  const ColumnAudit& v = scan.columns[1];
  ASSERT_EQ(v.real_nonfinite.examples.size(), 1u);
  EXPECT_EQ(v.real_nonfinite.examples[0], "k='" + std::string(40, 'k') + "'...");
  ASSERT_EQ(v.blob_values.values.size(), 1u);
  EXPECT_EQ(v.blob_values.values[0].size(), std::string("x''... (30 bytes)").size() + 40);
  EXPECT_EQ(v.blob_values.values[0].substr(v.blob_values.values[0].size() - 14), "... (30 bytes)");
  EXPECT_EQ(v.blob_max_bytes, 30);
}

TEST_F(AuditScan, RowidNamedColumns) {
  Db db = Create(R"(
    CREATE TABLE r(rowid TEXT, v);
    INSERT INTO r VALUES ('x', 9e999);
    CREATE TABLE a(rowid TEXT, Oid INTEGER, _ROWID_ REAL, v);
    INSERT INTO a VALUES ('x', 2, 3.5, 9e999);
  )");
  const TableAudit scan = Audit(db, MakeTable("r", {{"rowid", "TEXT"}, {"v", ""}}));
  const ColumnAudit& r = scan.columns[1];
  EXPECT_EQ(r.real_nonfinite.examples, (Examples{"oid=1"}));
  const TableAudit a =
      Audit(db, MakeTable("a", {{"rowid", "TEXT"}, {"Oid", "INTEGER"}, {"_ROWID_", "REAL"}, {"v", ""}}));
  EXPECT_EQ(a.columns[0].texts, 1);  // the column, not the rowid
  EXPECT_EQ(a.columns[3].real_nonfinite.examples, (Examples{"rowid='x', Oid=2, _ROWID_=3.5"}));
}

TEST_F(AuditScan, QuotedNamesAndGeneratedColumns) {
  Db db = Create(R"(
    CREATE TABLE "odd ""name"""("a b" INTEGER, g INTEGER GENERATED ALWAYS AS ("a b" * 2) VIRTUAL);
    INSERT INTO "odd ""name"""("a b") VALUES (1), (2), (NULL);
  )");
  const TableAudit t = Audit(db, MakeTable("odd \"name\"", {{"a b", "INTEGER"}, {"g", "INTEGER"}}));
  EXPECT_EQ(t.rows, 3);
  EXPECT_EQ(t.columns[1].integers, 2);
  EXPECT_EQ(t.columns[1].int_max, 4);
  EXPECT_EQ(t.columns[1].nulls, 1);
}

TEST_F(AuditScan, EmptyTable) {
  Db db = Create("CREATE TABLE t(a INTEGER, b TEXT);");
  const TableAudit t = Audit(db, MakeTable("t", {{"a", "INTEGER"}, {"b", "TEXT"}}));
  EXPECT_EQ(t.rows, 0);
  EXPECT_EQ(t.columns[0].NonNull(), 0);
  EXPECT_EQ(t.columns[1].mixed.count, 0);
}

TEST_F(AuditScan, MissingTableIsAnError) {
  Db db = Create("CREATE TABLE t(a);");
  auto r = AuditTable(db, MakeTable("nope", {{"a", ""}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"nope\""), std::string::npos) << r.status().message();
  auto k = AuditTable(db, MakeTable("t", {{"a", ""}}, {"missing"}));
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), Code::kInternal);
}

}  // namespace
}  // namespace slipway::schema
