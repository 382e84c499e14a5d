#include "schema/fts.h"

#include "schema/sql_lexer.h"

namespace slipway::schema {

std::optional<FtsTable> ParseFts(const std::string& name, const std::string& create_sql) {
  const std::vector<Token> tokens = Tokenize(create_sql);
  size_t i = 0;
  while (i < tokens.size() && !IsKeyword(tokens[i], "USING")) ++i;
  if (i + 2 >= tokens.size() || !IsPunct(tokens[i + 2], '(')) return std::nullopt;
  const std::string module = AsciiUpper(NameOf(tokens[i + 1]));
  FtsTable f;
  f.name = name;
  if (module == "FTS5") {
    f.version = 5;
  } else if (module == "FTS4" || module == "FTS3") {
    f.version = 4;
  } else {
    return std::nullopt;
  }
  const size_t open = i + 2;
  const size_t close = MatchParen(tokens, open);
  if (close >= tokens.size()) return std::nullopt;
  for (const TokenSpan& arg : SplitTopLevel(tokens, TokenSpan{open + 1, close})) {
    if (arg.empty()) continue;
    // key=value is an option; anything else declares a column (its first
    // token; the rest is UNINDEXED or, in fts4, a type).
    if (arg.size() >= 3 && IsPunct(tokens[arg.begin + 1], '=')) {
      const std::string key = AsciiUpper(NameOf(tokens[arg.begin]));
      const std::string value = NameOf(tokens[arg.begin + 2]);
      if (key == "CONTENT") f.content = value;
      if (key == "CONTENT_ROWID") f.content_rowid = value;
      continue;
    }
    if (IsName(tokens[arg.begin])) f.columns.push_back(NameOf(tokens[arg.begin]));
  }
  return f;
}

}  // namespace slipway::schema
