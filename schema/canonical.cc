#include "schema/canonical.h"
#include "schema/civil_date.h"

#include <charconv>
#include <cstdio>

#include "schema/audit.h"

namespace slipway::schema {
namespace {

constexpr int kFracDigits = 6;            // PostgreSQL keeps microseconds
constexpr int64_t kMaxNumericExponent = 100000;  // beyond: not expanded, kept as written
constexpr int64_t kSecondsPerDay = 86400;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Reads exactly `n` digits at s[*pos].
bool FixedDigits(std::string_view s, size_t* pos, size_t n, int* value) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = *pos; i < *pos + n; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *value = v;
  *pos += n;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

// ---- integers and numbers ----

bool AppendInteger(std::string_view s, std::string* out) {
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  if (i == s.size()) return false;
  for (size_t j = i; j < s.size(); ++j) {
    if (!IsDigit(s[j])) return false;
  }
  while (i + 1 < s.size() && s[i] == '0') ++i;
  if (s.substr(i) == "0") neg = false;
  if (neg) out->push_back('-');
  out->append(s.substr(i));
  return true;
}

bool AppendSpecialNumber(std::string_view s, std::string* out) {
  std::string_view body = s;
  bool neg = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualsNoCase(body, "infinity") || EqualsNoCase(body, "inf")) {
    out->append(neg ? "-Infinity" : "Infinity");
    return true;
  }
  if (EqualsNoCase(body, "nan")) {
    out->append("NaN");
    return true;
  }
  return false;
}

bool AppendDouble(std::string_view s, bool single, std::string* out) {
  if (AppendSpecialNumber(s, out)) return true;
  std::string_view body = s;
  if (!body.empty() && body[0] == '+') body.remove_prefix(1);
  if (single) {
    float f = 0;
    auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), f);
    if (ec != std::errc() || p != body.data() + body.size()) return false;
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, f);
    out->append(buf, r.ptr);
    return true;
  }
  double d = 0;
  auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), d);
  if (ec != std::errc() || p != body.data() + body.size()) return false;
  out->append(ShortestDouble(d));
  return true;
}

bool AppendNumeric(std::string_view s, std::string* out) {
  if (AppendSpecialNumber(s, out)) return true;
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  std::string digits;
  int64_t point = 0;  // position of the decimal point within `digits`
  while (i < s.size() && IsDigit(s[i])) digits.push_back(s[i++]);
  point = static_cast<int64_t>(digits.size());
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) digits.push_back(s[i++]);
  }
  if (digits.empty()) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
    if (i == s.size()) return false;
    int64_t e = 0;
    while (i < s.size() && IsDigit(s[i])) {
      e = e * 10 + (s[i++] - '0');
      if (e > kMaxNumericExponent) return false;
    }
    point += eneg ? -e : e;
  }
  if (i != s.size()) return false;
  size_t lead = 0;
  while (lead < digits.size() && digits[lead] == '0') ++lead;
  digits.erase(0, lead);
  point -= static_cast<int64_t>(lead);
  if (digits.empty()) {
    out->push_back('0');
    return true;
  }
  while (static_cast<int64_t>(digits.size()) > point && digits.back() == '0') digits.pop_back();
  if (neg) out->push_back('-');
  const auto n = static_cast<int64_t>(digits.size());
  if (point <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-point), '0');
    out->append(digits);
  } else if (point >= n) {
    out->append(digits);
    out->append(static_cast<size_t>(point - n), '0');
  } else {
    out->append(digits, 0, static_cast<size_t>(point));
    out->push_back('.');
    out->append(digits, static_cast<size_t>(point));
  }
  return true;
}

// ---- dates and times ----

struct DateTime {
  int64_t year = 0;
  int month = 1, day = 1;
  int hour = 0, minute = 0, second = 0;
  std::string_view frac;    // fraction digits, without the '.'
  int64_t offset_secs = 0;  // east of UTC
};

// YYYY-MM-DD, the year with 4 or more digits.
bool ParseDate(std::string_view s, size_t* pos, DateTime* dt) {
  size_t i = *pos;
  int64_t y = 0;
  size_t start = i;
  while (i < s.size() && IsDigit(s[i]) && i - start < 9) y = y * 10 + (s[i++] - '0');
  if (i - start < 4) return false;
  if (!Expect(s, &i, '-') || !FixedDigits(s, &i, 2, &dt->month) || !Expect(s, &i, '-') ||
      !FixedDigits(s, &i, 2, &dt->day)) {
    return false;
  }
  dt->year = y;
  *pos = i;
  return true;
}

// HH:MM[:SS[.f...]]
bool ParseTime(std::string_view s, size_t* pos, DateTime* dt) {
  size_t i = *pos;
  if (!FixedDigits(s, &i, 2, &dt->hour) || !Expect(s, &i, ':') || !FixedDigits(s, &i, 2, &dt->minute)) {
    return false;
  }
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!FixedDigits(s, &i, 2, &dt->second)) return false;
    if (i < s.size() && s[i] == '.') {
      size_t j = ++i;
      while (j < s.size() && IsDigit(s[j])) ++j;
      if (j == i) return false;
      dt->frac = s.substr(i, j - i);
      i = j;
    }
  }
  *pos = i;
  return true;
}

// Z, +HH, +HH:MM, +HHMM, +HH:MM:SS (and the same with '-').
bool ParseZone(std::string_view s, size_t* pos, DateTime* dt) {
  size_t i = *pos;
  if (i < s.size() && s[i] == 'Z') {
    *pos = i + 1;
    return true;
  }
  if (i >= s.size() || (s[i] != '+' && s[i] != '-')) return false;
  const int sign = s[i++] == '-' ? -1 : 1;
  int h = 0, m = 0, sec = 0;
  if (!FixedDigits(s, &i, 2, &h)) return false;
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!FixedDigits(s, &i, 2, &m)) return false;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!FixedDigits(s, &i, 2, &sec)) return false;
    }
  } else if (i < s.size() && IsDigit(s[i])) {
    if (!FixedDigits(s, &i, 2, &m)) return false;
  }
  dt->offset_secs = sign * (h * 3600 + m * 60 + sec);
  *pos = i;
  return true;
}

void AppendFraction(std::string_view frac, std::string* out) {
  out->push_back('.');
  size_t n = frac.size();
  while (n > static_cast<size_t>(kFracDigits) && frac[n - 1] == '0') --n;
  out->append(frac.substr(0, n));
  if (n < static_cast<size_t>(kFracDigits)) out->append(static_cast<size_t>(kFracDigits) - n, '0');
}

// Two digits, without printf: this runs for every date of every row.
void Append2(int v, std::string* out) {
  out->push_back(static_cast<char>('0' + v / 10 % 10));
  out->push_back(static_cast<char>('0' + v % 10));
}

void AppendDate(int64_t y, int m, int d, std::string* out) {
  if (y >= 0 && y <= 9999) {
    Append2(static_cast<int>(y / 100), out);
    Append2(static_cast<int>(y % 100), out);
  } else {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%04lld", static_cast<long long>(y));
    out->append(buf);
  }
  out->push_back('-');
  Append2(m, out);
  out->push_back('-');
  Append2(d, out);
}

void AppendClock(int h, int m, int s, std::string_view frac, std::string* out) {
  Append2(h, out);
  out->push_back(':');
  Append2(m, out);
  out->push_back(':');
  Append2(s, out);
  AppendFraction(frac, out);
}

bool AppendDateOnly(std::string_view s, std::string* out) {
  DateTime dt;
  size_t pos = 0;
  if (!ParseDate(s, &pos, &dt) || pos != s.size()) return false;
  AppendDate(dt.year, dt.month, dt.day, out);
  return true;
}

bool AppendTimeOnly(std::string_view s, std::string* out) {
  DateTime dt;
  size_t pos = 0;
  if (!ParseTime(s, &pos, &dt) || pos != s.size()) return false;
  AppendClock(dt.hour, dt.minute, dt.second, dt.frac, out);
  return true;
}

// Dates are normalised through day arithmetic, so "24:00:00" reads as
// PostgreSQL reads it (midnight of the next day).
bool AppendTimestamp(std::string_view s, bool with_zone, std::string* out) {
  DateTime dt;
  size_t pos = 0;
  if (!ParseDate(s, &pos, &dt)) return false;
  if (pos < s.size() && (s[pos] == ' ' || s[pos] == 'T')) {
    ++pos;
    if (!ParseTime(s, &pos, &dt)) return false;
  }
  if (with_zone && pos < s.size() && !ParseZone(s, &pos, &dt)) return false;
  if (pos != s.size()) return false;
  int64_t secs = DaysFromCivil(dt.year, dt.month, dt.day) * kSecondsPerDay + dt.hour * 3600 + dt.minute * 60 +
                 dt.second - dt.offset_secs;
  int64_t days = secs >= 0 ? secs / kSecondsPerDay : -((-secs + kSecondsPerDay - 1) / kSecondsPerDay);
  int64_t rem = secs - days * kSecondsPerDay;
  int64_t y = 0;
  int m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  AppendDate(y, m, d, out);
  out->push_back(' ');
  AppendClock(static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60), dt.frac,
              out);
  if (with_zone) out->push_back('Z');
  return true;
}

bool AppendBool(std::string_view s, std::string* out) {
  for (const char* t : {"t", "true", "1", "yes", "y", "on"}) {
    if (EqualsNoCase(s, t)) {
      out->push_back('t');
      return true;
    }
  }
  for (const char* f : {"f", "false", "0", "no", "n", "off"}) {
    if (EqualsNoCase(s, f)) {
      out->push_back('f');
      return true;
    }
  }
  return false;
}

void AppendLower(std::string_view s, std::string* out) {
  const size_t at = out->size();
  out->append(s);
  for (size_t i = at; i < out->size(); ++i) (*out)[i] = Lower((*out)[i]);
}

bool AppendBytea(std::string_view s, std::string* out) {
  if (s.size() < 2 || s[0] != '\\' || s[1] != 'x') return false;
  AppendLower(s, out);
  return true;
}

bool TryAppend(std::string_view s, PgKind kind, std::string* out) {
  switch (kind) {
    case PgKind::kBigint:
    case PgKind::kInteger:
    case PgKind::kSmallint: return AppendInteger(s, out);
    case PgKind::kDouble: return AppendDouble(s, false, out);
    case PgKind::kReal4: return AppendDouble(s, true, out);
    case PgKind::kNumeric: return AppendNumeric(s, out);
    case PgKind::kBoolean: return AppendBool(s, out);
    case PgKind::kBytea: return AppendBytea(s, out);
    case PgKind::kDate: return AppendDateOnly(s, out);
    case PgKind::kTime: return AppendTimeOnly(s, out);
    case PgKind::kTimestamp: return AppendTimestamp(s, false, out);
    case PgKind::kTimestamptz: return AppendTimestamp(s, true, out);
    case PgKind::kUuid: AppendLower(s, out); return true;
    case PgKind::kText:
    case PgKind::kVarchar:
    case PgKind::kChar:
    case PgKind::kJson:
    case PgKind::kJsonb: return false;
  }
  return false;
}

}  // namespace

void AppendCanonical(std::string_view pg_text, PgKind kind, std::string* out) {
  const size_t mark = out->size();
  if (TryAppend(pg_text, kind, out)) return;
  // Not of the type's shape (or a type kept as is): the text itself.
  out->resize(mark);
  out->append(pg_text);
}

std::string Canonical(std::string_view pg_text, const ColumnMapping& col) {
  std::string out;
  AppendCanonical(pg_text, col.type.kind, &out);
  return out;
}

}  // namespace slipway::schema
