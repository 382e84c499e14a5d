#include "schema/sql_lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "schema/create_sql.h"

namespace slipway::schema {
namespace {

std::vector<std::string> Names(const std::vector<Token>& tokens) {
  std::vector<std::string> out;
  for (const Token& t : tokens) out.push_back(NameOf(t));
  return out;
}

TEST(SqlLexer, IdentifiersInEveryQuoteStyle) {
  std::string sql = "CREATE TABLE \"a \"\"b\"\"\" ([c d], `e``f`, 'g''h' TEXT, plain_1$x)";
  auto tokens = Tokenize(sql);
  ASSERT_EQ(tokens.size(), 13u);
  EXPECT_EQ(tokens[2].kind, TokenKind::kQuoted);
  EXPECT_EQ(NameOf(tokens[2]), "a \"b\"");
  EXPECT_EQ(tokens[4].kind, TokenKind::kQuoted);
  EXPECT_EQ(NameOf(tokens[4]), "c d");
  EXPECT_EQ(NameOf(tokens[6]), "e`f");
  EXPECT_EQ(tokens[8].kind, TokenKind::kString);
  EXPECT_EQ(NameOf(tokens[8]), "g'h");
  EXPECT_EQ(tokens[11].kind, TokenKind::kWord);
  EXPECT_EQ(NameOf(tokens[11]), "plain_1$x");
  EXPECT_EQ(tokens[2].text, "\"a \"\"b\"\"\"");
  EXPECT_EQ(sql.substr(tokens[4].begin, tokens[4].end - tokens[4].begin), "[c d]");
}

TEST(SqlLexer, CommentsAreDroppedAndStringsHideThem) {
  auto tokens = Tokenize("SELECT 'a--b)' /* c ) , */ -- x, y\n , 1.5e3 , 0x1F, x'00ff', .5, ?, ?3, :p, @q, $r");
  std::vector<TokenKind> kinds;
  for (const Token& t : tokens) kinds.push_back(t.kind);
  std::vector<TokenKind> want = {TokenKind::kWord,  TokenKind::kString,   TokenKind::kPunct, TokenKind::kNumber,
                                 TokenKind::kPunct, TokenKind::kNumber,   TokenKind::kPunct, TokenKind::kBlob,
                                 TokenKind::kPunct, TokenKind::kNumber,   TokenKind::kPunct, TokenKind::kVariable,
                                 TokenKind::kPunct, TokenKind::kVariable, TokenKind::kPunct, TokenKind::kVariable,
                                 TokenKind::kPunct, TokenKind::kVariable, TokenKind::kPunct, TokenKind::kVariable};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(tokens[1].text, "'a--b)'");
  EXPECT_EQ(tokens[3].text, "1.5e3");
  EXPECT_EQ(tokens[5].text, "0x1F");
  EXPECT_EQ(tokens[7].text, "x'00ff'");
  EXPECT_EQ(tokens[13].text, "?3");
}

TEST(SqlLexer, OperatorsAndUnterminatedText) {
  auto tokens = Tokenize("a->>'$.b' || c<>d -> e");
  std::vector<std::string> texts;
  for (const Token& t : tokens) texts.emplace_back(t.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"a", "->>", "'$.b'", "||", "c", "<>", "d", "->", "e"}));
  // Unterminated quotes and comments run to the end instead of failing.
  auto broken = Tokenize("x 'abc");
  ASSERT_EQ(broken.size(), 2u);
  EXPECT_EQ(broken[1].text, "'abc");
  EXPECT_EQ(Tokenize("x /* never closed").size(), 1u);
  EXPECT_EQ(Names(Tokenize("[open")), std::vector<std::string>{"open"});
}

TEST(SqlLexer, KeywordsAreBareWordsOnly) {
  auto tokens = Tokenize("SeLeCt \"select\" [select] 'select'");
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_TRUE(IsKeyword(tokens[0], "SELECT"));
  EXPECT_FALSE(IsKeyword(tokens[1], "SELECT"));
  EXPECT_FALSE(IsKeyword(tokens[2], "SELECT"));
  EXPECT_FALSE(IsKeyword(tokens[3], "SELECT"));
  EXPECT_EQ(Names(tokens), (std::vector<std::string>{"SeLeCt", "select", "select", "select"}));
}

TEST(SqlLexer, SplitTopLevelIgnoresNestedCommas) {
  std::string sql = "a, f(b, c), (d, (e, f)), 'g,h'";
  auto tokens = Tokenize(sql);
  auto parts = SplitTopLevel(tokens, {0, tokens.size()});
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(SpanText(sql, tokens, parts[0]), "a");
  EXPECT_EQ(SpanText(sql, tokens, parts[1]), "f(b, c)");
  EXPECT_EQ(SpanText(sql, tokens, parts[2]), "(d, (e, f))");
  EXPECT_EQ(SpanText(sql, tokens, parts[3]), "'g,h'");
  EXPECT_TRUE(SplitTopLevel(tokens, {2, 2}).empty());
}

TEST(SqlLexer, SplitCreateTableColumnsConstraintsOptions) {
  std::string sql =
      "CREATE TABLE t (\n"
      "  a NUMERIC(10, 2) DEFAULT (1, 2), -- a, comment\n"
      "  b TEXT /* x, y */ CHECK (b IN ('x', 'y')),\n"
      "  CONSTRAINT pk PRIMARY KEY (a, b),\n"
      "  FOREIGN KEY (a) REFERENCES p(x)\n"
      "  FOREIGN KEY (b) REFERENCES q(y) CHECK (a > 0) UNIQUE (b)\n"
      ") WITHOUT ROWID, STRICT;";
  auto tokens = Tokenize(sql);
  CreateTableParts parts = SplitCreateTable(tokens);
  ASSERT_TRUE(parts.found);
  ASSERT_EQ(parts.columns.size(), 2u);
  EXPECT_EQ(SpanText(sql, tokens, parts.columns[0]), "a NUMERIC(10, 2) DEFAULT (1, 2)");
  EXPECT_EQ(SpanText(sql, tokens, parts.columns[1]), "b TEXT /* x, y */ CHECK (b IN ('x', 'y'))");
  ASSERT_EQ(parts.constraints.size(), 5u);
  EXPECT_EQ(SpanText(sql, tokens, parts.constraints[0]), "CONSTRAINT pk PRIMARY KEY (a, b)");
  EXPECT_EQ(SpanText(sql, tokens, parts.constraints[1]), "FOREIGN KEY (a) REFERENCES p(x)");
  EXPECT_EQ(SpanText(sql, tokens, parts.constraints[2]), "FOREIGN KEY (b) REFERENCES q(y)");
  EXPECT_EQ(SpanText(sql, tokens, parts.constraints[3]), "CHECK (a > 0)");
  EXPECT_EQ(SpanText(sql, tokens, parts.constraints[4]), "UNIQUE (b)");
  EXPECT_EQ(SpanText(sql, tokens, parts.options), "WITHOUT ROWID, STRICT");
  EXPECT_FALSE(SplitCreateTable(Tokenize("CREATE TABLE t AS SELECT 1")).found);
}

TEST(SqlLexerCreateSql, ChecksKeepNestedParensAndStrings) {
  ParsedTable t = ParseCreateTable(
      "CREATE TABLE c(a INTEGER CHECK (a > (1 + 2)), "
      "b TEXT CONSTRAINT b_ok CHECK ( b <> ')' AND length(b) < 10 ) NOT NULL, "
      "CONSTRAINT pair CHECK ((a + 1) * 2 < 100), CHECK(b NOT IN ('(', ')')))");
  ASSERT_TRUE(t.found);
  ASSERT_EQ(t.checks.size(), 4u);
  EXPECT_EQ(t.checks[0].expr, "a > (1 + 2)");
  EXPECT_EQ(t.checks[0].column, "a");
  EXPECT_EQ(t.checks[0].name, "");
  EXPECT_EQ(t.checks[1].expr, "b <> ')' AND length(b) < 10");
  EXPECT_EQ(t.checks[1].column, "b");
  EXPECT_EQ(t.checks[1].name, "b_ok");
  EXPECT_EQ(t.checks[2].expr, "(a + 1) * 2 < 100");
  EXPECT_EQ(t.checks[2].column, "");
  EXPECT_EQ(t.checks[2].name, "pair");
  EXPECT_EQ(t.checks[3].expr, "b NOT IN ('(', ')')");
  EXPECT_EQ(t.checks[3].name, "");
}

TEST(SqlLexerCreateSql, ForeignKeyDeferral) {
  ParsedTable t = ParseCreateTable(
      "CREATE TABLE c(a REFERENCES p(id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED, "
      "b CONSTRAINT fk_b REFERENCES p NOT NULL, c, d, "
      "FOREIGN KEY (c, \"d\") REFERENCES [q](x, y) MATCH FULL NOT DEFERRABLE INITIALLY DEFERRED, "
      "CONSTRAINT fk_c FOREIGN KEY (c) REFERENCES p(id) DEFERRABLE, "
      "FOREIGN KEY (d) REFERENCES p(id) ON UPDATE NO ACTION DEFERRABLE INITIALLY IMMEDIATE)");
  ASSERT_EQ(t.foreign_keys.size(), 5u);
  const auto& a = t.foreign_keys[0];
  EXPECT_EQ(a.columns, std::vector<std::string>{"a"});
  EXPECT_EQ(a.ref_table, "p");
  EXPECT_EQ(a.ref_columns, std::vector<std::string>{"id"});
  EXPECT_TRUE(a.deferrable);
  EXPECT_TRUE(a.initially_deferred);
  const auto& b = t.foreign_keys[1];
  EXPECT_EQ(b.name, "fk_b");
  EXPECT_TRUE(b.ref_columns.empty());
  EXPECT_FALSE(b.deferrable);
  const auto& cd = t.foreign_keys[2];
  EXPECT_EQ(cd.columns, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(cd.ref_table, "q");
  EXPECT_EQ(cd.ref_columns, (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE(cd.deferrable);
  EXPECT_FALSE(cd.initially_deferred);  // NOT DEFERRABLE wins over INITIALLY DEFERRED
  EXPECT_EQ(t.foreign_keys[3].name, "fk_c");
  EXPECT_TRUE(t.foreign_keys[3].deferrable);
  EXPECT_FALSE(t.foreign_keys[3].initially_deferred);
  EXPECT_TRUE(t.foreign_keys[4].deferrable);
  EXPECT_FALSE(t.foreign_keys[4].initially_deferred);
}

TEST(SqlLexerCreateSql, ColumnsGeneratedCollatePrimaryKey) {
  ParsedTable t = ParseCreateTable(
      "CREATE TABLE g(id INTEGER PRIMARY KEY DESC, a VARCHAR(10) DEFAULT 'CHECK (x)' COLLATE nocase, "
      "b INT GENERATED ALWAYS AS (a || ')') VIRTUAL, c AS (length(a)) STORED, d TEXT COLLATE \"BINARY\")");
  ASSERT_EQ(t.columns.size(), 5u);
  EXPECT_TRUE(t.checks.empty());  // the CHECK inside the DEFAULT string is not one
  EXPECT_EQ(t.columns[0].name, "id");
  EXPECT_TRUE(t.columns[0].primary_key);
  EXPECT_TRUE(t.columns[0].primary_key_desc);
  EXPECT_EQ(t.columns[1].collation, "NOCASE");
  EXPECT_FALSE(t.columns[1].primary_key);
  EXPECT_EQ(t.columns[2].generated_expr, "a || ')'");
  EXPECT_EQ(t.columns[3].generated_expr, "length(a)");
  EXPECT_EQ(t.columns[4].collation, "");
}

TEST(SqlLexerCreateSql, OptionsAndAutoincrementAreTokens) {
  ParsedTable plain = ParseCreateTable(
      "CREATE TABLE t(id INTEGER PRIMARY KEY, note DEFAULT 'AUTOINCREMENT', \"AUTOINCREMENT\" TEXT) "
      "/* AUTOINCREMENT */ -- AUTOINCREMENT\n");
  EXPECT_FALSE(plain.autoincrement);
  EXPECT_FALSE(plain.without_rowid);
  EXPECT_FALSE(plain.strict);
  EXPECT_TRUE(ParseCreateTable("CREATE TABLE t(id INTEGER PRIMARY KEY autoincrement)").autoincrement);
  ParsedTable both = ParseCreateTable("CREATE TABLE t(k PRIMARY KEY)without\n  rowid ,Strict;");
  EXPECT_TRUE(both.without_rowid);
  EXPECT_TRUE(both.strict);
  ParsedTable strict = ParseCreateTable("CREATE TABLE t(k INT) STRICT");
  EXPECT_TRUE(strict.strict);
  EXPECT_FALSE(strict.without_rowid);
}

TEST(SqlLexerCreateSql, IndexTermsAndWhere) {
  ParsedIndex ix = ParseCreateIndex(
      "CREATE UNIQUE INDEX \"i x\" ON [t y](a, lower(b) COLLATE NOCASE DESC, c || ',' ASC, d COLLATE rtrim) "
      "WHERE a IS NOT NULL AND (b <> 'x');");
  ASSERT_TRUE(ix.found);
  EXPECT_EQ(ix.terms, (std::vector<std::string>{"a", "lower(b)", "c || ','", "d"}));
  EXPECT_EQ(ix.where_sql, "a IS NOT NULL AND (b <> 'x')");
  EXPECT_EQ(ParseCreateIndex("CREATE INDEX i ON t(a)").where_sql, "");
  EXPECT_FALSE(ParseCreateIndex("").found);
}

TEST(SqlLexerCreateSql, VirtualModule) {
  EXPECT_EQ(ParseVirtualModule("CREATE VIRTUAL TABLE \"s\"\n USING FTS5 (a, content=\"x\")"), "fts5");
  EXPECT_EQ(ParseVirtualModule("create virtual table if not exists main.r using rtree(id, x0, x1)"), "rtree");
  EXPECT_EQ(ParseVirtualModule("CREATE TABLE using_x(a)"), "");
}

}  // namespace
}  // namespace slipway::schema
