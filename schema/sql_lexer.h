#pragma once
// A tokenizer for SQLite SQL, enough to read the CREATE statements stored in
// sqlite_schema: identifiers in every quote style SQLite accepts ("x", [x],
// `x`, and 'x' where SQLite allows a string as a name), strings, numbers,
// blobs, variables, comments and punctuation. The text was already accepted
// by SQLite, so the lexer never fails: anything unterminated runs to the end.
// Tokens point into the text they were made from (string_view), and keep
// their byte offsets so that an expression can be cut out "as written",
// comments included.
// Thread-safety: pure functions over their arguments.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace slipway::schema {

enum class TokenKind {
  kWord,      // a bare word: an identifier or a keyword
  kQuoted,    // "x", [x] or `x`: always an identifier, never a keyword
  kString,    // 'x'
  kNumber,    // 12, 1.5e3, 0x1F, .5
  kBlob,      // x'00ff'
  kVariable,  // ?, ?3, :name, @name, $name
  kPunct,     // ( ) , ; . + - and operators such as || <= ->>
};

struct Token {
  TokenKind kind = TokenKind::kPunct;
  std::string_view text;  // raw text as written, quotes included
  size_t begin = 0;       // byte offset of the first character in the source
  size_t end = 0;         // byte offset one past the last character
};

// Tokenizes sql; whitespace and comments are dropped.
// REQUIRES: sql outlives the returned tokens (they point into it).
std::vector<Token> Tokenize(std::string_view sql);

// True for a bare word equal to keyword, ignoring ASCII case. A quoted word
// ("select") is an identifier and never matches.
bool IsKeyword(const Token& t, std::string_view keyword);
// True for the punctuation token c.
bool IsPunct(const Token& t, char c);
// True for a token that can name something: a bare word, a quoted
// identifier or a string (SQLite accepts CREATE TABLE 'x'(...)).
bool IsName(const Token& t);
// The name a token stands for: quotes removed and doubled quotes undone;
// the raw text for a bare word.
std::string NameOf(const Token& t);
// Upper-cases ASCII letters.
std::string AsciiUpper(std::string_view s);
// Compares ignoring ASCII case, as SQLite compares identifiers.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// A half-open range [begin, end) of token indexes.
struct TokenSpan {
  size_t begin = 0;
  size_t end = 0;
  bool empty() const { return begin >= end; }
  size_t size() const { return empty() ? 0 : end - begin; }
};

// Index of the ')' matching the '(' at tokens[open], or tokens.size() when
// it is unbalanced. REQUIRES: IsPunct(tokens[open], '(').
size_t MatchParen(const std::vector<Token>& tokens, size_t open);
// Splits span at commas outside parentheses. An empty span gives no parts.
std::vector<TokenSpan> SplitTopLevel(const std::vector<Token>& tokens, TokenSpan span);
// The source text a span covers, from its first token to its last, as
// written (comments between them included). "" for an empty span.
std::string_view SpanText(std::string_view sql, const std::vector<Token>& tokens, TokenSpan span);

// The parts of a CREATE TABLE statement: one span per column definition, one
// per table constraint, and the table options after the closing parenthesis
// (WITHOUT ROWID, STRICT). SQLite lets table constraints follow each other
// without a comma ("FOREIGN KEY (a) ... FOREIGN KEY (b) ..."), so constraints
// are split at their leading keyword as well as at commas.
struct CreateTableParts {
  bool found = false;  // false when the text has no parenthesised body
  std::vector<TokenSpan> columns;
  std::vector<TokenSpan> constraints;
  TokenSpan options;
};
CreateTableParts SplitCreateTable(const std::vector<Token>& tokens);

}  // namespace slipway::schema
