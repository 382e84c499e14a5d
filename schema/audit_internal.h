#pragma once
// Internals of the type audit (schema/audit.h), shared by its .cc files and
// its tests: allocation-free checks on views of one value, so that the scan
// of a table does no heap allocation per value. Not for use outside the audit.
// Thread-safety: pure functions.

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace slipway::schema::audit_internal {

// ---- UTF-8 (audit_text.cc) ----

struct Utf8Scan {
  bool valid = true;     // strict UTF-8 as PostgreSQL accepts it (NUL aside)
  bool has_nul = false;  // contains byte 0 (valid UTF-8, but no PostgreSQL text holds it)
  int64_t chars = 0;     // code points; for invalid text each bad byte counts as one
};
Utf8Scan ScanUtf8(std::string_view s);
// Length of the valid UTF-8 sequence at s[0], or 0 when s does not start with one.
// REQUIRES: !s.empty().
int Utf8SequenceLength(std::string_view s);

// ---- Numbers, booleans and uuids in text (audit_text.cc) ----

struct TextNumber {
  bool is_number = false;   // -?[0-9]+(\.[0-9]+)?
  bool canonical = false;   // numeric would print it back unchanged (no "007", no "-0")
  bool is_int64 = false;    // canonical, no fraction, fits int64
  int int_digits = 0;       // digits before '.', without redundant leading zeros ("007" -> 1)
  int frac_digits = 0;      // digits after '.', as written ("1.50" -> 2)
};
TextNumber ParseTextNumber(std::string_view s);

// 'true', 'false', 't', 'f' in any case, nothing around them.
bool IsTextBool(std::string_view s);

enum class UuidCase { kNone, kLower, kUpper, kMixed };
// 8-4-4-4-12 hex digits. A uuid without letters counts as kLower (PostgreSQL
// prints uuids in lower case, so it comes back unchanged).
UuidCase UuidCaseOf(std::string_view s);

// ---- Dates (date_format.cc) ----

enum class Zone : uint8_t { kNone, kZ, kColon, kNoColon, kHourOnly };  // "", Z, +HH:MM, +HHMM, +HH

// The shape and values of a date/time text; see DateFormatOf() in audit.h.
struct DateShape {
  bool has_date = false;
  bool has_time = false;
  bool has_seconds = false;
  char separator = 0;       // ' ' or 'T' between date and time, 0 when not both
  int frac_digits = 0;      // 0..9
  Zone zone = Zone::kNone;
  std::string_view offset;  // the zone text as written ("Z", "+05:30"), empty when none
  bool valid = false;       // the calendar and clock values exist
  int year = 0;             // when has_date

  // A small number naming the format: equal keys, equal FormatString().
  uint32_t FormatKey() const;
  std::string FormatString() const;
};
// False when the text is not date-like. No allocation.
bool ParseDateShape(std::string_view s, DateShape* out);

// ---- JSON (json_check.cc) ----

struct JsonVerdict {
  bool valid = false;        // PostgreSQL's json type accepts it
  bool container = false;    // valid, and an object or an array
  bool jsonb_exact = false;  // valid, and jsonb prints it back byte for byte
};
// One pass for all three answers.
JsonVerdict CheckJson(std::string_view s);

// ---- Doubles and rendering (audit_render.cc) ----

// Digits of the plain-decimal form of ShortestDouble(v) (see audit.h), without
// building it: 0.001 -> {1, 3}, 1e20 -> {21, 0}, 12.5 -> {2, 1}. REQUIRES: v finite.
struct PlainDigits {
  int int_digits = 0;
  int frac_digits = 0;
};
PlainDigits PlainDigitsOf(double v);

// Brief renderings for reports: text quoted and cut after ~40 bytes (control
// and invalid bytes as \xNN), blobs as x'hex' cut after 20 bytes.
inline constexpr size_t kMaxRenderedTextBytes = 40;
inline constexpr size_t kMaxRenderedBlobBytes = 20;
void AppendRenderedText(std::string_view s, std::string* out);
void AppendRenderedBlob(std::string_view b, std::string* out);
void AppendRenderedReal(double v, std::string* out);
// Renders result column i of the statement's current row, read with the
// accessor of its storage class so that nothing is converted in place.
void AppendColumnValue(sqlite3_stmt* stmt, int i, std::string* out);

}  // namespace slipway::schema::audit_internal
