#include "schema/binary_codec.h"
#include "schema/civil_date.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace slipway::schema {
namespace {

constexpr int64_t kMicrosPerDay = 86400LL * 1000000LL;
// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
constexpr int32_t kPgEpochDays = 10957;

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Parses "HH:MM[:SS[.ffffff]]" at pos; advances pos.
bool ParseClock(std::string_view s, size_t* pos, int64_t* micros) {
  int h, mi, sec = 0;
  size_t p = *pos;
  if (!Digits(s, p, 2, &h) || p + 2 >= s.size() || s[p + 2] != ':' || !Digits(s, p + 3, 2, &mi)) return false;
  p += 5;
  int64_t frac = 0;
  if (p < s.size() && s[p] == ':') {
    if (!Digits(s, p + 1, 2, &sec)) return false;
    p += 3;
    if (p < s.size() && s[p] == '.') {
      ++p;
      int n = 0;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        if (n == 6) return false;  // more than microseconds: would be rounded
        frac = frac * 10 + (s[p] - '0');
        ++n;
        ++p;
      }
      if (n == 0) return false;
      for (; n < 6; ++n) frac *= 10;
    }
  }
  *micros = ((static_cast<int64_t>(h) * 60 + mi) * 60 + sec) * 1000000LL + frac;
  *pos = p;
  return true;
}

void AppendBE(uint64_t v, int bytes, std::string* out) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

void AppendField(std::string_view bytes, std::string* out) {
  AppendInt32(static_cast<int32_t>(bytes.size()), out);
  out->append(bytes);
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void AppendInt16(int16_t v, std::string* out) { AppendBE(static_cast<uint16_t>(v), 2, out); }
void AppendInt32(int32_t v, std::string* out) { AppendBE(static_cast<uint32_t>(v), 4, out); }
void AppendInt64(int64_t v, std::string* out) { AppendBE(static_cast<uint64_t>(v), 8, out); }
void AppendBinaryNull(std::string* out) { AppendInt32(-1, out); }

void AppendBinaryHeader(std::string* out) {
  out->append("PGCOPY\n\377\r\n\0", 11);
  AppendInt32(0, out);  // flags
  AppendInt32(0, out);  // header extension length
}

void AppendBinaryTrailer(std::string* out) { AppendInt16(-1, out); }

bool ParseDateDays(std::string_view s, int32_t* days) {
  int y, m, d;
  if (s.size() < 10 || !Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &m) || s[7] != '-' ||
      !Digits(s, 8, 2, &d)) {
    return false;
  }
  *days = static_cast<int32_t>(DaysFromCivil(y, m, d) - kPgEpochDays);
  return true;
}

bool ParseTimestampMicros(std::string_view s, bool with_zone, int64_t* micros) {
  int32_t days;
  if (!ParseDateDays(s, &days)) return false;
  size_t p = 10;
  int64_t clock = 0;
  if (p < s.size() && (s[p] == ' ' || s[p] == 'T')) {
    ++p;
    if (!ParseClock(s, &p, &clock)) return false;
  }
  int64_t offset = 0;
  if (p < s.size()) {
    if (!with_zone) return false;
    if (s[p] == 'Z' && p + 1 == s.size()) {
      ++p;
    } else if (s[p] == '+' || s[p] == '-') {
      int sign = s[p] == '-' ? -1 : 1;
      int oh, om = 0;
      if (!Digits(s, p + 1, 2, &oh)) return false;
      size_t q = p + 3;
      if (q < s.size() && s[q] == ':') ++q;
      if (q < s.size() && !Digits(s, q, 2, &om)) return false;
      if (q < s.size()) q += 2;
      if (q != s.size()) return false;
      offset = sign * (oh * 3600LL + om * 60LL) * 1000000LL;
      p = q;
    } else {
      return false;
    }
  }
  *micros = static_cast<int64_t>(days) * kMicrosPerDay + clock - offset;
  return true;
}

bool ParseTimeMicros(std::string_view s, int64_t* micros) {
  size_t p = 0;
  return ParseClock(s, &p, micros) && p == s.size();
}

bool NumericToBinary(std::string_view s, std::string* out) {
  const int16_t kPos = 0x0000, kNeg = 0x4000, kPinf = static_cast<int16_t>(0xD000), kNinf = static_cast<int16_t>(0xF000);
  if (s == "Infinity" || s == "-Infinity") {
    AppendInt16(0, out);
    AppendInt16(0, out);
    AppendInt16(s[0] == '-' ? kNinf : kPinf, out);
    AppendInt16(0, out);
    return true;
  }
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  std::string digits;  // all significant digits, no point
  int point = -1;      // digits before the decimal point
  for (; i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'); ++i) {
    if (s[i] == '.') {
      if (point >= 0) return false;
      point = static_cast<int>(digits.size());
    } else {
      digits.push_back(s[i]);
    }
  }
  if (digits.empty()) return false;
  if (point < 0) point = static_cast<int>(digits.size());
  int frac_written = static_cast<int>(digits.size()) - point;
  long exp = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    char* end = nullptr;
    exp = std::strtol(s.data() + i + 1, &end, 10);
    if (end != s.data() + s.size()) return false;
    i = s.size();
  }
  if (i != s.size()) return false;
  point += static_cast<int>(exp);
  int dscale = std::max(0, frac_written - static_cast<int>(exp));
  // Strip leading zeros (adjusting the point) and trailing zeros.
  size_t lead = 0;
  while (lead < digits.size() && digits[lead] == '0') ++lead;
  digits = digits.substr(lead);
  point -= static_cast<int>(lead);
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  if (digits.empty()) {
    AppendInt16(0, out);
    AppendInt16(0, out);
    AppendInt16(kPos, out);
    AppendInt16(static_cast<int16_t>(dscale), out);
    return true;
  }
  // Align to base-10000 groups: the point must fall on a group boundary.
  int pad_front = ((point % 4) + 4) % 4;
  pad_front = pad_front == 0 ? 0 : 4 - pad_front;
  std::string aligned(static_cast<size_t>(pad_front), '0');
  aligned += digits;
  int point_aligned = point + pad_front;
  while (aligned.size() % 4 != 0) aligned.push_back('0');
  std::vector<int16_t> groups;
  for (size_t g = 0; g < aligned.size(); g += 4) {
    groups.push_back(static_cast<int16_t>((aligned[g] - '0') * 1000 + (aligned[g + 1] - '0') * 100 +
                                          (aligned[g + 2] - '0') * 10 + (aligned[g + 3] - '0')));
  }
  while (!groups.empty() && groups.back() == 0) groups.pop_back();
  const int weight = point_aligned / 4 - 1;
  AppendInt16(static_cast<int16_t>(groups.size()), out);
  AppendInt16(static_cast<int16_t>(weight), out);
  AppendInt16(neg ? kNeg : kPos, out);
  AppendInt16(static_cast<int16_t>(dscale), out);
  for (int16_t g : groups) AppendInt16(g, out);
  return true;
}

Status EncodeBinaryField(const SqlValue& v, const ColumnMapping& col, std::string* out, std::string* scratch) {
  const PgKind kind = col.type.kind;
  // Fast paths for the common exact cases.
  if (col.repr == Repr::kNative) {
    if (kind == PgKind::kBigint && v.type == SQLITE_INTEGER) {
      AppendInt32(8, out);
      AppendInt64(v.i, out);
      return Status::Ok();
    }
    if (kind == PgKind::kDouble && v.type == SQLITE_FLOAT) {
      uint64_t bits;
      std::memcpy(&bits, &v.d, 8);
      AppendInt32(8, out);
      AppendBE(bits, 8, out);
      return Status::Ok();
    }
    if (kind == PgKind::kBytea && v.type == SQLITE_BLOB) {
      AppendField(v.bytes, out);
      return Status::Ok();
    }
  }
  if (col.repr == Repr::kBool01 && v.type == SQLITE_INTEGER && (v.i == 0 || v.i == 1)) {
    AppendInt32(1, out);
    out->push_back(static_cast<char>(v.i));
    return Status::Ok();
  }
  // Everything else: the checked text form, then its binary form.
  scratch->clear();
  RETURN_IF_ERROR(EncodeForPg(v, col, scratch));
  const std::string& t = *scratch;
  auto bad = [&]() { return Status(Code::kBlocked, "value " + DescribeValue(v) + " has no exact " + col.type.Sql() + " form"); };
  switch (kind) {
    case PgKind::kBigint:
    case PgKind::kInteger:
    case PgKind::kSmallint: {
      int64_t x = std::strtoll(t.c_str(), nullptr, 10);
      int bytes = kind == PgKind::kBigint ? 8 : kind == PgKind::kInteger ? 4 : 2;
      AppendInt32(bytes, out);
      AppendBE(static_cast<uint64_t>(x), bytes, out);
      return Status::Ok();
    }
    case PgKind::kDouble: {
      double d = t == "Infinity" ? HUGE_VAL : t == "-Infinity" ? -HUGE_VAL : std::strtod(t.c_str(), nullptr);
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      AppendInt32(8, out);
      AppendBE(bits, 8, out);
      return Status::Ok();
    }
    case PgKind::kNumeric: {
      std::string num;
      if (!NumericToBinary(t, &num)) return bad();
      AppendField(num, out);
      return Status::Ok();
    }
    case PgKind::kBoolean:
      AppendInt32(1, out);
      out->push_back(t == "t" ? 1 : 0);
      return Status::Ok();
    case PgKind::kText:
    case PgKind::kVarchar:
    case PgKind::kChar:
    case PgKind::kJson:
      AppendField(t, out);
      return Status::Ok();
    case PgKind::kJsonb:
      AppendInt32(static_cast<int32_t>(t.size() + 1), out);
      out->push_back(1);  // jsonb binary format version
      out->append(t);
      return Status::Ok();
    case PgKind::kBytea: {
      // The text form is "\x" + hex.
      if (t.size() < 2 || t[0] != '\\' || t[1] != 'x') return bad();
      AppendInt32(static_cast<int32_t>((t.size() - 2) / 2), out);
      for (size_t i = 2; i + 1 < t.size(); i += 2) out->push_back(static_cast<char>(HexVal(t[i]) * 16 + HexVal(t[i + 1])));
      return Status::Ok();
    }
    case PgKind::kDate: {
      int32_t days;
      if (t.size() != 10 || !ParseDateDays(t, &days)) return bad();
      AppendInt32(4, out);
      AppendInt32(days, out);
      return Status::Ok();
    }
    case PgKind::kTimestamp:
    case PgKind::kTimestamptz: {
      int64_t micros;
      if (!ParseTimestampMicros(t, kind == PgKind::kTimestamptz, &micros)) return bad();
      if (col.type.precision >= 0 && col.type.precision < 6) {
        int64_t unit = 1;
        for (int i = col.type.precision; i < 6; ++i) unit *= 10;
        if (micros % unit != 0) return bad();
      }
      AppendInt32(8, out);
      AppendInt64(micros, out);
      return Status::Ok();
    }
    case PgKind::kTime: {
      int64_t micros;
      if (!ParseTimeMicros(t, &micros)) return bad();
      AppendInt32(8, out);
      AppendInt64(micros, out);
      return Status::Ok();
    }
    case PgKind::kUuid: {
      std::string bytes;
      for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '-') continue;
        if (i + 1 >= t.size()) return bad();
        bytes.push_back(static_cast<char>(HexVal(t[i]) * 16 + HexVal(t[i + 1])));
        ++i;
      }
      if (bytes.size() != 16) return bad();
      AppendField(bytes, out);
      return Status::Ok();
    }
    case PgKind::kReal4: {
      float f = std::strtof(t.c_str(), nullptr);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      AppendInt32(4, out);
      AppendBE(bits, 4, out);
      return Status::Ok();
    }
  }
  return bad();
}

}  // namespace slipway::schema
