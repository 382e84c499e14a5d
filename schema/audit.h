#pragma once
// Type audit: what each column really holds, read from the data, so that the
// mapping is chosen from the values and not only from the declared type.
// One sequential scan per table, ~1 s per 1M rows.
// Thread-safety: one AuditTable() at a time per Db; results are plain data.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/sqlite.h"
#include "schema/model.h"

namespace slipway::schema {

// Up to kMaxExamples example keys per finding, rendered "id=5" or
// "pk1='a', pk2=3" or "rowid=17".
inline constexpr size_t kMaxExamples = 3;

struct Finding {
  int64_t count = 0;
  std::vector<std::string> examples;  // example keys
  std::vector<std::string> values;    // the matching example values (rendered)
  void Add(const std::string& key, const std::string& value) {
    ++count;
    if (examples.size() < kMaxExamples) {
      examples.push_back(key);
      values.push_back(value);
    }
  }
};

// The shape of an ISO-8601-like date/time text, e.g. "YYYY-MM-DD",
// "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DDTHH:MM:SS.fffZ", "YYYY-MM-DD HH:MM:SS+HH:MM".
// Fraction digits are counted exactly ("f" per digit); the zone is "", "Z" or
// "+HH:MM" (any offset; the offsets seen are listed in DateAudit::offsets).
struct DateAudit {
  std::map<std::string, int64_t> formats;   // format -> count of text values (invalid ones included)
  std::map<std::string, int64_t> offsets;   // "+00:00", "-05:00", "Z" -> count (first 8 distinct)
  int64_t offsets_uncounted = 0;            // zoned values whose offset came after the first 8
  Finding invalid;       // looks like a date but is not one (2023-02-30, 25:00, year 0000)
  int64_t year_min = 9999, year_max = 0;
};

struct ColumnAudit {
  std::string name;
  // Storage classes of the present values.
  int64_t nulls = 0, integers = 0, reals = 0, texts = 0, blobs = 0;

  // INTEGER values.
  int64_t int_min = 0, int_max = 0;          // valid when integers > 0
  int64_t int_bool = 0;                      // integers that are 0 or 1
  int64_t int_epoch_s = 0;                   // plausible unix seconds (1970..2100)
  int64_t int_epoch_ms = 0;                  // plausible unix milliseconds (1970..2100)

  // REAL values.
  Finding real_nonfinite;                    // +Inf / -Inf
  int64_t real_integral = 0;                 // REALs with an integral value |x| < 2^53
  int real_max_frac_digits = 0;              // shortest round-trip form, digits after '.'
  int real_max_int_digits = 0;               // digits before '.'
  int64_t real_epoch_s = 0;                  // plausible fractional unix seconds

  // TEXT values.
  Finding text_invalid_utf8;
  Finding text_nul;                          // contains a NUL byte
  int64_t text_max_bytes = 0, text_max_chars = 0;
  int64_t text_integer = 0;                  // text that is a canonical integer
  int64_t text_number = 0;                   // text that is a decimal number (incl. integers)
  Finding text_num_noncanonical;             // numbers numeric prints differently ("007", "-0.0")
  int text_num_max_frac_digits = 0, text_num_max_int_digits = 0;  // "007" has 1 int digit
  int64_t text_bool = 0;                     // 'true'/'false' (any case) or 't'/'f'
  int64_t json_valid = 0;                    // valid JSON object or array (PostgreSQL's json)
  int64_t json_scalar = 0;                   // valid JSON scalar (number, string, true, ...)
  int64_t json_jsonb_exact = 0;              // valid (container or scalar), jsonb prints it unchanged
  Finding json_invalid;                      // texts not valid JSON (examples only when some are valid)
  int64_t uuid_lower = 0, uuid_upper = 0;    // canonical 8-4-4-4-12 text, by case
  DateAudit dates;                           // date/time-like texts
  Finding text_other;                        // neither number, date, JSON nor boolean (uuids included)

  // BLOB values.
  int64_t blob_max_bytes = 0;
  Finding blob_values;                       // examples of blobs (for mixed-class reports)

  // Examples of each of the other storage classes (for reports of values
  // whose kind a mapping cannot keep).
  Finding integer_values, real_values, text_values;

  // Non-null values of a class that differs from the column's majority
  // class, with examples (filled for the report).
  Finding mixed;

  int64_t NonNull() const { return integers + reals + texts + blobs; }
};

struct TableAudit {
  std::string table;
  int64_t rows = 0;
  std::vector<ColumnAudit> columns;  // same order as Table::columns
  double seconds = 0;                // scan time
};

// Scans one table. Generated VIRTUAL columns are audited too (their values
// are computed on read). REQUIRES: `table` comes from Introspect() of `db`.
Result<TableAudit> AuditTable(Db& db, const Table& table);

// Helpers shared with the value codecs and tests.
bool IsValidUtf8(std::string_view s);
// Shortest decimal text that parses back to the same double ("0.1", "1e+100").
std::string ShortestDouble(double v);
// Parses an ISO-8601-like date/time; returns its format or "" when the text is
// not date-like; sets *valid=false for a date-like text that is no real date.
std::string DateFormatOf(std::string_view s, bool* valid, std::string* offset);
// True when PostgreSQL's json type accepts the text (RFC 8259 grammar).
bool IsValidJson(std::string_view s, bool* is_container);
// True when jsonb would print the (valid) JSON text back byte for byte.
bool JsonbRoundTrips(std::string_view s);

}  // namespace slipway::schema
