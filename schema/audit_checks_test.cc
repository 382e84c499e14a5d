// Tests of the audit's value checks: UTF-8, numbers, booleans, uuids, dates,
// shortest doubles, JSON and jsonb round-trips.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "schema/audit.h"
#include "schema/audit_internal.h"

namespace slipway::schema {
namespace {

using audit_internal::ParseTextNumber;
using audit_internal::ScanUtf8;
using audit_internal::UuidCase;
using audit_internal::UuidCaseOf;

std::string Bytes(const char* s, size_t n) { return std::string(s, n); }

TEST(AuditUtf8, StrictLikePostgres) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii text, longer than eight bytes"));
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9llo"));              // é
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));              // €
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));          // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));          // U+10FFFF
  EXPECT_TRUE(IsValidUtf8("\xed\x9f\xbf"));              // U+D7FF
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));                 // bad continuation
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));                 // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xc1\xbf"));                 // overlong
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));             // overlong 3 bytes
  EXPECT_FALSE(IsValidUtf8("\xf0\x80\x80\xaf"));         // overlong 4 bytes
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));             // surrogate D800
  EXPECT_FALSE(IsValidUtf8("\xed\xbf\xbf"));             // surrogate DFFF
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));         // U+110000
  EXPECT_FALSE(IsValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));                 // truncated
  EXPECT_FALSE(IsValidUtf8("abcdefgh\x80"));             // lone continuation after fast path
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(AuditUtf8, CountsCharsAndNul) {
  auto u = ScanUtf8("h\xc3\xa9llo");
  EXPECT_TRUE(u.valid);
  EXPECT_FALSE(u.has_nul);
  EXPECT_EQ(u.chars, 5);
  u = ScanUtf8(Bytes("a\0b", 3));
  EXPECT_TRUE(u.valid);
  EXPECT_TRUE(u.has_nul);
  EXPECT_EQ(u.chars, 3);
  u = ScanUtf8(Bytes("0123456789abcdef\0", 17));
  EXPECT_TRUE(u.has_nul);
  EXPECT_EQ(u.chars, 17);
  u = ScanUtf8(Bytes("01234567\0abcdefg", 16));  // NUL inside an 8-byte word
  EXPECT_TRUE(u.has_nul);
  EXPECT_EQ(u.chars, 16);
  EXPECT_EQ(ScanUtf8("\xf0\x9f\x98\x80\xf0\x9f\x98\x80xyz").chars, 5);
}

TEST(AuditNumber, TextNumbers) {
  auto n = ParseTextNumber("123");
  EXPECT_TRUE(n.is_number && n.canonical && n.is_int64);
  EXPECT_EQ(n.int_digits, 3);
  EXPECT_EQ(n.frac_digits, 0);
  n = ParseTextNumber("-0");
  EXPECT_TRUE(n.is_number);
  EXPECT_FALSE(n.canonical);
  EXPECT_FALSE(n.is_int64);
  n = ParseTextNumber("007");
  EXPECT_TRUE(n.is_number);
  EXPECT_FALSE(n.canonical);
  EXPECT_EQ(n.int_digits, 1);
  n = ParseTextNumber("1.50");
  EXPECT_TRUE(n.is_number && n.canonical);
  EXPECT_FALSE(n.is_int64);
  EXPECT_EQ(n.int_digits, 1);
  EXPECT_EQ(n.frac_digits, 2);
  n = ParseTextNumber("0.5");
  EXPECT_TRUE(n.canonical);
  EXPECT_EQ(n.int_digits, 1);
  EXPECT_FALSE(ParseTextNumber("-0.00").canonical);
  EXPECT_TRUE(ParseTextNumber("-0.01").canonical);
  EXPECT_TRUE(ParseTextNumber("0").is_int64);
  EXPECT_TRUE(ParseTextNumber("9223372036854775807").is_int64);
  EXPECT_FALSE(ParseTextNumber("9223372036854775808").is_int64);
  EXPECT_TRUE(ParseTextNumber("9223372036854775808").canonical);
  EXPECT_TRUE(ParseTextNumber("-9223372036854775808").is_int64);
  EXPECT_FALSE(ParseTextNumber("-9223372036854775809").is_int64);
  EXPECT_FALSE(ParseTextNumber("12345678901234567890").is_int64);
  for (const char* bad : {"", "-", "+1", "1.", ".5", "1e5", "1 ", " 1", "1,5", "0x10", "--1", "1.2.3"}) {
    EXPECT_FALSE(ParseTextNumber(bad).is_number) << bad;
  }
}

TEST(AuditNumber, BoolsAndUuids) {
  for (const char* b : {"true", "false", "t", "f", "TRUE", "False", "T", "F"}) {
    EXPECT_TRUE(audit_internal::IsTextBool(b)) << b;
  }
  for (const char* b : {"", "yes", "no", "1", "0", "tru", "truee", " true", "on"}) {
    EXPECT_FALSE(audit_internal::IsTextBool(b)) << b;
  }
  EXPECT_EQ(UuidCaseOf("123e4567-e89b-12d3-a456-426614174000"), UuidCase::kLower);
  EXPECT_EQ(UuidCaseOf("123E4567-E89B-12D3-A456-426614174000"), UuidCase::kUpper);
  EXPECT_EQ(UuidCaseOf("123E4567-e89b-12d3-a456-426614174000"), UuidCase::kMixed);
  EXPECT_EQ(UuidCaseOf("12345678-1234-1234-1234-123456789012"), UuidCase::kLower);
  EXPECT_EQ(UuidCaseOf("123e4567e89b12d3a456426614174000"), UuidCase::kNone);
  EXPECT_EQ(UuidCaseOf("123e4567-e89b-12d3-a456-42661417400g"), UuidCase::kNone);
  EXPECT_EQ(UuidCaseOf("{23e4567-e89b-12d3-a456-426614174000"), UuidCase::kNone);
}

TEST(AuditDouble, ShortestForms) {
  EXPECT_EQ(ShortestDouble(0.1), "0.1");
  EXPECT_EQ(ShortestDouble(1.0), "1");
  EXPECT_EQ(ShortestDouble(0.0), "0");
  EXPECT_EQ(ShortestDouble(-0.0), "-0");
  EXPECT_EQ(ShortestDouble(-2.5), "-2.5");
  EXPECT_EQ(ShortestDouble(123.456), "123.456");
  EXPECT_EQ(ShortestDouble(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(ShortestDouble(1e15), "1000000000000000");
  EXPECT_EQ(ShortestDouble(1.5e15), "1500000000000000");
  EXPECT_EQ(ShortestDouble(1e16), "1e+16");
  EXPECT_EQ(ShortestDouble(1.25e16), "1.25e+16");
  EXPECT_EQ(ShortestDouble(1e100), "1e+100");
  EXPECT_EQ(ShortestDouble(1e-5), "0.00001");
  EXPECT_EQ(ShortestDouble(1.5e-5), "0.000015");
  EXPECT_EQ(ShortestDouble(1e-6), "1e-06");
  EXPECT_EQ(ShortestDouble(5e-324), "5e-324");
  EXPECT_EQ(ShortestDouble(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(ShortestDouble(9007199254740993.0), "9007199254740992");
  EXPECT_EQ(ShortestDouble(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(ShortestDouble(-std::numeric_limits<double>::infinity()), "-Infinity");
}

// The definition, done literally: the fewest %.{N}g digits that strtod reads
// back; returns those significant digits (no sign, point, exponent or zeros
// at either end).
std::string Significant(const std::string& s) {
  std::string digits;
  for (char c : s) {
    if (c == 'e') break;
    if (c >= '0' && c <= '9') digits += c;
  }
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return "0";
  return digits.substr(first, digits.find_last_not_of('0') - first + 1);
}

std::string ReferenceDigits(double v) {
  for (int n = 1; n <= 17; ++n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", n, v);
    if (std::strtod(buf, nullptr) == v || n == 17) return Significant(buf);
  }
  return "";
}

TEST(AuditDouble, MatchesDefinitionOnRandomDoubles) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 50000; ++i) {
    double v;
    if (i % 2 == 0) {
      const uint64_t bits = rng();
      std::memcpy(&v, &bits, sizeof v);
      if (!std::isfinite(v)) continue;
    } else {
      // Typical application values: a few decimals at various scales.
      v = static_cast<double>(static_cast<int64_t>(rng() % 10000000)) / std::pow(10.0, static_cast<int>(rng() % 12));
    }
    const std::string s = ShortestDouble(v);
    ASSERT_EQ(std::strtod(s.c_str(), nullptr), v) << s;
    EXPECT_EQ(Significant(s), ReferenceDigits(v)) << s;
    const bool exponent = s.find('e') != std::string::npos;
    // PlainDigitsOf agrees with the rendering.
    if (!exponent) {
      const std::string abs = s[0] == '-' ? s.substr(1) : s;
      const size_t dot = abs.find('.');
      const auto d = audit_internal::PlainDigitsOf(v);
      EXPECT_EQ(d.int_digits, static_cast<int>(dot == std::string::npos ? abs.size() : dot)) << s;
      EXPECT_EQ(d.frac_digits, static_cast<int>(dot == std::string::npos ? 0 : abs.size() - dot - 1)) << s;
    }
  }
}

// Powers of two have a lopsided rounding interval: there the shortest
// round-trip digits are sometimes not the correctly rounded ones, and
// "%.{N}g" needs one digit more than to_chars' shortest form (2^-1017).
TEST(AuditDouble, MatchesDefinitionOnPowersOfTwo) {
  for (int k = -1074; k <= 1023; ++k) {
    const double v = std::ldexp(1.0, k);
    const std::string s = ShortestDouble(v);
    ASSERT_EQ(std::strtod(s.c_str(), nullptr), v) << s;
    EXPECT_EQ(Significant(s), ReferenceDigits(v)) << "2^" << k << " " << s;
  }
  EXPECT_EQ(ShortestDouble(std::ldexp(1.0, -1017)), "7.1202363472230444e-307");  // to_chars: 7.120236347223045e-307
}

TEST(AuditDouble, PlainDigits) {
  auto d = audit_internal::PlainDigitsOf(0.001);
  EXPECT_EQ(d.int_digits, 1);
  EXPECT_EQ(d.frac_digits, 3);
  d = audit_internal::PlainDigitsOf(1e20);
  EXPECT_EQ(d.int_digits, 21);
  EXPECT_EQ(d.frac_digits, 0);
  d = audit_internal::PlainDigitsOf(-12.5);
  EXPECT_EQ(d.int_digits, 2);
  EXPECT_EQ(d.frac_digits, 1);
  d = audit_internal::PlainDigitsOf(1e-7);
  EXPECT_EQ(d.int_digits, 1);
  EXPECT_EQ(d.frac_digits, 7);
  d = audit_internal::PlainDigitsOf(0.0);
  EXPECT_EQ(d.int_digits, 1);
  EXPECT_EQ(d.frac_digits, 0);
}

struct DateCase {
  const char* text;
  const char* format;
  bool valid;
  const char* offset;
};

TEST(AuditDate, Formats) {
  const DateCase cases[] = {
      {"2024-01-31", "YYYY-MM-DD", true, ""},
      {"2024-01-31 12:34:56", "YYYY-MM-DD HH:MM:SS", true, ""},
      {"2024-01-31T12:34", "YYYY-MM-DDTHH:MM", true, ""},
      {"2024-01-31T12:34:56.123Z", "YYYY-MM-DDTHH:MM:SS.fffZ", true, "Z"},
      {"2024-01-31 12:34:56.123456+05:30", "YYYY-MM-DD HH:MM:SS.ffffff+HH:MM", true, "+05:30"},
      {"2024-01-31 12:34:56.123456789-05:00", "YYYY-MM-DD HH:MM:SS.fffffffff+HH:MM", true, "-05:00"},
      {"2024-01-31T12:34-0500", "YYYY-MM-DDTHH:MM+HHMM", true, "-0500"},
      {"2024-01-31 12:34:56+02", "YYYY-MM-DD HH:MM:SS+HH", true, "+02"},
      {"12:34:56", "HH:MM:SS", true, ""},
      {"12:34:56.5", "HH:MM:SS.f", true, ""},
      {"2024-02-29", "YYYY-MM-DD", true, ""},
      {"2000-02-29", "YYYY-MM-DD", true, ""},
      {"2023-02-29", "YYYY-MM-DD", false, ""},
      {"1900-02-29", "YYYY-MM-DD", false, ""},
      {"2024-04-31", "YYYY-MM-DD", false, ""},
      {"2024-13-01", "YYYY-MM-DD", false, ""},
      {"2024-00-10", "YYYY-MM-DD", false, ""},
      {"2024-01-00", "YYYY-MM-DD", false, ""},
      {"0000-01-01", "YYYY-MM-DD", false, ""},
      {"2024-01-01 24:00:00", "YYYY-MM-DD HH:MM:SS", false, ""},
      {"2024-01-01 23:60", "YYYY-MM-DD HH:MM", false, ""},
      {"2024-01-01 23:59:60", "YYYY-MM-DD HH:MM:SS", false, ""},
      {"25:00:00", "HH:MM:SS", false, ""},
      {"2024-01-01 10:00+16:00", "YYYY-MM-DD HH:MM+HH:MM", false, "+16:00"},
      {"2024-01-01 10:00+15:59", "YYYY-MM-DD HH:MM+HH:MM", true, "+15:59"},
      {"2024-01-01 10:00+05:60", "YYYY-MM-DD HH:MM+HH:MM", false, "+05:60"},
  };
  for (const auto& c : cases) {
    bool valid = !c.valid;
    std::string offset = "unset";
    EXPECT_EQ(DateFormatOf(c.text, &valid, &offset), c.format) << c.text;
    EXPECT_EQ(valid, c.valid) << c.text;
    EXPECT_EQ(offset, c.offset) << c.text;
  }
}

TEST(AuditDate, NotDateLike) {
  for (const char* s : {"", "abc", "2024", "20240131", "2024-1-31", "2024/01/31", "2024-01-31x", "2024-01-31 ",
                        "2024-01-31 10", "2024-01-31 10:0", "10:00", "10:00:00Z", "2024-01-31 10:00:00.",
                        "2024-01-31 10:00:00.1234567890", "2024-01-31 10:00:00 +00:00", "2024-01-31 10:00:00+0",
                        "2024-01-31 10:00:00+05:3", "2024-01-31 10:00.5", "-2024-01-31", "12345-01-31"}) {
    bool valid = true;
    std::string offset;
    EXPECT_EQ(DateFormatOf(s, &valid, &offset), "") << s;
    EXPECT_FALSE(valid) << s;
  }
}

TEST(AuditJson, ValidLikePostgresJson) {
  struct Case {
    std::string text;
    bool container;
  };
  const Case valid[] = {
      {"{}", true},           {"[]", true},         {" {\"a\": 1} \n", true}, {"[1,2,3]", true},
      {"{\"a\":{\"b\":[1,{\"c\":null}]}}", true},   {"\"x\"", false},         {"1", false},
      {"-0", false},          {"1.5e10", false},    {"1E-2", false},          {"0.0", false},
      {"true", false},        {"false", false},     {"null", false},          {"\"\\u0000\"", false},
      {"\"\\ud800\"", false}, {"\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"", false},  {"\"h\xc3\xa9\"", false},
      {"\t[ ]\r", true},
  };
  for (const auto& c : valid) {
    bool container = !c.container;
    EXPECT_TRUE(IsValidJson(c.text, &container)) << c.text;
    EXPECT_EQ(container, c.container) << c.text;
  }
  const std::string invalid[] = {
      "",        " ",        "{",        "{\"a\"}",  "{\"a\":1,}", "[1,]",       "01",     "1.",
      ".5",      "+1",       "\"\\x\"",  "\"a\tb\"", "tru",        "truex",      "'a'",    "{a:1}",
      "\"\\u12\"", "NaN",    "[1] x",    "\"\xc3\x28\"", "{\"a\" 1}", "[1 2]",   "\"abc",  "-",
      "1e",      "1e+",      "{,}",      "[,1]",     "\xef\xbb\xbf{}", "\f{}",   "{\"a\":1}}", "\"\\u00zz\"",
  };
  for (const auto& s : invalid) {
    bool container = true;
    EXPECT_FALSE(IsValidJson(s, &container)) << s;
    EXPECT_FALSE(container) << s;
  }
}

TEST(AuditJson, DepthLimit) {
  const std::string ok = std::string(500, '[') + std::string(500, ']');
  EXPECT_TRUE(IsValidJson(ok, nullptr));
  const std::string deep = std::string(2000, '[') + std::string(2000, ']');
  EXPECT_FALSE(IsValidJson(deep, nullptr));
}

TEST(AuditJson, JsonbRoundTrip) {
  const std::string exact[] = {
      "{\"a\": 1, \"b\": 2}", "[1, 2]", "{\"a\": 1.50}", "{\"b\": 2, \"aa\": 1}", "{}", "[]", "1", "-1.5",
      "0.0", "\"str\"", "null", "true", "{\"a\": {\"b\": [1, {\"c\": null}]}, \"b\": []}", "\"a\\\"b\\\\c\"",
      "\"\\b\\f\\n\\r\\t\"", "\"\\u001f\"", "\"\\u0001\"", "\"h\xc3\xa9\"", "\"/\"",
      "{\"\\n\": 1, \"ab\": 2}",    // decoded "\n" is one byte: shorter than "ab"
      "{\"a\\nb\": 1, \"abc\": 2}",  // decoded lengths equal: '\n' < 'b'
      "123456789012345678901234567890.000",
  };
  for (const auto& s : exact) EXPECT_TRUE(JsonbRoundTrips(s)) << s;
  const std::string not_exact[] = {
      "{\"b\":1,\"a\":2}", "{\"a\":1}", "{\"a\": 1e2}", "{\"a\": 1, \"a\": 2}", "{\"aa\": 1, \"b\": 2}",
      "{\"b\": 2, \"a\": 1}", "{ }", "[ ]", "[1,2]", "[1,  2]", "[1 , 2]", " [1]", "[1] ", "[\n1]",
      "{\"a\":\t1}", "{\"a\" : 1}", "\"\\/\"", "\"\\u00e9\"", "\"\\u001F\"", "\"\\u000a\"", "\"\\u0000\"",
      "\"\\u0041\"", "-0", "-0.0", "1E2", "{\"ab\": 1, \"\\n\": 2}", "{\"abc\": 1, \"a\\nb\": 2}",
      "{", "", "[1,]",
  };
  for (const auto& s : not_exact) EXPECT_FALSE(JsonbRoundTrips(s)) << s;
}

}  // namespace
}  // namespace slipway::schema
