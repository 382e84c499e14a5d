#include "schema/defaults.h"

#include <cctype>
#include <cstdlib>

#include "common/pg.h"
#include "schema/codec.h"

namespace slipway::schema {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

std::string Squash(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Strips balanced outer parentheses: "((0))" -> "0".
std::string StripParens(std::string s) {
  s = Trim(s);
  while (s.size() >= 2 && s.front() == '(' && s.back() == ')') {
    int depth = 0;
    bool outer = true;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '(') ++depth;
      if (s[i] == ')') --depth;
      if (depth == 0 && i + 1 < s.size()) outer = false;
    }
    if (!outer) break;
    s = Trim(s.substr(1, s.size() - 2));
  }
  return s;
}

// The clock defaults SQLite knows, as the UTC text it would store.
struct Clock {
  const char* pg_text_format;  // to_char() pattern for text columns
  const char* pg_cast;         // cast for typed columns
  bool local;
};

std::optional<Clock> ClockDefault(const std::string& squashed) {
  if (squashed == "current_timestamp" || squashed == "datetime('now')" || squashed == "datetime(\"now\")" ||
      squashed == "datetime('now','utc')") {
    return Clock{"YYYY-MM-DD HH24:MI:SS", "timestamp(0)", false};
  }
  if (squashed == "current_date" || squashed == "date('now')") return Clock{"YYYY-MM-DD", "date", false};
  if (squashed == "current_time" || squashed == "time('now')") return Clock{"HH24:MI:SS", "time(0)", false};
  if (squashed == "datetime('now','localtime')") return Clock{"YYYY-MM-DD HH24:MI:SS", "timestamp(0)", true};
  if (squashed == "date('now','localtime')") return Clock{"YYYY-MM-DD", "date", true};
  if (squashed == "strftime('%y-%m-%d%h:%m:%f','now')" || squashed == "strftime('%y-%m-%d%h:%m:%s','now')") {
    return Clock{"YYYY-MM-DD HH24:MI:SS.MS", "timestamp(3)", false};
  }
  if (squashed == "strftime('%s','now')" || squashed == "unixepoch()" || squashed == "unixepoch('now')") {
    return Clock{"epoch", "bigint", false};
  }
  return std::nullopt;
}

std::optional<std::string> TranslateClock(const Clock& c, const ColumnMapping& col) {
  const std::string now = c.local ? "LOCALTIMESTAMP" : "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')";
  if (std::string(c.pg_text_format) == "epoch") {
    if (col.type.kind == PgKind::kBigint) return "(extract(epoch from CURRENT_TIMESTAMP)::bigint)";
    if (col.type.kind == PgKind::kTimestamptz) return "CURRENT_TIMESTAMP";
    return std::nullopt;
  }
  switch (col.type.kind) {
    case PgKind::kText:
    case PgKind::kVarchar:
      return "to_char(" + now + ", '" + c.pg_text_format + "')";
    case PgKind::kTimestamp:
    case PgKind::kDate:
    case PgKind::kTime:
      return "(" + now + ")::" + c.pg_cast;
    case PgKind::kTimestamptz:
      return c.local ? std::nullopt : std::optional<std::string>("CURRENT_TIMESTAMP");
    default:
      return std::nullopt;
  }
}

// A literal as SQLite would store it in a column of this affinity.
std::optional<SqlValue> LiteralValue(const std::string& expr, Affinity affinity, std::string* storage) {
  std::string e = StripParens(expr);
  std::string lower = Squash(e);
  SqlValue v;
  if (lower == "null") return std::nullopt;
  if (lower == "true" || lower == "false") {
    v.type = SQLITE_INTEGER;
    v.i = lower == "true" ? 1 : 0;
    return v;
  }
  bool quoted = e.size() >= 2 && (e.front() == '\'' || e.front() == '"') && e.back() == e.front();
  std::string text;
  if (quoted) {
    char q = e.front();
    for (size_t i = 1; i + 1 < e.size(); ++i) {
      if (e[i] == q && i + 2 < e.size() && e[i + 1] == q) ++i;
      text += e[i];
    }
  } else {
    text = e;
  }
  // Numeric text converts to a number under INTEGER/REAL/NUMERIC affinity, and
  // an unquoted number is a number anyway.
  char* end = nullptr;
  bool numeric_affinity = affinity == Affinity::kInteger || affinity == Affinity::kReal || affinity == Affinity::kNumeric;
  if (!text.empty() && (!quoted || numeric_affinity)) {
    long long iv = std::strtoll(text.c_str(), &end, 10);
    if (end != nullptr && *end == '\0' && affinity != Affinity::kReal) {
      v.type = SQLITE_INTEGER;
      v.i = iv;
      return v;
    }
    double dv = std::strtod(text.c_str(), &end);
    if (end != nullptr && *end == '\0') {
      if (affinity != Affinity::kReal && dv == static_cast<double>(static_cast<long long>(dv))) {
        v.type = SQLITE_INTEGER;
        v.i = static_cast<long long>(dv);
      } else {
        v.type = SQLITE_FLOAT;
        v.d = dv;
      }
      return v;
    }
    if (!quoted) return std::nullopt;  // an expression, not a literal
  }
  *storage = text;
  v.type = SQLITE_TEXT;
  v.bytes = *storage;
  return v;
}

}  // namespace

DefaultTranslation TranslateDefault(const std::string& sqlite_default, const ColumnMapping& col) {
  DefaultTranslation t;
  std::string stripped = StripParens(sqlite_default);
  std::string squashed = Squash(stripped);
  if (squashed.empty() || squashed == "null") return t;
  if (auto clock = ClockDefault(squashed)) {
    t.pg_sql = TranslateClock(*clock, col);
    if (!t.pg_sql) t.dropped_reason = "no PostgreSQL equivalent of " + sqlite_default + " for " + col.type.Sql();
    return t;
  }
  std::string storage;
  auto value = LiteralValue(stripped, col.affinity, &storage);
  if (!value) {
    t.dropped_reason = "expression default " + sqlite_default + " has no PostgreSQL translation";
    return t;
  }
  std::string pg_text;
  Status s = EncodeForPg(*value, col, &pg_text);
  if (!s.ok()) {
    t.dropped_reason = "default " + sqlite_default + ": " + s.message();
    return t;
  }
  t.pg_sql = QuotePgLiteral(pg_text) + "::" + col.type.Sql();
  return t;
}

}  // namespace slipway::schema
