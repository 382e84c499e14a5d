// Cheap checks on one TEXT value: UTF-8 validity, numbers, booleans, uuids.
// They run on every text of every table, so they work on views, allocate
// nothing and give up at the first byte that rules them out.

#include <cstring>

#include "schema/audit.h"
#include "schema/audit_internal.h"

namespace slipway::schema {
namespace audit_internal {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ULL;
constexpr uint64_t kLowBits = 0x0101010101010101ULL;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsCont(unsigned char c) { return (c & 0xC0) == 0x80; }

bool IsHex(char c, bool* lower, bool* upper) {
  if (IsDigit(c)) return true;
  if (c >= 'a' && c <= 'f') {
    *lower = true;
    return true;
  }
  if (c >= 'A' && c <= 'F') {
    *upper = true;
    return true;
  }
  return false;
}

}  // namespace

int Utf8SequenceLength(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  // The ranges of the second byte are what exclude overlong forms (E0, F0),
  // surrogates (ED) and code points above U+10FFFF (F4); as in PostgreSQL's
  // pg_utf8_islegal().
  if (c >= 0xC2 && c <= 0xDF) return n >= 2 && IsCont(p[1]) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || !IsCont(p[2])) return 0;
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    return p[1] >= lo && p[1] <= hi ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || !IsCont(p[2]) || !IsCont(p[3])) return 0;
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    return p[1] >= lo && p[1] <= hi ? 4 : 0;
  }
  return 0;
}

Utf8Scan ScanUtf8(std::string_view s) {
  Utf8Scan r;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Fast path: eight ASCII bytes without a NUL are eight characters.
    if (n - i >= 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      const bool ascii = (w & kHighBits) == 0;
      const bool has_zero = ((w - kLowBits) & ~w & kHighBits) != 0;
      if (ascii && !has_zero) {
        r.chars += 8;
        i += 8;
        continue;
      }
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == 0) r.has_nul = true;
      ++r.chars;
      ++i;
      continue;
    }
    const int len = Utf8SequenceLength(s.substr(i));
    ++r.chars;
    if (len == 0) {
      r.valid = false;
      ++i;  // resynchronise on the next byte
    } else {
      i += static_cast<size_t>(len);
    }
  }
  return r;
}

TextNumber ParseTextNumber(std::string_view s) {
  TextNumber r;
  size_t i = 0;
  const size_t n = s.size();
  const bool negative = n > 0 && s[0] == '-';
  if (negative) i = 1;
  const size_t int_start = i;
  while (i < n && IsDigit(s[i])) ++i;
  const size_t int_len = i - int_start;
  if (int_len == 0) return r;
  size_t zeros = 0;
  while (zeros < int_len && s[int_start + zeros] == '0') ++zeros;
  bool all_zero = zeros == int_len;
  size_t frac_len = 0;
  if (i < n && s[i] == '.') {
    const size_t frac_start = ++i;
    while (i < n && IsDigit(s[i])) {
      if (s[i] != '0') all_zero = false;
      ++i;
    }
    frac_len = i - frac_start;
    if (frac_len == 0) return r;
  }
  if (i != n) return r;
  r.is_number = true;
  r.int_digits = static_cast<int>(int_len - zeros == 0 ? 1 : int_len - zeros);
  r.frac_digits = static_cast<int>(frac_len);
  // numeric prints "007" as 7 and "-0.0" as 0.0 (its zero has no sign).
  r.canonical = (int_len == 1 || zeros == 0) && !(negative && all_zero);
  if (r.canonical && frac_len == 0) {
    constexpr std::string_view kMax = "9223372036854775807";
    constexpr std::string_view kMinAbs = "9223372036854775808";
    const std::string_view digits = s.substr(int_start, int_len);
    const std::string_view limit = negative ? kMinAbs : kMax;
    r.is_int64 = digits.size() < limit.size() || (digits.size() == limit.size() && digits <= limit);
  }
  return r;
}

bool IsTextBool(std::string_view s) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  auto equals = [&](std::string_view word) {
    if (s.size() != word.size()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
      if (lower(s[i]) != word[i]) return false;
    }
    return true;
  };
  switch (s.size()) {
    case 1: return equals("t") || equals("f");
    case 4: return equals("true");
    case 5: return equals("false");
    default: return false;
  }
}

UuidCase UuidCaseOf(std::string_view s) {
  constexpr size_t kUuidLength = 36;
  if (s.size() != kUuidLength) return UuidCase::kNone;
  bool lower = false;
  bool upper = false;
  for (size_t i = 0; i < kUuidLength; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return UuidCase::kNone;
    } else if (!IsHex(s[i], &lower, &upper)) {
      return UuidCase::kNone;
    }
  }
  if (lower && upper) return UuidCase::kMixed;
  return upper ? UuidCase::kUpper : UuidCase::kLower;
}

}  // namespace audit_internal

bool IsValidUtf8(std::string_view s) { return audit_internal::ScanUtf8(s).valid; }

}  // namespace slipway::schema
