// JSON checks for the type audit, in one pass per text:
//  - valid: PostgreSQL's json input accepts it. json_in only validates (it does
//    not de-escape), so any \uXXXX is accepted there, even \u0000 and lone
//    surrogates; whitespace is space, tab, CR, LF (src/common/jsonapi.c).
//  - jsonb_exact: jsonb would print it back byte for byte (JsonbToCString):
//    `{"a": 1, "b": [1, 2]}` with one space after ':' and ',', none elsewhere;
//    object keys unique and in jsonb's order (shorter first, then memcmp);
//    numbers that numeric prints back unchanged; strings using only the
//    escapes escape_json() writes. When in doubt the answer is false: that
//    costs a less specific type, never a changed value.

#include <cstring>
#include <string>

#include "schema/audit.h"
#include "schema/audit_internal.h"

namespace slipway::schema {
namespace audit_internal {
namespace {

// Deeper nesting is reported invalid: PostgreSQL's parser recurses and may
// stop at its stack limit; as text such a value is kept unchanged.
constexpr int kMaxDepth = 1000;
// numeric's limits: 131072 digits before the point, 16383 after.
constexpr size_t kMaxNumericIntDigits = 131072;
constexpr size_t kMaxNumericFracDigits = 16383;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The raw text between a string's quotes, and whether it holds escapes.
struct RawString {
  std::string_view body;
  bool escaped = false;
};

// Decodes a string body that passed the exact-mode checks (only the escapes
// escape_json writes), for comparing object keys as jsonb does.
std::string DecodeExact(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\') {
      out += body[i];
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u':
        out += static_cast<char>(HexValue(body[i + 3]) * 16 + HexValue(body[i + 4]));
        i += 4;
        break;
      default: out += e; break;  // '"' or '\\'
    }
  }
  return out;
}

// jsonb's key order (lengthCompareJsonbStringValue): shorter first, then bytes.
int CompareKeys(const RawString& a, const RawString& b) {
  if (!a.escaped && !b.escaped) {
    if (a.body.size() != b.body.size()) return a.body.size() < b.body.size() ? -1 : 1;
    return std::memcmp(a.body.data(), b.body.data(), a.body.size());
  }
  const std::string da = DecodeExact(a.body);
  const std::string db = DecodeExact(b.body);
  if (da.size() != db.size()) return da.size() < db.size() ? -1 : 1;
  return std::memcmp(da.data(), db.data(), da.size());
}

class JsonScanner {
 public:
  explicit JsonScanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  JsonVerdict Run() {
    JsonVerdict v;
    Ws(0);
    if (p_ == end_) return v;
    v.container = *p_ == '{' || *p_ == '[';
    if (!Value(0)) return JsonVerdict{};
    Ws(0);
    if (p_ != end_) return JsonVerdict{};
    v.valid = true;
    v.jsonb_exact = exact_;
    return v;
  }

 private:
  // Skips whitespace; exact output has exactly `spaces` spaces here.
  void Ws(int spaces) {
    const char* start = p_;
    while (p_ != end_ && IsWs(*p_)) ++p_;
    if (!exact_) return;
    const long n = p_ - start;
    if (n != spaces || (n == 1 && *start != ' ')) exact_ = false;
  }

  bool Value(int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{': return Object(depth + 1);
      case '[': return Array(depth + 1);
      case '"': {
        RawString ignored;
        return String(&ignored);
      }
      case 't': return Literal("true");
      case 'f': return Literal("false");
      case 'n': return Literal("null");
      default: return Number();
    }
  }

  bool Object(int depth) {
    if (depth > kMaxDepth) return false;
    ++p_;  // '{'
    Ws(0);
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    RawString previous;
    bool first = true;
    while (true) {
      if (p_ == end_ || *p_ != '"') return false;
      RawString key;
      if (!String(&key)) return false;
      // Duplicates and unsorted keys: jsonb reorders (and drops) them.
      if (exact_ && !first && CompareKeys(previous, key) >= 0) exact_ = false;
      previous = key;
      first = false;
      Ws(0);
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      Ws(1);
      if (!Value(depth)) return false;
      Ws(0);
      if (p_ == end_) return false;
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
      Ws(1);
    }
  }

  bool Array(int depth) {
    if (depth > kMaxDepth) return false;
    ++p_;  // '['
    Ws(0);
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    while (true) {
      if (!Value(depth)) return false;
      Ws(0);
      if (p_ == end_) return false;
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
      Ws(1);
    }
  }

  bool String(RawString* out) {
    ++p_;  // opening quote
    const char* body = p_;
    bool escaped = false;
    while (true) {
      if (p_ == end_) return false;
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c < 0x20) return false;  // control characters must be escaped
      if (c == '\\') {
        escaped = true;
        if (!Escape()) return false;
        continue;
      }
      if (c >= 0x80) {
        const int len = Utf8SequenceLength(std::string_view(p_, static_cast<size_t>(end_ - p_)));
        if (len == 0) return false;
        p_ += len;
        continue;
      }
      ++p_;
    }
    out->body = std::string_view(body, static_cast<size_t>(p_ - body));
    out->escaped = escaped;
    ++p_;  // closing quote
    return true;
  }

  // At a backslash inside a string.
  bool Escape() {
    ++p_;
    if (p_ == end_) return false;
    const char e = *p_++;
    switch (e) {
      case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
        return true;
      case '/':
        exact_ = false;  // jsonb prints a plain '/'
        return true;
      case 'u': break;
      default: return false;
    }
    if (end_ - p_ < 4) return false;
    int code = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = HexValue(p_[i]);
      if (h < 0) return false;
      code = code * 16 + h;
    }
    if (exact_) {
      // escape_json writes \u%04x (lower case) for control characters that
      // have no short escape; jsonb refuses \u0000; everything else it prints raw.
      const bool short_escape = code == '\b' || code == '\f' || code == '\n' || code == '\r' || code == '\t';
      const bool lower = std::memcmp(p_, "00", 2) == 0 && !(p_[2] >= 'A' && p_[2] <= 'F') &&
                         !(p_[3] >= 'A' && p_[3] <= 'F');
      if (code == 0 || code >= 0x20 || short_escape || !lower) exact_ = false;
    }
    p_ += 4;
    return true;
  }

  bool Literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0) {
      return false;
    }
    p_ += word.size();
    return true;
  }

  // -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
  bool Number() {
    const bool negative = *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_ || !IsDigit(*p_)) return false;
    const char* int_start = p_;
    bool all_zero = true;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && IsDigit(*p_)) {
        all_zero = false;
        ++p_;
      }
    }
    const size_t int_digits = static_cast<size_t>(p_ - int_start);
    size_t frac_digits = 0;
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      const char* frac_start = p_;
      while (p_ != end_ && IsDigit(*p_)) {
        if (*p_ != '0') all_zero = false;
        ++p_;
      }
      frac_digits = static_cast<size_t>(p_ - frac_start);
      if (frac_digits == 0) return false;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !IsDigit(*p_)) return false;
      while (p_ != end_ && IsDigit(*p_)) ++p_;
      exact_ = false;  // numeric prints 1e2 as 100
    }
    // numeric's zero has no sign: -0 and -0.0 come back as 0 and 0.0.
    if (negative && all_zero) exact_ = false;
    if (int_digits > kMaxNumericIntDigits || frac_digits > kMaxNumericFracDigits) exact_ = false;
    return true;
  }

  const char* p_;
  const char* const end_;
  bool exact_ = true;
};

}  // namespace

JsonVerdict CheckJson(std::string_view s) { return JsonScanner(s).Run(); }

}  // namespace audit_internal

bool IsValidJson(std::string_view s, bool* is_container) {
  const audit_internal::JsonVerdict v = audit_internal::CheckJson(s);
  if (is_container != nullptr) *is_container = v.container;
  return v.valid;
}

bool JsonbRoundTrips(std::string_view s) { return audit_internal::CheckJson(s).jsonb_exact; }

}  // namespace slipway::schema
