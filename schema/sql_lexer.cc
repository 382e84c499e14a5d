#include "schema/sql_lexer.h"

#include <array>
#include <cctype>

namespace slipway::schema {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// SQLite treats every byte >= 0x80 as part of an identifier (UTF-8 names).
bool IsWordStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool IsWordChar(char c) { return IsWordStart(c) || IsDigit(c) || c == '$'; }

// Index one past a quoted run opened at sql[i] and closed by `close`; a
// doubled closer stands for one character when `doubled` is set.
size_t SkipQuoted(std::string_view sql, size_t i, char close, bool doubled) {
  size_t j = i + 1;
  while (j < sql.size()) {
    if (sql[j] == close) {
      if (doubled && j + 1 < sql.size() && sql[j + 1] == close) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    ++j;
  }
  return sql.size();  // unterminated: SQLite would not have stored it
}

size_t SkipNumber(std::string_view sql, size_t i) {
  size_t j = i;
  auto digits = [&](auto pred) {
    while (j < sql.size() && (pred(sql[j]) || sql[j] == '_')) ++j;
  };
  if (sql[j] == '0' && j + 1 < sql.size() && (sql[j + 1] == 'x' || sql[j + 1] == 'X')) {
    j += 2;
    digits([](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
    return j;
  }
  digits(IsDigit);
  if (j < sql.size() && sql[j] == '.') {
    ++j;
    digits(IsDigit);
  }
  if (j < sql.size() && (sql[j] == 'e' || sql[j] == 'E')) {
    size_t k = j + 1;
    if (k < sql.size() && (sql[k] == '+' || sql[k] == '-')) ++k;
    if (k < sql.size() && IsDigit(sql[k])) {
      j = k;
      digits(IsDigit);
    }
  }
  return j;
}

// Multi-character operators, longest first so "->>" wins over "->".
constexpr std::array<std::string_view, 10> kOperators = {"->>", "||", "<=", ">=", "==", "!=", "<>", "<<", ">>", "->"};

bool IsConstraintStart(const Token& t) {
  return IsKeyword(t, "CONSTRAINT") || IsKeyword(t, "PRIMARY") || IsKeyword(t, "UNIQUE") || IsKeyword(t, "CHECK") ||
         IsKeyword(t, "FOREIGN");
}

}  // namespace

std::vector<Token> Tokenize(std::string_view sql) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t nl = sql.find('\n', i);
      i = nl == std::string_view::npos ? sql.size() : nl + 1;
      continue;
    }
    if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t close = sql.find("*/", i + 2);
      i = close == std::string_view::npos ? sql.size() : close + 2;
      continue;
    }
    Token t;
    t.begin = i;
    size_t j = i + 1;
    if ((c == 'x' || c == 'X') && i + 1 < sql.size() && sql[i + 1] == '\'') {
      t.kind = TokenKind::kBlob;
      j = SkipQuoted(sql, i + 1, '\'', false);
    } else if (IsWordStart(c)) {
      t.kind = TokenKind::kWord;
      while (j < sql.size() && IsWordChar(sql[j])) ++j;
    } else if (c == '"' || c == '`') {
      t.kind = TokenKind::kQuoted;
      j = SkipQuoted(sql, i, c, true);
    } else if (c == '[') {
      t.kind = TokenKind::kQuoted;
      j = SkipQuoted(sql, i, ']', false);
    } else if (c == '\'') {
      t.kind = TokenKind::kString;
      j = SkipQuoted(sql, i, '\'', true);
    } else if (IsDigit(c) || (c == '.' && i + 1 < sql.size() && IsDigit(sql[i + 1]))) {
      t.kind = TokenKind::kNumber;
      j = SkipNumber(sql, i);
    } else if (c == '?') {
      t.kind = TokenKind::kVariable;
      while (j < sql.size() && IsDigit(sql[j])) ++j;
    } else if ((c == ':' || c == '@' || c == '$') && i + 1 < sql.size() && IsWordChar(sql[i + 1])) {
      t.kind = TokenKind::kVariable;
      while (j < sql.size() && IsWordChar(sql[j])) ++j;
    } else {
      t.kind = TokenKind::kPunct;
      for (std::string_view op : kOperators) {
        if (sql.substr(i, op.size()) == op) {
          j = i + op.size();
          break;
        }
      }
    }
    t.end = j;
    t.text = sql.substr(i, j - i);
    out.push_back(t);
    i = j;
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool IsKeyword(const Token& t, std::string_view keyword) {
  return t.kind == TokenKind::kWord && EqualsIgnoreCase(t.text, keyword);
}

bool IsPunct(const Token& t, char c) { return t.kind == TokenKind::kPunct && t.text.size() == 1 && t.text[0] == c; }

bool IsName(const Token& t) {
  return t.kind == TokenKind::kWord || t.kind == TokenKind::kQuoted || t.kind == TokenKind::kString;
}

std::string NameOf(const Token& t) {
  if (t.kind != TokenKind::kQuoted && t.kind != TokenKind::kString) return std::string(t.text);
  std::string_view s = t.text;
  if (s.size() < 2) return std::string(s);
  char open = s[0];
  char close = open == '[' ? ']' : open;
  bool closed = s.back() == close;
  std::string_view inner = s.substr(1, s.size() - (closed ? 2 : 1));
  if (open == '[') return std::string(inner);
  std::string out;
  out.reserve(inner.size());
  for (size_t i = 0; i < inner.size(); ++i) {
    out += inner[i];
    if (inner[i] == close && i + 1 < inner.size() && inner[i + 1] == close) ++i;
  }
  return out;
}

size_t MatchParen(const std::vector<Token>& tokens, size_t open) {
  int depth = 0;
  for (size_t i = open; i < tokens.size(); ++i) {
    if (IsPunct(tokens[i], '(')) {
      ++depth;
    } else if (IsPunct(tokens[i], ')')) {
      if (--depth == 0) return i;
    }
  }
  return tokens.size();
}

std::vector<TokenSpan> SplitTopLevel(const std::vector<Token>& tokens, TokenSpan span) {
  std::vector<TokenSpan> parts;
  if (span.empty()) return parts;
  size_t start = span.begin;
  int depth = 0;
  for (size_t i = span.begin; i < span.end; ++i) {
    if (IsPunct(tokens[i], '(')) {
      ++depth;
    } else if (IsPunct(tokens[i], ')')) {
      --depth;
    } else if (depth == 0 && IsPunct(tokens[i], ',')) {
      parts.push_back({start, i});
      start = i + 1;
    }
  }
  parts.push_back({start, span.end});
  return parts;
}

std::string_view SpanText(std::string_view sql, const std::vector<Token>& tokens, TokenSpan span) {
  if (span.empty()) return {};
  size_t from = tokens[span.begin].begin;
  size_t to = tokens[span.end - 1].end;
  return sql.substr(from, to - from);
}

CreateTableParts SplitCreateTable(const std::vector<Token>& tokens) {
  CreateTableParts parts;
  size_t open = 0;
  while (open < tokens.size() && !IsPunct(tokens[open], '(')) ++open;
  if (open == tokens.size()) return parts;
  size_t close = MatchParen(tokens, open);
  parts.found = true;
  bool in_constraints = false;
  for (TokenSpan item : SplitTopLevel(tokens, {open + 1, close})) {
    if (item.empty()) continue;
    // Once a table constraint starts, the grammar allows only constraints.
    if (!in_constraints && IsConstraintStart(tokens[item.begin])) in_constraints = true;
    if (!in_constraints) {
      parts.columns.push_back(item);
      continue;
    }
    // Split "A ... B ..." where constraints follow without a comma; the
    // keyword right after "CONSTRAINT name" belongs to that constraint.
    size_t start = item.begin;
    int depth = 0;
    for (size_t i = item.begin; i < item.end; ++i) {
      if (IsPunct(tokens[i], '(')) {
        ++depth;
      } else if (IsPunct(tokens[i], ')')) {
        --depth;
      } else if (depth == 0 && i > start && IsConstraintStart(tokens[i]) &&
                 !(IsKeyword(tokens[start], "CONSTRAINT") && i == start + 2)) {
        parts.constraints.push_back({start, i});
        start = i;
      }
    }
    parts.constraints.push_back({start, item.end});
  }
  size_t options_end = tokens.size();
  while (options_end > close + 1 && IsPunct(tokens[options_end - 1], ';')) --options_end;
  if (close < tokens.size()) parts.options = {close + 1, options_end};
  return parts;
}

}  // namespace slipway::schema
