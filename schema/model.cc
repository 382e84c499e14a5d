#include "schema/model.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace slipway::schema {

const char* AffinityName(Affinity a) {
  switch (a) {
    case Affinity::kInteger: return "INTEGER";
    case Affinity::kText: return "TEXT";
    case Affinity::kBlob: return "BLOB";
    case Affinity::kReal: return "REAL";
    case Affinity::kNumeric: return "NUMERIC";
  }
  return "?";
}

Affinity AffinityOf(const std::string& declared_type) {
  std::string t;
  t.reserve(declared_type.size());
  for (char c : declared_type) t += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (t.find("INT") != std::string::npos) return Affinity::kInteger;
  if (t.find("CHAR") != std::string::npos || t.find("CLOB") != std::string::npos ||
      t.find("TEXT") != std::string::npos) {
    return Affinity::kText;
  }
  if (t.empty() || t.find("BLOB") != std::string::npos) return Affinity::kBlob;
  if (t.find("REAL") != std::string::npos || t.find("FLOA") != std::string::npos ||
      t.find("DOUB") != std::string::npos) {
    return Affinity::kReal;
  }
  return Affinity::kNumeric;
}

const char* FkActionSql(FkAction a) {
  switch (a) {
    case FkAction::kNoAction: return "NO ACTION";
    case FkAction::kRestrict: return "RESTRICT";
    case FkAction::kSetNull: return "SET NULL";
    case FkAction::kSetDefault: return "SET DEFAULT";
    case FkAction::kCascade: return "CASCADE";
  }
  return "NO ACTION";
}

const Column* Table::FindColumn(const std::string& column_name) const {
  for (const auto& c : columns) {
    if (c.name == column_name) return &c;
  }
  return nullptr;
}

const Table* SourceSchema::FindTable(const std::string& table_name) const {
  for (const auto& t : tables) {
    if (t.name == table_name) return &t;
  }
  return nullptr;
}

namespace {

// FNV-1a 64-bit over a canonical text rendering; enough to notice change.
uint64_t Fnv(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::string SourceSchema::Fingerprint() const {
  std::string canon;
  for (const auto& t : tables) {
    // slipway's own control tables are not part of the app's schema.
    if (t.kind != TableKind::kTable || t.name.rfind("_slipway", 0) == 0) continue;
    canon += "T:" + t.name + (t.without_rowid ? ":wr" : "") + (t.strict ? ":strict" : "") + "\n";
    for (const auto& c : t.columns) {
      canon += " C:" + c.name + ":" + c.declared_type + ":" + (c.not_null ? "nn" : "") + ":" +
               std::to_string(c.pk_position) + ":" + std::to_string(static_cast<int>(c.generated)) + ":" +
               c.collation + ":" + c.default_sql.value_or("<none>") + "\n";
    }
    for (const auto& f : t.foreign_keys) {
      canon += " F:" + f.ref_table;
      for (const auto& c : f.columns) canon += "," + c;
      canon += "\n";
    }
    for (const auto& ix : t.indexes) canon += " I:" + ix.name + ":" + ix.sql + "\n";
    for (const auto& ck : t.checks) canon += " K:" + ck.expr + "\n";
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(Fnv(canon)));
  return buf;
}

}  // namespace slipway::schema
