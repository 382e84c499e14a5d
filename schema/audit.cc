// AuditTable(): one sequential scan of a table, classifying every value by
// its storage class and, for text, by what it looks like. The per-value work
// reads SQLite's buffers through views and allocates nothing; strings are
// built only for the first few examples of each finding.

#include "schema/audit.h"

#include <chrono>
#include <cmath>
#include <string_view>

#include "schema/audit_internal.h"

namespace slipway::schema {
namespace {

using audit_internal::CheckJson;
using audit_internal::DateShape;
using audit_internal::JsonVerdict;
using audit_internal::ParseDateShape;
using audit_internal::ParseTextNumber;
using audit_internal::PlainDigits;
using audit_internal::PlainDigitsOf;
using audit_internal::ScanUtf8;
using audit_internal::TextNumber;
using audit_internal::UuidCase;
using audit_internal::UuidCaseOf;
using audit_internal::Utf8Scan;
using audit_internal::Zone;

constexpr int64_t kEpochSecondsMax = 4102444800;    // 2100-01-01 00:00:00 UTC
constexpr int64_t kEpochMillisMin = 100000000000;   // 1e11 ms, 1973-03-03
constexpr int64_t kEpochMillisMax = 4102444800000;  // 2100-01-01 in ms
constexpr double kTwoPow53 = 9007199254740992.0;
constexpr size_t kMaxOffsets = 8;                   // distinct offsets listed
constexpr size_t kMaxRowidKeyColumns = 3;

enum StorageClass { kInteger, kReal, kText, kBlob, kClassCount };

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The first of SQLite's names for the rowid that no column shadows (column
// names compare case-insensitively), or "" when all three are taken.
std::string FreeRowidName(const Table& table) {
  for (const char* name : {"rowid", "oid", "_rowid_"}) {
    bool taken = false;
    for (const auto& c : table.columns) taken = taken || EqualsNoCase(c.name, name);
    if (!taken) return name;
  }
  return "";
}

// The current row of the scan, and how its key is rendered for examples.
struct Row {
  sqlite3_stmt* stmt = nullptr;
  const std::vector<std::pair<std::string, int>>* key = nullptr;  // name, result column

  std::string Key() const {
    std::string out;
    for (const auto& [name, index] : *key) {
      if (!out.empty()) out += ", ";
      out += name;
      out += '=';
      audit_internal::AppendColumnValue(stmt, index, &out);
    }
    return out;
  }
  std::string Value(int index) const {
    std::string out;
    audit_internal::AppendColumnValue(stmt, index, &out);
    return out;
  }
};

// Accumulates one column. Examples are rendered only while a finding has
// room for them, so after the first rows the work per value is counting.
class ColumnScanner {
 public:
  ColumnScanner(ColumnAudit* audit, int result_index) : a_(audit), index_(result_index) {}

  // False when SQLite could not hand out the value (out of memory): the
  // audit is then incomplete and must not be used.
  [[nodiscard]] bool Add(const Row& row) {
    sqlite3_stmt* stmt = row.stmt;
    switch (sqlite3_column_type(stmt, index_)) {
      case SQLITE_INTEGER: AddInteger(sqlite3_column_int64(stmt, index_), row); break;
      case SQLITE_FLOAT: AddReal(sqlite3_column_double(stmt, index_), row); break;
      case SQLITE_TEXT: {
        // Text first, then its size: the documented order for a pointer that stays valid.
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, index_));
        const int n = sqlite3_column_bytes(stmt, index_);
        if (p == nullptr) return false;
        AddText(std::string_view(p, static_cast<size_t>(n)), row);
        break;
      }
      case SQLITE_BLOB: AddBlob(sqlite3_column_bytes(stmt, index_), row); break;
      default: ++a_->nulls; break;
    }
    return true;
  }

  const std::string& name() const { return a_->name; }

  void Finish();

 private:
  struct FormatTally {
    uint32_t key;
    DateShape shape;  // its offset view is stale after the row; only the format is used
    int64_t count;
  };
  struct OffsetTally {
    std::string text;
    int64_t count;
  };

  void Note(Finding& f, const Row& row) const {
    if (f.examples.size() < kMaxExamples) {
      f.Add(row.Key(), row.Value(index_));
    } else {
      ++f.count;
    }
  }

  void AddInteger(int64_t v, const Row& row) {
    ColumnAudit& a = *a_;
    if (a.integers == 0 || v < a.int_min) a.int_min = v;
    if (a.integers == 0 || v > a.int_max) a.int_max = v;
    ++a.integers;
    Note(by_class_[kInteger], row);
    if (v == 0 || v == 1) ++a.int_bool;
    if (v >= 0 && v <= kEpochSecondsMax) ++a.int_epoch_s;
    if (v >= kEpochMillisMin && v <= kEpochMillisMax) ++a.int_epoch_ms;
  }

  void AddReal(double v, const Row& row) {
    ColumnAudit& a = *a_;
    ++a.reals;
    Note(by_class_[kReal], row);
    if (!std::isfinite(v)) {  // SQLite stores NaN as NULL: this is +-Inf
      Note(a.real_nonfinite, row);
      return;
    }
    const bool integral = v == std::floor(v);
    if (integral && std::fabs(v) < kTwoPow53) {
      ++a.real_integral;
    } else if (!integral && v >= 0 && v <= static_cast<double>(kEpochSecondsMax)) {
      ++a.real_epoch_s;
    }
    const PlainDigits d = PlainDigitsOf(v);
    if (d.int_digits > a.real_max_int_digits) a.real_max_int_digits = d.int_digits;
    if (d.frac_digits > a.real_max_frac_digits) a.real_max_frac_digits = d.frac_digits;
  }

  void AddBlob(int bytes, const Row& row) {
    ColumnAudit& a = *a_;
    ++a.blobs;
    if (bytes > a.blob_max_bytes) a.blob_max_bytes = bytes;
    Note(by_class_[kBlob], row);
    Note(a.blob_values, row);
  }

  void AddText(std::string_view s, const Row& row);
  bool AddNumber(std::string_view s, const Row& row);
  bool AddDate(std::string_view s, const Row& row);
  bool AddJson(std::string_view s);

  ColumnAudit* a_;
  int index_;
  Finding by_class_[kClassCount];  // first examples of each storage class, for `mixed`
  std::vector<FormatTally> formats_;
  std::vector<OffsetTally> offsets_;
  int64_t offsets_uncounted_ = 0;
};

void ColumnScanner::AddText(std::string_view s, const Row& row) {
  ColumnAudit& a = *a_;
  ++a.texts;
  Note(by_class_[kText], row);
  const Utf8Scan u = ScanUtf8(s);
  if (static_cast<int64_t>(s.size()) > a.text_max_bytes) a.text_max_bytes = static_cast<int64_t>(s.size());
  if (u.chars > a.text_max_chars) a.text_max_chars = u.chars;
  if (!u.valid) Note(a.text_invalid_utf8, row);
  if (u.has_nul) Note(a.text_nul, row);

  // Cheap first-byte tests decide which of the dearer parsers run.
  bool known = false;  // a number, a date, JSON or a boolean
  const char c0 = s.empty() ? '\0' : s[0];
  bool date = false;
  if (IsDigit(c0) || c0 == '-') {
    known = AddNumber(s, row);
    if (!known && IsDigit(c0)) date = known = AddDate(s, row);
  } else if (c0 == 't' || c0 == 'T' || c0 == 'f' || c0 == 'F') {
    if (audit_internal::IsTextBool(s)) {
      ++a.text_bool;
      known = true;
    }
  }
  // A date is never JSON (a number followed by '-' or ':').
  if (!date && AddJson(s)) {
    known = true;
  } else {
    Note(a.json_invalid, row);
  }
  if (s.size() == 36) {
    const UuidCase c = UuidCaseOf(s);
    if (c == UuidCase::kLower) ++a.uuid_lower;
    if (c == UuidCase::kUpper) ++a.uuid_upper;
  }
  if (!known) Note(a.text_other, row);
}

bool ColumnScanner::AddNumber(std::string_view s, const Row& row) {
  ColumnAudit& a = *a_;
  const TextNumber num = ParseTextNumber(s);
  if (!num.is_number) return false;
  ++a.text_number;
  if (num.is_int64) ++a.text_integer;
  if (!num.canonical) Note(a.text_num_noncanonical, row);
  if (num.int_digits > a.text_num_max_int_digits) a.text_num_max_int_digits = num.int_digits;
  if (num.frac_digits > a.text_num_max_frac_digits) a.text_num_max_frac_digits = num.frac_digits;
  return true;
}

bool ColumnScanner::AddDate(std::string_view s, const Row& row) {
  DateAudit& dates = a_->dates;
  DateShape d;
  if (!ParseDateShape(s, &d)) return false;
  const uint32_t key = d.FormatKey();
  bool found = false;
  for (auto& f : formats_) {
    if (f.key == key) {
      ++f.count;
      found = true;
      break;
    }
  }
  if (!found) formats_.push_back(FormatTally{key, d, 1});
  if (d.zone != Zone::kNone) {
    found = false;
    for (auto& o : offsets_) {
      if (o.text == d.offset) {
        ++o.count;
        found = true;
        break;
      }
    }
    if (!found && offsets_.size() < kMaxOffsets) {
      offsets_.push_back(OffsetTally{std::string(d.offset), 1});
    } else if (!found) {
      ++offsets_uncounted_;
    }
  }
  if (!d.valid) {
    Note(dates.invalid, row);
  } else if (d.has_date) {
    if (d.year < dates.year_min) dates.year_min = d.year;
    if (d.year > dates.year_max) dates.year_max = d.year;
  }
  return true;
}

// JSON is parsed only when the first non-blank byte can start a JSON value;
// scalars are counted in every column (the mapping decides what they mean).
bool ColumnScanner::AddJson(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  if (i == s.size()) return false;
  const char c = s[i];
  const bool plausible = c == '{' || c == '[' || c == '"' || c == '-' || IsDigit(c) || c == 't' ||
                         c == 'f' || c == 'n';
  if (!plausible) return false;
  const JsonVerdict v = CheckJson(s);
  if (!v.valid) return false;
  ColumnAudit& a = *a_;
  if (v.container) {
    ++a.json_valid;
  } else {
    ++a.json_scalar;
  }
  if (v.jsonb_exact) ++a.json_jsonb_exact;
  return true;
}

void ColumnScanner::Finish() {
  ColumnAudit& a = *a_;
  for (const auto& f : formats_) a.dates.formats[f.shape.FormatString()] += f.count;
  for (const auto& o : offsets_) a.dates.offsets[o.text] = o.count;
  a.dates.offsets_uncounted = offsets_uncounted_;
  // Invalid-JSON examples only matter next to valid JSON.
  if (a.json_valid == 0) {
    a.json_invalid.examples.clear();
    a.json_invalid.values.clear();
  }
  a.integer_values = by_class_[kInteger];
  a.real_values = by_class_[kReal];
  a.text_values = by_class_[kText];
  // Majority storage class (ties: integer, real, text, blob, in that order);
  // every other non-null value is `mixed`, with examples from the minorities.
  const int64_t counts[kClassCount] = {a.integers, a.reals, a.texts, a.blobs};
  int majority = kInteger;
  for (int c = kInteger; c < kClassCount; ++c) {
    if (counts[c] > counts[majority]) majority = c;
  }
  for (int c = kInteger; c < kClassCount; ++c) {
    if (c == majority) continue;
    a.mixed.count += counts[c];
    const Finding& f = by_class_[c];
    for (size_t i = 0; i < f.examples.size() && a.mixed.examples.size() < kMaxExamples; ++i) {
      a.mixed.examples.push_back(f.examples[i]);
      a.mixed.values.push_back(f.values[i]);
    }
  }
}

}  // namespace

Result<TableAudit> AuditTable(Db& db, const Table& table) {
  const auto start = std::chrono::steady_clock::now();
  const std::string context = "audit of table " + QuoteSqliteIdent(table.name);
  if (table.columns.empty()) return Internal(context + ": no columns");

  // Result columns: [rowid,] every column. Keys point into them.
  std::vector<std::pair<std::string, int>> key;
  std::string sql = "SELECT ";
  int first_column = 0;
  if (table.KeyedByRowid()) {
    const std::string rowid = FreeRowidName(table);
    if (!rowid.empty()) {
      sql += rowid + ", ";
      key.emplace_back(rowid, 0);
      first_column = 1;
    } else {
      // Every rowid name is a column: identify rows by their first columns.
      for (size_t i = 0; i < table.columns.size() && i < kMaxRowidKeyColumns; ++i) {
        key.emplace_back(table.columns[i].name, static_cast<int>(i));
      }
    }
  } else {
    for (const auto& name : table.primary_key) {
      int index = -1;
      for (size_t i = 0; i < table.columns.size(); ++i) {
        if (table.columns[i].name == name) index = static_cast<int>(i);
      }
      if (index < 0) return Internal(context + ": primary key column " + QuoteSqliteIdent(name) + " not found");
      key.emplace_back(name, index);
    }
  }
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += QuoteSqliteIdent(table.columns[i].name);
  }
  sql += " FROM " + QuoteSqliteIdent(table.name);

  TableAudit out;
  out.table = table.name;
  out.columns.resize(table.columns.size());
  std::vector<ColumnScanner> scanners;
  scanners.reserve(table.columns.size());
  for (size_t i = 0; i < table.columns.size(); ++i) {
    out.columns[i].name = table.columns[i].name;
    scanners.emplace_back(&out.columns[i], static_cast<int>(i) + first_column);
  }

  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) return stmt.status().Annotate(context);
  Row row{stmt->get(), &key};
  while (true) {
    auto more = stmt->Step();
    if (!more.ok()) return more.status().Annotate(context + " after " + std::to_string(out.rows) + " rows");
    if (!*more) break;
    ++out.rows;
    for (auto& s : scanners) {
      if (!s.Add(row)) {
        return Internal(context + ": SQLite gave no text for column " + QuoteSqliteIdent(s.name()) + " in row " +
                        std::to_string(out.rows) + " (out of memory?)");
      }
    }
  }
  for (auto& s : scanners) s.Finish();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace slipway::schema
