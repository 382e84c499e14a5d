#include "schema/pg_type.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>

namespace slipway::schema {
namespace {

struct KindName {
  PgKind kind;
  const char* sql;
};

constexpr std::array<KindName, 18> kKinds = {{
    {PgKind::kBigint, "bigint"},
    {PgKind::kInteger, "integer"},
    {PgKind::kSmallint, "smallint"},
    {PgKind::kDouble, "double precision"},
    {PgKind::kReal4, "real"},
    {PgKind::kNumeric, "numeric"},
    {PgKind::kBoolean, "boolean"},
    {PgKind::kText, "text"},
    {PgKind::kVarchar, "character varying"},
    {PgKind::kChar, "character"},
    {PgKind::kBytea, "bytea"},
    {PgKind::kDate, "date"},
    {PgKind::kTime, "time without time zone"},
    {PgKind::kTimestamp, "timestamp without time zone"},
    {PgKind::kTimestamptz, "timestamp with time zone"},
    {PgKind::kJson, "json"},
    {PgKind::kJsonb, "jsonb"},
    {PgKind::kUuid, "uuid"},
}};

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n");
  size_t e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

const char* PgKindName(PgKind k) {
  for (const auto& kn : kKinds) {
    if (kn.kind == k) return kn.sql;
  }
  return "text";
}

std::string PgType::Sql() const {
  switch (kind) {
    case PgKind::kNumeric:
      if (precision > 0) {
        return "numeric(" + std::to_string(precision) + "," + std::to_string(std::max(scale, 0)) + ")";
      }
      return "numeric";
    case PgKind::kVarchar:
      return precision > 0 ? "varchar(" + std::to_string(precision) + ")" : "varchar";
    case PgKind::kChar:
      return "char(" + std::to_string(precision > 0 ? precision : 1) + ")";
    case PgKind::kTime:
      return precision >= 0 ? "time(" + std::to_string(precision) + ")" : "time";
    case PgKind::kTimestamp:
      return precision >= 0 ? "timestamp(" + std::to_string(precision) + ")" : "timestamp";
    case PgKind::kTimestamptz:
      return precision >= 0 ? "timestamptz(" + std::to_string(precision) + ")" : "timestamptz";
    case PgKind::kDouble: return "double precision";
    default: return PgKindName(kind);
  }
}

Result<PgType> PgType::Parse(const std::string& text) {
  std::string t = Lower(Trim(text));
  PgType out;
  // Split "name(args) suffix".
  std::string args;
  size_t open = t.find('(');
  if (open != std::string::npos) {
    size_t close = t.find(')', open);
    if (close == std::string::npos) return InvalidArgument("bad type '" + text + "'");
    args = t.substr(open + 1, close - open - 1);
    t = Trim(t.substr(0, open)) + (close + 1 < t.size() ? " " + Trim(t.substr(close + 1)) : "");
    t = Trim(t);
  }
  int a = -1, b = -1;
  if (!args.empty()) {
    a = std::atoi(args.c_str());
    size_t comma = args.find(',');
    if (comma != std::string::npos) b = std::atoi(args.c_str() + comma + 1);
  }
  struct Alias {
    const char* name;
    PgKind kind;
  };
  static const Alias kAliases[] = {
      {"bigint", PgKind::kBigint}, {"int8", PgKind::kBigint},
      {"integer", PgKind::kInteger}, {"int", PgKind::kInteger}, {"int4", PgKind::kInteger},
      {"smallint", PgKind::kSmallint}, {"int2", PgKind::kSmallint},
      {"double precision", PgKind::kDouble}, {"float8", PgKind::kDouble}, {"float", PgKind::kDouble},
      {"real", PgKind::kReal4}, {"float4", PgKind::kReal4},
      {"numeric", PgKind::kNumeric}, {"decimal", PgKind::kNumeric},
      {"boolean", PgKind::kBoolean}, {"bool", PgKind::kBoolean},
      {"text", PgKind::kText},
      {"character varying", PgKind::kVarchar}, {"varchar", PgKind::kVarchar},
      {"character", PgKind::kChar}, {"char", PgKind::kChar}, {"bpchar", PgKind::kChar},
      {"bytea", PgKind::kBytea}, {"date", PgKind::kDate},
      {"time", PgKind::kTime}, {"time without time zone", PgKind::kTime},
      {"timestamp", PgKind::kTimestamp}, {"timestamp without time zone", PgKind::kTimestamp},
      {"timestamptz", PgKind::kTimestamptz}, {"timestamp with time zone", PgKind::kTimestamptz},
      {"json", PgKind::kJson}, {"jsonb", PgKind::kJsonb}, {"uuid", PgKind::kUuid},
  };
  for (const auto& al : kAliases) {
    if (t == al.name) {
      out.kind = al.kind;
      out.precision = a;
      out.scale = b;
      if (out.kind == PgKind::kNumeric && a > 0 && b < 0) out.scale = 0;
      return out;
    }
  }
  return InvalidArgument("unsupported PostgreSQL type '" + text + "'");
}

namespace {
struct ReprEntry {
  Repr r;
  const char* name;
};
constexpr std::array<ReprEntry, 11> kReprs = {{
    {Repr::kNative, "native"},
    {Repr::kBool01, "bool01"},
    {Repr::kDateText, "date_text"},
    {Repr::kUnixSeconds, "unix_seconds"},
    {Repr::kUnixMillis, "unix_millis"},
    {Repr::kNumberAsNumeric, "number_as_numeric"},
    {Repr::kAnyAsText, "any_as_text"},
    {Repr::kTextAsBytes, "text_as_bytes"},
    {Repr::kAnyAsBytes, "any_as_bytes"},
    {Repr::kUuidText, "uuid_text"},
    {Repr::kJsonText, "json_text"},
}};
}  // namespace

const char* ReprName(Repr r) {
  for (const auto& e : kReprs) {
    if (e.r == r) return e.name;
  }
  return "native";
}

std::optional<Repr> ReprFromName(const std::string& name) {
  for (const auto& e : kReprs) {
    if (name == e.name) return e.r;
  }
  return std::nullopt;
}

}  // namespace slipway::schema
