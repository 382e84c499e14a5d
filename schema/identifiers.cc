#include "schema/identifiers.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace slipway::schema {
namespace {

uint32_t Fnv32(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string CutUtf8(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// PostgreSQL 15 reserved key words (Appendix C, "reserved" and
// "reserved (can be function or type)").
constexpr const char* kReserved[] = {
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization",
    "binary", "both", "case", "cast", "check", "collate", "collation", "column", "concurrently",
    "constraint", "create", "cross", "current_catalog", "current_date", "current_role",
    "current_schema", "current_time", "current_timestamp", "current_user", "default", "deferrable",
    "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "freeze",
    "from", "full", "grant", "group", "having", "ilike", "in", "initially", "inner", "intersect",
    "into", "is", "isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime",
    "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or", "order",
    "outer", "overlaps", "placing", "primary", "references", "returning", "right", "select",
    "session_user", "similar", "some", "symmetric", "table", "tablesample", "then", "to",
    "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose", "when", "where",
    "window", "with"};

}  // namespace

std::string PgName(const std::string& sqlite_name, NameStyle style) {
  std::string name = sqlite_name;
  if (style == NameStyle::kLower) {
    // PostgreSQL's own folding of unquoted names: ASCII letters only.
    for (auto& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  if (name.size() > kPgMaxIdentBytes) {
    char suffix[10];
    std::snprintf(suffix, sizeof suffix, "_%08x", Fnv32(sqlite_name));
    name = CutUtf8(name, kPgMaxIdentBytes - 9) + suffix;
  }
  return name;
}

bool IsPgReserved(const std::string& lower_name) {
  return std::find_if(std::begin(kReserved), std::end(kReserved),
                      [&](const char* w) { return lower_name == w; }) != std::end(kReserved);
}

bool NameScope::Claim(const std::string& name, const std::string& owner, std::string* other_owner) {
  auto [it, inserted] = owners_.emplace(name, owner);
  if (!inserted && it->second != owner) {
    if (other_owner != nullptr) *other_owner = it->second;
    return false;
  }
  return true;
}

std::string NameScope::Unique(const std::string& base, const std::string& owner) {
  std::string candidate = base;
  for (int i = 2; owners_.count(candidate) != 0; ++i) {
    std::string suffix = "_" + std::to_string(i);
    candidate = CutUtf8(base, kPgMaxIdentBytes - suffix.size()) + suffix;
  }
  owners_.emplace(candidate, owner);
  return candidate;
}

}  // namespace slipway::schema
