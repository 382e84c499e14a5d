#include "schema/create_sql.h"

#include <cctype>

#include "schema/sql_lexer.h"

namespace slipway::schema {

namespace {

using Tokens = std::vector<Token>;

// Reads a statement's tokens, bounds-checked: past the end reads as an
// empty punctuation token, so lookahead never needs its own size check.
class Cursor {
 public:
  Cursor(const Tokens& tokens, TokenSpan span) : tokens_(tokens), span_(span), pos_(span.begin) {}
  const Token& Peek(size_t ahead = 0) const {
    static const Token kNone;
    size_t i = pos_ + ahead;
    return i < span_.end ? tokens_[i] : kNone;
  }
  bool Keyword(std::string_view kw, size_t ahead = 0) const { return IsKeyword(Peek(ahead), kw); }
  bool Punct(char c, size_t ahead = 0) const { return IsPunct(Peek(ahead), c); }
  bool AtEnd() const { return pos_ >= span_.end; }
  size_t pos() const { return pos_; }
  void Skip(size_t n = 1) { pos_ += n; }
  // At '(' : the span strictly inside the parentheses; moves past ')'.
  TokenSpan TakeGroup() {
    size_t close = MatchParen(tokens_, pos_);
    if (close > span_.end) close = span_.end;
    TokenSpan inner{pos_ + 1, close};
    pos_ = close + 1;
    return inner;
  }

 private:
  const Tokens& tokens_;
  TokenSpan span_;
  size_t pos_;
};

std::string Trimmed(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])) != 0) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])) != 0) --e;
  return std::string(s.substr(b, e - b));
}

// Names in "(a, b COLLATE x DESC, ...)": the first token of each item.
std::vector<std::string> NameList(const Tokens& tokens, TokenSpan inner) {
  std::vector<std::string> names;
  for (TokenSpan item : SplitTopLevel(tokens, inner)) {
    if (!item.empty() && IsName(tokens[item.begin])) names.push_back(NameOf(tokens[item.begin]));
  }
  return names;
}

// After REFERENCES: table [(cols)] then any of ON DELETE/UPDATE action,
// MATCH name, [NOT] DEFERRABLE [INITIALLY DEFERRED|IMMEDIATE].
void ParseReferences(const Tokens& tokens, Cursor& c, ParsedForeignKey& fk) {
  if (!IsName(c.Peek())) return;
  fk.ref_table = NameOf(c.Peek());
  c.Skip();
  if (c.Punct('(')) fk.ref_columns = NameList(tokens, c.TakeGroup());
  while (!c.AtEnd()) {
    if (c.Keyword("ON")) {
      c.Skip(2);  // ON DELETE | ON UPDATE
      if (c.Keyword("SET") || c.Keyword("NO")) c.Skip();
      c.Skip();  // NULL | DEFAULT | ACTION | CASCADE | RESTRICT
    } else if (c.Keyword("MATCH")) {
      c.Skip(2);
    } else if (c.Keyword("NOT") && c.Keyword("DEFERRABLE", 1)) {
      // NOT DEFERRABLE is never deferred, whatever INITIALLY says.
      fk.deferrable = false;
      fk.initially_deferred = false;
      c.Skip(2);
      if (c.Keyword("INITIALLY")) c.Skip(2);
    } else if (c.Keyword("DEFERRABLE")) {
      fk.deferrable = true;
      c.Skip();
      if (c.Keyword("INITIALLY")) {
        fk.initially_deferred = c.Keyword("DEFERRED", 1);
        c.Skip(2);
      }
    } else {
      return;
    }
  }
}

std::string CollationName(const Token& t) {
  std::string upper = AsciiUpper(NameOf(t));
  return upper == "BINARY" ? "" : upper;
}

void ParseColumn(std::string_view sql, const Tokens& tokens, TokenSpan span, ParsedTable& out) {
  if (span.empty() || !IsName(tokens[span.begin])) return;
  ParsedColumn col;
  col.name = NameOf(tokens[span.begin]);
  Cursor c(tokens, {span.begin + 1, span.end});
  std::string pending_name;  // CONSTRAINT name, applies to the next constraint
  while (!c.AtEnd()) {
    if (c.Keyword("CONSTRAINT")) {
      pending_name = NameOf(c.Peek(1));
      c.Skip(2);
      continue;
    }
    std::string name = std::move(pending_name);
    pending_name.clear();
    if (c.Punct('(')) {
      c.TakeGroup();  // type arguments: VARCHAR(45), NUMERIC(10, 2)
    } else if (c.Keyword("PRIMARY")) {
      col.primary_key = true;
      c.Skip(2);  // PRIMARY KEY
      if (c.Keyword("DESC")) col.primary_key_desc = true;
    } else if (c.Keyword("CHECK") && c.Punct('(', 1)) {
      c.Skip();
      std::string expr = Trimmed(SpanText(sql, tokens, c.TakeGroup()));
      out.checks.push_back({std::move(name), std::move(expr), col.name});
    } else if (c.Keyword("DEFAULT")) {
      // Skipped as a unit so that a default value never reads as a keyword.
      c.Skip();
      if (c.Punct('(')) {
        c.TakeGroup();
      } else {
        if (c.Punct('+') || c.Punct('-')) c.Skip();
        c.Skip();
      }
    } else if (c.Keyword("COLLATE")) {
      col.collation = CollationName(c.Peek(1));
      c.Skip(2);
    } else if (c.Keyword("REFERENCES")) {
      ParsedForeignKey fk;
      fk.name = std::move(name);
      fk.columns = {col.name};
      c.Skip();
      ParseReferences(tokens, c, fk);
      out.foreign_keys.push_back(std::move(fk));
    } else if (c.Keyword("AS") && c.Punct('(', 1)) {
      c.Skip();  // GENERATED ALWAYS before it is skipped as plain words
      col.generated_expr = Trimmed(SpanText(sql, tokens, c.TakeGroup()));
    } else {
      c.Skip();  // type words, NOT NULL, UNIQUE, ON CONFLICT x, ASC, STORED, ...
    }
  }
  out.columns.push_back(std::move(col));
}

void ParseTableConstraint(std::string_view sql, const Tokens& tokens, TokenSpan span, ParsedTable& out) {
  Cursor c(tokens, span);
  std::string name;
  if (c.Keyword("CONSTRAINT")) {
    name = NameOf(c.Peek(1));
    c.Skip(2);
  }
  if (c.Keyword("CHECK") && c.Punct('(', 1)) {
    c.Skip();
    std::string expr = Trimmed(SpanText(sql, tokens, c.TakeGroup()));
    out.checks.push_back({std::move(name), std::move(expr), ""});
  } else if (c.Keyword("FOREIGN") && c.Keyword("KEY", 1) && c.Punct('(', 2)) {
    c.Skip(2);
    ParsedForeignKey fk;
    fk.name = std::move(name);
    fk.columns = NameList(tokens, c.TakeGroup());
    if (c.Keyword("REFERENCES")) {
      c.Skip();
      ParseReferences(tokens, c, fk);
    }
    out.foreign_keys.push_back(std::move(fk));
  }
  // PRIMARY KEY and UNIQUE: the pragmas report them fully.
}

}  // namespace

ParsedTable ParseCreateTable(std::string_view sql) {
  ParsedTable out;
  Tokens tokens = Tokenize(sql);
  CreateTableParts parts = SplitCreateTable(tokens);
  if (!parts.found) return out;
  out.found = true;
  for (const Token& t : tokens) {
    if (IsKeyword(t, "AUTOINCREMENT")) out.autoincrement = true;
  }
  for (TokenSpan option : SplitTopLevel(tokens, parts.options)) {
    if (option.size() == 2 && IsKeyword(tokens[option.begin], "WITHOUT") &&
        IsKeyword(tokens[option.begin + 1], "ROWID")) {
      out.without_rowid = true;
    } else if (option.size() == 1 && IsKeyword(tokens[option.begin], "STRICT")) {
      out.strict = true;
    }
  }
  for (TokenSpan column : parts.columns) ParseColumn(sql, tokens, column, out);
  for (TokenSpan constraint : parts.constraints) ParseTableConstraint(sql, tokens, constraint, out);
  return out;
}

ParsedIndex ParseCreateIndex(std::string_view sql) {
  ParsedIndex out;
  Tokens tokens = Tokenize(sql);
  size_t open = 0;
  while (open < tokens.size() && !IsPunct(tokens[open], '(')) ++open;
  if (open == tokens.size()) return out;
  size_t close = MatchParen(tokens, open);
  out.found = true;
  for (TokenSpan term : SplitTopLevel(tokens, {open + 1, close})) {
    if (term.size() > 1 && (IsKeyword(tokens[term.end - 1], "ASC") || IsKeyword(tokens[term.end - 1], "DESC"))) {
      --term.end;
    }
    if (term.size() > 2 && IsKeyword(tokens[term.end - 2], "COLLATE")) term.end -= 2;
    out.terms.push_back(Trimmed(SpanText(sql, tokens, term)));
  }
  if (close + 1 < tokens.size() && IsKeyword(tokens[close + 1], "WHERE")) {
    size_t end = tokens.size();
    while (end > close + 2 && IsPunct(tokens[end - 1], ';')) --end;
    out.where_sql = Trimmed(SpanText(sql, tokens, {close + 2, end}));
  }
  return out;
}

std::string ParseVirtualModule(std::string_view sql) {
  Tokens tokens = Tokenize(sql);
  if (tokens.size() < 3 || !IsKeyword(tokens[0], "CREATE") || !IsKeyword(tokens[1], "VIRTUAL")) return "";
  for (size_t i = 2; i + 1 < tokens.size(); ++i) {
    if (IsKeyword(tokens[i], "USING") && IsName(tokens[i + 1])) {
      std::string module = NameOf(tokens[i + 1]);
      for (char& ch : module) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return module;
    }
  }
  return "";
}

}  // namespace slipway::schema
