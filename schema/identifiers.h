#pragma once
// PostgreSQL names for SQLite names. PostgreSQL folds unquoted names to lower
// case, so by default names become lower case (an app's unquoted SQL keeps
// working); NameStyle::kKeep keeps them exactly. Names longer than 63 bytes are
// cut on a character boundary and given a hash suffix, so two long names never
// become one. Names that collide after folding are reported, never merged.
// Every name is quoted wherever SQL is generated (QuotePgIdent).

#include <map>
#include <set>
#include <string>

#include "schema/mapping.h"

namespace slipway::schema {

inline constexpr size_t kPgMaxIdentBytes = 63;

// The folded and length-limited name.
std::string PgName(const std::string& sqlite_name, NameStyle style);

// True for PostgreSQL reserved key words (an app must quote such a name).
bool IsPgReserved(const std::string& lower_name);

// Hands out names in one namespace (the tables and indexes of a schema, or
// the columns of a table) and reports collisions.
class NameScope {
 public:
  // Claims `name` for `owner`; returns false when another owner has it.
  bool Claim(const std::string& name, const std::string& owner, std::string* other_owner);
  // Returns `base` or base_2, base_3... whichever is free, and claims it.
  std::string Unique(const std::string& base, const std::string& owner);
  bool Taken(const std::string& name) const { return owners_.count(name) != 0; }

 private:
  std::map<std::string, std::string> owners_;
};

}  // namespace slipway::schema
