// Shortest round-trip forms of doubles, and the brief renderings of values
// used in the audit's examples.

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "schema/audit.h"
#include "schema/audit_internal.h"

namespace slipway::schema {
namespace audit_internal {
namespace {

constexpr int kMaxDoubleDigits = 17;  // always enough to round-trip a double
// The plain-decimal form is used for decimal exponents in this range.
constexpr int kMinPlainExponent = -5;
constexpr int kMaxPlainExponent = 15;
constexpr double kTwoPow53 = 9007199254740992.0;

// v = (negative ? -1 : 1) * d1.d2...dn * 10^exp10, no trailing zero digits.
struct DecimalForm {
  char digits[kMaxDoubleDigits + 1] = {};
  int n = 0;
  int exp10 = 0;
  bool negative = false;
};

// Parses "-d.ddde+XX" as written by to_chars / printf in scientific form.
DecimalForm ParseScientific(const char* p, const char* end) {
  DecimalForm f;
  if (p != end && *p == '-') {
    f.negative = true;
    ++p;
  }
  for (; p != end && *p != 'e'; ++p) {
    if (*p != '.' && f.n < kMaxDoubleDigits) f.digits[f.n++] = *p;
  }
  if (p != end) {
    ++p;  // 'e'
    bool neg_exp = false;
    if (p != end && (*p == '+' || *p == '-')) neg_exp = *p++ == '-';
    int e = 0;
    for (; p != end; ++p) e = e * 10 + (*p - '0');
    f.exp10 = neg_exp ? -e : e;
  }
  while (f.n > 1 && f.digits[f.n - 1] == '0') --f.n;
  return f;
}

// The shortest "%.{N}g" (N = 1..17) that strtod() reads back as v, as digits
// and exponent. REQUIRES: v finite.
DecimalForm ShortestForm(double v) {
  // Fast path: to_chars' shortest form has the fewest digits that round-trip.
  // "%.{N}g" prints the correctly rounded N digits, which are the same unless
  // the shortest form is not the nearest one (rare, near powers of two): only
  // then take the slow path, which does literally what the definition says.
  char shortest[64];
  auto r = std::to_chars(shortest, shortest + sizeof shortest, v, std::chars_format::scientific);
  DecimalForm f = ParseScientific(shortest, r.ptr);
  char rounded[64];
  auto r2 = std::to_chars(rounded, rounded + sizeof rounded, v, std::chars_format::scientific, f.n - 1);
  const auto length = static_cast<size_t>(r.ptr - shortest);
  if (static_cast<size_t>(r2.ptr - rounded) == length && std::memcmp(rounded, shortest, length) == 0) return f;
  for (int n = f.n; n <= kMaxDoubleDigits; ++n) {
    char buf[64];
    const int len = std::snprintf(buf, sizeof buf, "%.*e", n - 1, v);
    if (std::strtod(buf, nullptr) == v || n == kMaxDoubleDigits) return ParseScientific(buf, buf + len);
  }
  return f;  // not reached
}

int DecimalDigitsOf(uint64_t x) {
  int n = 1;
  while (x >= 10) {
    x /= 10;
    ++n;
  }
  return n;
}

void AppendHexByte(unsigned char c, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out += kHex[c >> 4];
  *out += kHex[c & 0xF];
}

}  // namespace

PlainDigits PlainDigitsOf(double v) {
  PlainDigits d;
  const double a = std::fabs(v);
  // An integral double below 2^53 is its own shortest form: no other decimal
  // with fewer digits lies within half an ulp (<= 0.5) of it.
  if (a < kTwoPow53 && a == std::floor(a)) {
    d.int_digits = DecimalDigitsOf(static_cast<uint64_t>(a));
    return d;
  }
  const DecimalForm f = ShortestForm(v);
  d.int_digits = f.exp10 >= 0 ? f.exp10 + 1 : 1;
  d.frac_digits = f.n - 1 - f.exp10 > 0 ? f.n - 1 - f.exp10 : 0;
  return d;
}

void AppendRenderedText(std::string_view s, std::string* out) {
  *out += '\'';
  size_t i = 0;
  while (i < s.size() && i < kMaxRenderedTextBytes) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\'') {
      *out += "''";
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      *out += "\\x";
      AppendHexByte(c, out);
      ++i;
    } else if (c < 0x80) {
      *out += static_cast<char>(c);
      ++i;
    } else {
      const int len = Utf8SequenceLength(s.substr(i));
      if (len == 0) {
        *out += "\\x";
        AppendHexByte(c, out);
        ++i;
      } else {
        out->append(s.substr(i, static_cast<size_t>(len)));
        i += static_cast<size_t>(len);
      }
    }
  }
  *out += '\'';
  if (i < s.size()) *out += "...";
}

void AppendRenderedBlob(std::string_view b, std::string* out) {
  *out += "x'";
  const size_t shown = b.size() < kMaxRenderedBlobBytes ? b.size() : kMaxRenderedBlobBytes;
  for (size_t i = 0; i < shown; ++i) AppendHexByte(static_cast<unsigned char>(b[i]), out);
  *out += '\'';
  if (shown < b.size()) *out += "... (" + std::to_string(b.size()) + " bytes)";
}

void AppendRenderedReal(double v, std::string* out) { *out += ShortestDouble(v); }

// Renders one result column of the current row; reads it with the accessor
// of its storage class, so nothing is converted in place.
void AppendColumnValue(sqlite3_stmt* stmt, int i, std::string* out) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER: *out += std::to_string(sqlite3_column_int64(stmt, i)); break;
    case SQLITE_FLOAT: AppendRenderedReal(sqlite3_column_double(stmt, i), out); break;
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      const int n = sqlite3_column_bytes(stmt, i);
      AppendRenderedText(p == nullptr ? "" : std::string_view(p, static_cast<size_t>(n)), out);
      break;
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, i));
      const int n = sqlite3_column_bytes(stmt, i);
      AppendRenderedBlob(p == nullptr ? "" : std::string_view(p, static_cast<size_t>(n)), out);
      break;
    }
    default: *out += "NULL"; break;
  }
}

}  // namespace audit_internal

std::string ShortestDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  const audit_internal::DecimalForm f = audit_internal::ShortestForm(v);
  const std::string_view digits(f.digits, static_cast<size_t>(f.n));
  std::string out = f.negative ? "-" : "";
  const int e = f.exp10;
  if (e >= audit_internal::kMinPlainExponent && e <= audit_internal::kMaxPlainExponent) {
    if (e >= 0) {
      const size_t int_len = static_cast<size_t>(e) + 1;
      if (digits.size() <= int_len) {
        out += digits;
        out.append(int_len - digits.size(), '0');
      } else {
        out += digits.substr(0, int_len);
        out += '.';
        out += digits.substr(int_len);
      }
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-e - 1), '0');
      out += digits;
    }
    return out;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  char exp[16];
  std::snprintf(exp, sizeof exp, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
  out += exp;
  return out;
}

}  // namespace slipway::schema
