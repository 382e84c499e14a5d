#include "schema/introspect.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/harness/sqlite_fixture.h"

namespace slipway::schema {
namespace {

// Each test gets its own temp folder, removed afterwards; databases are made
// read-write, then opened read-only the way the tool opens a source.
class IntrospectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slipway-introspect.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  SourceSchema Load(const std::string& sql) {
    std::string path = testing::MakeSqlite(dir_, "db" + std::to_string(next_++) + ".db", sql);
    auto db = Db::Open(path, Db::Mode::kReadOnly);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return {};
    auto schema = Introspect(*db);
    EXPECT_TRUE(schema.ok()) << schema.status().ToString();
    return schema.ok() ? std::move(schema).value() : SourceSchema{};
  }

  std::string dir_;
  int next_ = 0;
};

const ForeignKey* FindFk(const Table& t, const std::vector<std::string>& columns) {
  for (const ForeignKey& fk : t.foreign_keys) {
    if (fk.columns == columns) return &fk;
  }
  return nullptr;
}

const Index* FindIndex(const Table& t, const std::string& name) {
  for (const Index& ix : t.indexes) {
    if (ix.name == name) return &ix;
  }
  return nullptr;
}

std::vector<std::string> ColumnNames(const Table& t) {
  std::vector<std::string> out;
  for (const Column& c : t.columns) out.push_back(c.name);
  return out;
}

TEST_F(IntrospectTest, RowidTableColumns) {
  SourceSchema s = Load(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, name VARCHAR(45) NOT NULL DEFAULT 'x', price REAL, "
      "n NUMERIC(10,2) DEFAULT (1 + 2), raw, ts DATETIME DEFAULT CURRENT_TIMESTAMP);");
  const Table* t = s.FindTable("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->kind, TableKind::kTable);
  EXPECT_FALSE(t->without_rowid);
  EXPECT_FALSE(t->strict);
  EXPECT_EQ(t->rowid_alias, "id");
  EXPECT_EQ(t->primary_key, std::vector<std::string>{"id"});
  EXPECT_FALSE(t->KeyedByRowid());
  ASSERT_EQ(t->columns.size(), 6u);
  const Column& name = t->columns[1];
  EXPECT_EQ(name.name, "name");
  EXPECT_EQ(name.cid, 1);
  EXPECT_EQ(name.declared_type, "VARCHAR(45)");
  EXPECT_EQ(name.affinity, Affinity::kText);
  EXPECT_TRUE(name.not_null);
  EXPECT_EQ(name.default_sql, "'x'");
  EXPECT_EQ(name.pk_position, 0);
  EXPECT_EQ(t->columns[0].pk_position, 1);
  EXPECT_EQ(t->columns[0].affinity, Affinity::kInteger);
  EXPECT_EQ(t->columns[2].affinity, Affinity::kReal);
  EXPECT_EQ(t->columns[3].affinity, Affinity::kNumeric);
  EXPECT_EQ(t->columns[3].default_sql, "1 + 2");
  EXPECT_EQ(t->columns[4].declared_type, "");
  EXPECT_EQ(t->columns[4].affinity, Affinity::kBlob);
  EXPECT_FALSE(t->columns[4].default_sql.has_value());
  EXPECT_EQ(t->columns[5].default_sql, "CURRENT_TIMESTAMP");
  EXPECT_TRUE(t->indexes.empty());
  EXPECT_EQ(t->sql.rfind("CREATE TABLE t(", 0), 0u);
}

TEST_F(IntrospectTest, RowidAliasRules) {
  SourceSchema s = Load(
      "CREATE TABLE col_desc(id INTEGER PRIMARY KEY DESC, x);"
      "CREATE TABLE tbl_desc(id INTEGER, x, PRIMARY KEY(id DESC));"
      "CREATE TABLE int_pk(id INT PRIMARY KEY, x);"
      "CREATE TABLE lower_pk(id integer primary key asc, x);"
      "CREATE TABLE no_pk(a TEXT, b INTEGER);");
  const Table* col_desc = s.FindTable("col_desc");
  ASSERT_NE(col_desc, nullptr);
  EXPECT_EQ(col_desc->rowid_alias, "");  // SQLite's documented quirk
  EXPECT_EQ(col_desc->primary_key, std::vector<std::string>{"id"});
  ASSERT_EQ(col_desc->indexes.size(), 1u);
  EXPECT_EQ(col_desc->indexes[0].origin, IndexOrigin::kPrimaryKey);
  EXPECT_EQ(col_desc->indexes[0].name, "sqlite_autoindex_col_desc_1");
  EXPECT_TRUE(col_desc->indexes[0].columns[0].desc);
  EXPECT_EQ(s.FindTable("tbl_desc")->rowid_alias, "id");
  EXPECT_TRUE(s.FindTable("tbl_desc")->indexes.empty());
  EXPECT_EQ(s.FindTable("int_pk")->rowid_alias, "");
  EXPECT_EQ(s.FindTable("lower_pk")->rowid_alias, "id");
  const Table* no_pk = s.FindTable("no_pk");
  EXPECT_TRUE(no_pk->primary_key.empty());
  EXPECT_EQ(no_pk->rowid_alias, "");
  EXPECT_TRUE(no_pk->KeyedByRowid());
}

TEST_F(IntrospectTest, WithoutRowidStrictAndCompositeKey) {
  SourceSchema s = Load(
      "CREATE TABLE w(a TEXT, b INTEGER, c, PRIMARY KEY(b, a)) WITHOUT ROWID;"
      "CREATE TABLE s(a INTEGER PRIMARY KEY, b TEXT, c ANY) STRICT;"
      "CREATE TABLE ws(k INTEGER PRIMARY KEY, v ANY) strict ,  WITHOUT\n rowid;"
      "CREATE TABLE comp(x TEXT, y TEXT, z, PRIMARY KEY(y, x));");
  const Table* w = s.FindTable("w");
  ASSERT_NE(w, nullptr);
  EXPECT_TRUE(w->without_rowid);
  EXPECT_FALSE(w->strict);
  EXPECT_EQ(w->primary_key, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(w->columns[0].pk_position, 2);
  EXPECT_EQ(w->columns[1].pk_position, 1);
  EXPECT_EQ(w->rowid_alias, "");
  EXPECT_FALSE(w->KeyedByRowid());
  ASSERT_EQ(w->indexes.size(), 1u);
  EXPECT_EQ(w->indexes[0].origin, IndexOrigin::kPrimaryKey);
  EXPECT_EQ(w->indexes[0].sql, "");
  const Table* st = s.FindTable("s");
  EXPECT_TRUE(st->strict);
  EXPECT_FALSE(st->without_rowid);
  EXPECT_EQ(st->rowid_alias, "a");
  EXPECT_EQ(st->columns[2].declared_type, "ANY");
  const Table* ws = s.FindTable("ws");
  EXPECT_TRUE(ws->strict);
  EXPECT_TRUE(ws->without_rowid);
  EXPECT_EQ(ws->rowid_alias, "");  // no rowid at all
  const Table* comp = s.FindTable("comp");
  EXPECT_EQ(comp->primary_key, (std::vector<std::string>{"y", "x"}));
  EXPECT_EQ(comp->rowid_alias, "");
  ASSERT_EQ(comp->indexes.size(), 1u);
  EXPECT_EQ(comp->indexes[0].origin, IndexOrigin::kPrimaryKey);
  ASSERT_EQ(comp->indexes[0].columns.size(), 2u);
  EXPECT_EQ(comp->indexes[0].columns[0].name, "y");
  EXPECT_EQ(comp->indexes[0].columns[1].name, "x");
}

TEST_F(IntrospectTest, AutoincrementAndSequence) {
  SourceSchema s = Load(
      "CREATE TABLE a(id INTEGER PRIMARY KEY AUTOINCREMENT, v);"
      "INSERT INTO a(id, v) VALUES (40, 'x'); INSERT INTO a(v) VALUES ('y');"
      "CREATE TABLE empty_auto(id integer primary key autoincrement);"
      "CREATE TABLE b(id INTEGER PRIMARY KEY, note TEXT DEFAULT 'AUTOINCREMENT' /* AUTOINCREMENT */);"
      "INSERT INTO b(note) VALUES ('z');"
      "CREATE INDEX b_note ON b(note); ANALYZE;");
  const Table* a = s.FindTable("a");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->autoincrement);
  EXPECT_EQ(a->sqlite_sequence, 41);
  EXPECT_EQ(a->rowid_alias, "id");
  const Table* empty = s.FindTable("empty_auto");
  EXPECT_TRUE(empty->autoincrement);
  EXPECT_FALSE(empty->sqlite_sequence.has_value());
  const Table* b = s.FindTable("b");
  EXPECT_FALSE(b->autoincrement);
  EXPECT_FALSE(b->sqlite_sequence.has_value());
  const Table* seq = s.FindTable("sqlite_sequence");
  ASSERT_NE(seq, nullptr);
  EXPECT_EQ(seq->kind, TableKind::kInternal);
  EXPECT_EQ(ColumnNames(*seq), (std::vector<std::string>{"name", "seq"}));
  const Table* stat = s.FindTable("sqlite_stat1");
  ASSERT_NE(stat, nullptr);
  EXPECT_EQ(stat->kind, TableKind::kInternal);
  // sqlite_schema order: a, sqlite_sequence (made by the first AUTOINCREMENT), ...
  ASSERT_GE(s.tables.size(), 2u);
  EXPECT_EQ(s.tables[0].name, "a");
  EXPECT_EQ(s.tables[1].name, "sqlite_sequence");
}

TEST_F(IntrospectTest, UniqueConstraintsAndIndexes) {
  SourceSchema s = Load(
      "CREATE TABLE u(id INTEGER PRIMARY KEY, email TEXT UNIQUE, a INT, b TEXT, c, UNIQUE (a, b));"
      "CREATE INDEX u_partial ON u(a) WHERE c IS NOT NULL AND b <> 'x';"
      "CREATE INDEX u_expr ON u(lower(b) COLLATE NOCASE DESC, a);"
      "CREATE UNIQUE INDEX u_uniq ON u(b COLLATE nocase, c DESC);");
  const Table* u = s.FindTable("u");
  ASSERT_NE(u, nullptr);
  ASSERT_EQ(u->indexes.size(), 5u);
  // Creation order: the automatic indexes come with the table.
  EXPECT_EQ(u->indexes[0].name, "sqlite_autoindex_u_1");
  EXPECT_EQ(u->indexes[1].name, "sqlite_autoindex_u_2");
  EXPECT_EQ(u->indexes[2].name, "u_partial");
  const Index* email = FindIndex(*u, "sqlite_autoindex_u_1");
  EXPECT_TRUE(email->unique);
  EXPECT_EQ(email->origin, IndexOrigin::kUnique);
  EXPECT_EQ(email->sql, "");
  ASSERT_EQ(email->columns.size(), 1u);
  EXPECT_EQ(email->columns[0].name, "email");
  const Index* pair = FindIndex(*u, "sqlite_autoindex_u_2");
  ASSERT_EQ(pair->columns.size(), 2u);
  EXPECT_EQ(pair->columns[0].name, "a");
  EXPECT_EQ(pair->columns[1].name, "b");

  const Index* partial = FindIndex(*u, "u_partial");
  EXPECT_EQ(partial->origin, IndexOrigin::kCreateIndex);
  EXPECT_FALSE(partial->unique);
  EXPECT_TRUE(partial->partial);
  EXPECT_EQ(partial->where_sql, "c IS NOT NULL AND b <> 'x'");
  EXPECT_EQ(partial->sql, "CREATE INDEX u_partial ON u(a) WHERE c IS NOT NULL AND b <> 'x'");

  const Index* expr = FindIndex(*u, "u_expr");
  EXPECT_FALSE(expr->partial);
  EXPECT_EQ(expr->where_sql, "");
  ASSERT_EQ(expr->columns.size(), 2u);
  EXPECT_EQ(expr->columns[0].name, "");
  EXPECT_EQ(expr->columns[0].expr, "lower(b)");
  EXPECT_TRUE(expr->columns[0].desc);
  EXPECT_EQ(expr->columns[0].collation, "NOCASE");
  EXPECT_EQ(expr->columns[1].name, "a");
  EXPECT_EQ(expr->columns[1].expr, "");
  EXPECT_FALSE(expr->columns[1].desc);
  EXPECT_EQ(expr->columns[1].collation, "");

  const Index* uniq = FindIndex(*u, "u_uniq");
  EXPECT_TRUE(uniq->unique);
  EXPECT_EQ(uniq->origin, IndexOrigin::kCreateIndex);
  ASSERT_EQ(uniq->columns.size(), 2u);
  EXPECT_EQ(uniq->columns[0].collation, "NOCASE");
  EXPECT_FALSE(uniq->columns[0].desc);
  EXPECT_TRUE(uniq->columns[1].desc);
}

TEST_F(IntrospectTest, ForeignKeys) {
  SourceSchema s = Load(
      "CREATE TABLE parent(id INTEGER PRIMARY KEY, code TEXT UNIQUE);"
      "CREATE TABLE parent2(a, b, PRIMARY KEY(a, b));"
      "CREATE TABLE child(\n"
      "  id INTEGER PRIMARY KEY,\n"
      "  p INTEGER REFERENCES parent(id) ON DELETE CASCADE ON UPDATE SET NULL DEFERRABLE INITIALLY DEFERRED,\n"
      "  code TEXT CONSTRAINT fk_code REFERENCES parent(code) ON DELETE SET DEFAULT,\n"
      "  q INTEGER REFERENCES parent,\n"
      "  x, y,\n"
      "  CONSTRAINT fk_pair FOREIGN KEY (x, y) REFERENCES parent2(a, b) ON DELETE RESTRICT NOT DEFERRABLE\n"
      "  FOREIGN KEY (y) REFERENCES parent(id) DEFERRABLE INITIALLY IMMEDIATE\n"
      ");");
  const Table* child = s.FindTable("child");
  ASSERT_NE(child, nullptr);
  ASSERT_EQ(child->foreign_keys.size(), 5u);
  const ForeignKey* p = FindFk(*child, {"p"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->ref_table, "parent");
  EXPECT_EQ(p->ref_columns, std::vector<std::string>{"id"});
  EXPECT_EQ(p->on_delete, FkAction::kCascade);
  EXPECT_EQ(p->on_update, FkAction::kSetNull);
  EXPECT_TRUE(p->deferrable);
  EXPECT_TRUE(p->initially_deferred);
  EXPECT_EQ(p->name, "");
  const ForeignKey* code = FindFk(*child, {"code"});
  ASSERT_NE(code, nullptr);
  EXPECT_EQ(code->name, "fk_code");
  EXPECT_EQ(code->on_delete, FkAction::kSetDefault);
  EXPECT_EQ(code->on_update, FkAction::kNoAction);
  EXPECT_FALSE(code->deferrable);
  const ForeignKey* q = FindFk(*child, {"q"});
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(q->ref_columns.empty());  // the referenced table's primary key
  const ForeignKey* pair = FindFk(*child, {"x", "y"});
  ASSERT_NE(pair, nullptr);
  EXPECT_EQ(pair->name, "fk_pair");
  EXPECT_EQ(pair->ref_table, "parent2");
  EXPECT_EQ(pair->ref_columns, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(pair->on_delete, FkAction::kRestrict);
  EXPECT_FALSE(pair->deferrable);
  const ForeignKey* y = FindFk(*child, {"y"});
  ASSERT_NE(y, nullptr);
  EXPECT_TRUE(y->deferrable);
  EXPECT_FALSE(y->initially_deferred);
  for (size_t i = 1; i < child->foreign_keys.size(); ++i) {
    EXPECT_LT(child->foreign_keys[i - 1].id, child->foreign_keys[i].id);
  }
}

TEST_F(IntrospectTest, CheckConstraints) {
  SourceSchema s = Load(
      "CREATE TABLE c(a INTEGER CHECK (a > (1 + 2)),\n"
      "  b TEXT CONSTRAINT b_ok CHECK (b <> ')' AND length(b) < 10),\n"
      "  CONSTRAINT pair CHECK ((a + 1) * 2 < 100),\n"
      "  CHECK(b NOT IN ('(', ')')));");
  const Table* c = s.FindTable("c");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->checks.size(), 4u);
  EXPECT_EQ(c->checks[0].column, "a");
  EXPECT_EQ(c->checks[0].expr, "a > (1 + 2)");
  EXPECT_EQ(c->checks[1].column, "b");
  EXPECT_EQ(c->checks[1].name, "b_ok");
  EXPECT_EQ(c->checks[1].expr, "b <> ')' AND length(b) < 10");
  EXPECT_EQ(c->checks[2].column, "");
  EXPECT_EQ(c->checks[2].name, "pair");
  EXPECT_EQ(c->checks[2].expr, "(a + 1) * 2 < 100");
  EXPECT_EQ(c->checks[3].expr, "b NOT IN ('(', ')')");
  EXPECT_EQ(c->checks[3].name, "");
}

TEST_F(IntrospectTest, GeneratedColumnsAndCollation) {
  SourceSchema s = Load(
      "CREATE TABLE g(a INT, b INT GENERATED ALWAYS AS (a * 2) VIRTUAL,\n"
      "  c TEXT AS (upper(CAST(a AS TEXT))) STORED, d TEXT COLLATE NOCASE,\n"
      "  e TEXT COLLATE rtrim NOT NULL, f TEXT COLLATE BINARY);");
  const Table* g = s.FindTable("g");
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(g->columns.size(), 6u);
  EXPECT_EQ(g->columns[0].generated, Generated::kNone);
  EXPECT_EQ(g->columns[0].generated_expr, "");
  EXPECT_EQ(g->columns[1].generated, Generated::kVirtual);
  EXPECT_EQ(g->columns[1].generated_expr, "a * 2");
  EXPECT_EQ(g->columns[1].cid, 1);
  EXPECT_FALSE(g->columns[1].hidden);
  EXPECT_EQ(g->columns[2].generated, Generated::kStored);
  EXPECT_EQ(g->columns[2].generated_expr, "upper(CAST(a AS TEXT))");
  EXPECT_EQ(g->columns[3].collation, "NOCASE");
  EXPECT_EQ(g->columns[4].collation, "RTRIM");
  EXPECT_TRUE(g->columns[4].not_null);
  EXPECT_EQ(g->columns[5].collation, "");
}

TEST_F(IntrospectTest, ViewsAndTriggers) {
  SourceSchema s = Load(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, v);"
      "CREATE TABLE log(msg);"
      "CREATE VIEW \"big v\" AS SELECT id FROM t WHERE v > 10;"
      "CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('ins'); END;"
      "CREATE TRIGGER v_trg INSTEAD OF DELETE ON \"big v\" BEGIN DELETE FROM t WHERE id = old.id; END;");
  ASSERT_EQ(s.views.size(), 1u);
  EXPECT_EQ(s.views[0].name, "big v");
  EXPECT_EQ(s.views[0].sql, "CREATE VIEW \"big v\" AS SELECT id FROM t WHERE v > 10");
  ASSERT_EQ(s.triggers.size(), 2u);
  EXPECT_EQ(s.triggers[0].name, "t_ins");
  EXPECT_EQ(s.triggers[0].table, "t");
  EXPECT_EQ(s.triggers[0].sql, "CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('ins'); END");
  EXPECT_EQ(s.triggers[1].table, "big v");
  EXPECT_EQ(s.tables.size(), 2u);  // views are not tables
}

TEST_F(IntrospectTest, VirtualAndShadowTables) {
  SourceSchema s = Load(
      "CREATE VIRTUAL TABLE docs USING fts5(title, body);"
      "CREATE VIRTUAL TABLE old USING FTS4(x);"
      "CREATE VIRTUAL TABLE box USING rtree(id, x0, x1);"
      "CREATE TABLE docs_notes(n TEXT);"
      "INSERT INTO docs VALUES ('t', 'b');");
  const Table* docs = s.FindTable("docs");
  ASSERT_NE(docs, nullptr);
  EXPECT_EQ(docs->kind, TableKind::kVirtual);
  EXPECT_EQ(docs->virtual_module, "fts5");
  EXPECT_EQ(docs->shadow_of, "");
  ASSERT_EQ(docs->columns.size(), 4u);
  EXPECT_EQ(docs->columns[0].name, "title");
  EXPECT_FALSE(docs->columns[0].hidden);
  EXPECT_EQ(docs->columns[2].name, "docs");  // fts5's hidden table-named column
  EXPECT_TRUE(docs->columns[2].hidden);
  EXPECT_EQ(docs->columns[3].name, "rank");
  EXPECT_TRUE(docs->columns[3].hidden);
  for (const char* suffix : {"_data", "_idx", "_content", "_docsize", "_config"}) {
    const Table* shadow = s.FindTable(std::string("docs") + suffix);
    ASSERT_NE(shadow, nullptr) << suffix;
    EXPECT_EQ(shadow->kind, TableKind::kShadow) << suffix;
    EXPECT_EQ(shadow->shadow_of, "docs") << suffix;
  }
  EXPECT_TRUE(s.FindTable("docs_idx")->without_rowid);
  EXPECT_EQ(s.FindTable("docs_data")->rowid_alias, "id");
  EXPECT_EQ(s.FindTable("old")->virtual_module, "fts4");
  for (const char* suffix : {"_content", "_segments", "_segdir", "_docsize", "_stat"}) {
    const Table* shadow = s.FindTable(std::string("old") + suffix);
    ASSERT_NE(shadow, nullptr) << suffix;
    EXPECT_EQ(shadow->kind, TableKind::kShadow) << suffix;
    EXPECT_EQ(shadow->shadow_of, "old") << suffix;
  }
  EXPECT_EQ(s.FindTable("box")->virtual_module, "rtree");
  EXPECT_EQ(s.FindTable("box")->columns.size(), 3u);
  for (const char* suffix : {"_node", "_rowid", "_parent"}) {
    const Table* shadow = s.FindTable(std::string("box") + suffix);
    ASSERT_NE(shadow, nullptr) << suffix;
    EXPECT_EQ(shadow->kind, TableKind::kShadow) << suffix;
    EXPECT_EQ(shadow->shadow_of, "box") << suffix;
  }
  const Table* notes = s.FindTable("docs_notes");
  ASSERT_NE(notes, nullptr);
  EXPECT_EQ(notes->kind, TableKind::kTable);
  EXPECT_EQ(notes->shadow_of, "");
}

TEST_F(IntrospectTest, UnknownVirtualModuleDoesNotFail) {
  // A module this SQLite lacks: table_xinfo fails, the rest must not.
  SourceSchema s = Load(
      "CREATE TABLE a(x INTEGER PRIMARY KEY);"
      "PRAGMA writable_schema = ON;"
      "INSERT INTO sqlite_schema VALUES ('table', 'vt', 'vt', 0, 'CREATE VIRTUAL TABLE vt USING nosuchmodule(p, q)');"
      "INSERT INTO sqlite_schema VALUES ('table', 'vt_data', 'vt_data', 0, 'CREATE TABLE vt_data(k)');"
      "PRAGMA writable_schema = OFF;");
  const Table* vt = s.FindTable("vt");
  ASSERT_NE(vt, nullptr);
  EXPECT_EQ(vt->kind, TableKind::kVirtual);
  EXPECT_EQ(vt->virtual_module, "nosuchmodule");
  EXPECT_TRUE(vt->columns.empty());
  EXPECT_EQ(s.FindTable("vt_data")->kind, TableKind::kTable);  // suffix unknown for this module
  EXPECT_EQ(s.FindTable("a")->rowid_alias, "x");
}

TEST_F(IntrospectTest, WeirdNames) {
  SourceSchema s = Load(
      "CREATE TABLE \"select\" (\"group\" TEXT, [having] INT, `and` REAL, \"we\"\"ird\" TEXT);"
      "CREATE TABLE [Table With Space] (pk varchar(30) primary key, content text);"
      "CREATE TABLE \"table/with/slashes.csv\" (id INTEGER PRIMARY KEY, [a.b] TEXT);"
      "CREATE TABLE 'quoted' ('a b' TEXT CHECK ('a b' <> ''));"
      "CREATE TABLE \"[br]\" (x REFERENCES \"select\"(\"group\") DEFERRABLE INITIALLY DEFERRED,"
      "  `y z` COLLATE nocase);"
      "CREATE INDEX \"idx on select\" ON \"select\"(\"we\"\"ird\" DESC, [having]);");
  const Table* sel = s.FindTable("select");
  ASSERT_NE(sel, nullptr);
  EXPECT_EQ(ColumnNames(*sel), (std::vector<std::string>{"group", "having", "and", "we\"ird"}));
  EXPECT_EQ(sel->columns[1].affinity, Affinity::kInteger);
  const Index* ix = FindIndex(*sel, "idx on select");
  ASSERT_NE(ix, nullptr);
  ASSERT_EQ(ix->columns.size(), 2u);
  EXPECT_EQ(ix->columns[0].name, "we\"ird");
  EXPECT_TRUE(ix->columns[0].desc);
  EXPECT_EQ(ix->columns[1].name, "having");
  const Table* space = s.FindTable("Table With Space");
  ASSERT_NE(space, nullptr);
  EXPECT_EQ(space->primary_key, std::vector<std::string>{"pk"});
  EXPECT_EQ(space->indexes.size(), 1u);
  const Table* slashes = s.FindTable("table/with/slashes.csv");
  ASSERT_NE(slashes, nullptr);
  EXPECT_EQ(slashes->rowid_alias, "id");
  EXPECT_EQ(slashes->columns[1].name, "a.b");
  const Table* quoted = s.FindTable("quoted");
  ASSERT_NE(quoted, nullptr);
  EXPECT_EQ(quoted->columns[0].name, "a b");
  ASSERT_EQ(quoted->checks.size(), 1u);
  EXPECT_EQ(quoted->checks[0].column, "a b");
  const Table* br = s.FindTable("[br]");
  ASSERT_NE(br, nullptr);
  ASSERT_EQ(br->foreign_keys.size(), 1u);
  EXPECT_EQ(br->foreign_keys[0].ref_table, "select");
  EXPECT_EQ(br->foreign_keys[0].ref_columns, std::vector<std::string>{"group"});
  EXPECT_TRUE(br->foreign_keys[0].initially_deferred);
  EXPECT_EQ(br->columns[1].name, "y z");
  EXPECT_EQ(br->columns[1].collation, "NOCASE");
}

TEST_F(IntrospectTest, CommentsInsideCreateTable) {
  SourceSchema s = Load(
      "CREATE TABLE cm ( -- leading comment, with a comma\n"
      "  id INTEGER /* inline ( */ PRIMARY KEY, -- ) stray paren\n"
      "  v TEXT CHECK (v <> '--') /* CHECK (v = 1), */,\n"
      "  w TEXT DEFAULT 'a,b' -- AUTOINCREMENT\n"
      ") /* WITHOUT ROWID */;");
  const Table* cm = s.FindTable("cm");
  ASSERT_NE(cm, nullptr);
  EXPECT_EQ(ColumnNames(*cm), (std::vector<std::string>{"id", "v", "w"}));
  EXPECT_EQ(cm->rowid_alias, "id");
  EXPECT_FALSE(cm->autoincrement);
  EXPECT_FALSE(cm->without_rowid);
  ASSERT_EQ(cm->checks.size(), 1u);
  EXPECT_EQ(cm->checks[0].expr, "v <> '--'");
  EXPECT_EQ(cm->checks[0].column, "v");
  EXPECT_EQ(cm->columns[2].default_sql, "'a,b'");
}

TEST_F(IntrospectTest, FileSettings) {
  SourceSchema s = Load(
      "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL; PRAGMA user_version = 7;"
      "CREATE TABLE t(x); CREATE TABLE u(y);");
  EXPECT_EQ(s.journal_mode, "wal");
  EXPECT_EQ(s.encoding, "UTF-8");
  EXPECT_EQ(s.page_size, 8192);
  EXPECT_EQ(s.page_count, 3);      // schema page and one root page per table
  EXPECT_EQ(s.schema_version, 2);  // one bump per CREATE TABLE
  EXPECT_EQ(s.user_version, 7);
  EXPECT_EQ(s.path.substr(0, dir_.size()), dir_);
  EXPECT_EQ(s.tables.size(), 2u);
}

TEST_F(IntrospectTest, InsideCallersTransaction) {
  std::string path = testing::MakeSqlite(dir_, "txn.db", "CREATE TABLE t(id INTEGER PRIMARY KEY);");
  auto db = Db::Open(path, Db::Mode::kReadOnly);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE(db->Exec("BEGIN").ok());
  auto s = Introspect(*db);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->tables.size(), 1u);
  // The caller's transaction is still open and still the caller's to end.
  EXPECT_EQ(sqlite3_get_autocommit(db->get()), 0);
  EXPECT_TRUE(db->Exec("COMMIT").ok());
  // Without one, Introspect leaves none behind.
  ASSERT_TRUE(Introspect(*db).ok());
  EXPECT_NE(sqlite3_get_autocommit(db->get()), 0);
}

// Every real database in the shared corpus introspects, read-only.
TEST(IntrospectCorpus, EveryFile) {
  std::filesystem::path root = testing::CorpusPath("");
  ASSERT_TRUE(std::filesystem::is_directory(root)) << root;
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".db" && ext != ".sqlite")) continue;
    ++files;
    auto db = Db::Open(entry.path().string(), Db::Mode::kReadOnly);
    ASSERT_TRUE(db.ok()) << entry.path() << ": " << db.status().ToString();
    auto s = Introspect(*db);
    ASSERT_TRUE(s.ok()) << entry.path() << ": " << s.status().ToString();
    EXPECT_FALSE(s->tables.empty()) << entry.path();
    EXPECT_GT(s->page_count, 0) << entry.path();
    for (const Table& t : s->tables) {
      if (t.kind != TableKind::kVirtual) {
        EXPECT_FALSE(t.columns.empty()) << entry.path() << " " << t.name;
      }
    }
  }
  EXPECT_GE(files, 30);
}

TEST(IntrospectCorpus, KnownShapes) {
  auto db = Db::Open(testing::CorpusPath("datasette/fixtures.db"), Db::Mode::kReadOnly);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto s = Introspect(*db);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const Table* sel = s->FindTable("select");
  ASSERT_NE(sel, nullptr);
  EXPECT_EQ(ColumnNames(*sel), (std::vector<std::string>{"group", "having", "and", "json"}));
  const Table* fts = s->FindTable("searchable_fts");
  ASSERT_NE(fts, nullptr);
  EXPECT_EQ(fts->kind, TableKind::kVirtual);
  EXPECT_EQ(fts->virtual_module, "fts5");
  EXPECT_EQ(s->FindTable("searchable_fts_data")->kind, TableKind::kShadow);
  EXPECT_EQ(s->FindTable("searchable_fts_data")->shadow_of, "searchable_fts");
  // Table constraints without commas between them are all found.
  const Table* refs = s->FindTable("foreign_key_references");
  ASSERT_NE(refs, nullptr);
  ASSERT_EQ(refs->foreign_keys.size(), 4u);
  const ForeignKey* compound = FindFk(*refs, {"foreign_key_compound_pk1", "foreign_key_compound_pk2"});
  ASSERT_NE(compound, nullptr);
  EXPECT_EQ(compound->ref_columns, (std::vector<std::string>{"pk1", "pk2"}));
  EXPECT_EQ(s->FindTable("compound_three_primary_keys")->primary_key, (std::vector<std::string>{"pk1", "pk2", "pk3"}));
  EXPECT_EQ(s->FindTable("simple_primary_key")->rowid_alias, "id");
  ASSERT_FALSE(s->views.empty());
  EXPECT_EQ(s->views[0].name, "paginated_view");

  auto chinook = Db::Open(testing::CorpusPath("Chinook_Sqlite_AutoIncrementPKs.sqlite"), Db::Mode::kReadOnly);
  ASSERT_TRUE(chinook.ok()) << chinook.status().ToString();
  auto c = Introspect(*chinook);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const Table* album = c->FindTable("Album");
  ASSERT_NE(album, nullptr);
  EXPECT_TRUE(album->autoincrement);
  ASSERT_TRUE(album->sqlite_sequence.has_value());
  EXPECT_GT(*album->sqlite_sequence, 0);
  EXPECT_EQ(album->rowid_alias, "AlbumId");

  auto rtree = Db::Open(testing::CorpusPath("duckdb/rtree.db"), Db::Mode::kReadOnly);
  ASSERT_TRUE(rtree.ok()) << rtree.status().ToString();
  auto r = Introspect(*rtree);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->FindTable("demo_index")->virtual_module, "rtree");
  EXPECT_EQ(r->FindTable("demo_index_node")->shadow_of, "demo_index");
}

}  // namespace
}  // namespace slipway::schema
