// Recognises ISO-8601-like date/time texts and names their format, so the
// mapping can tell a column of "2024-01-31 12:00:00" from one of mixed shapes
// and from impossible dates. A hand-written parser: it runs on every text
// that starts with a digit, and must not allocate.

#include "schema/audit.h"
#include "schema/audit_internal.h"

namespace slipway::schema {
namespace audit_internal {
namespace {

constexpr int kMaxFracDigits = 9;
// PostgreSQL accepts zone offsets up to 15:59 (TZDISP_LIMIT).
constexpr int kMaxOffsetHour = 15;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads `count` digits at s[pos]; false when any is not a digit.
bool Digits(std::string_view s, size_t pos, size_t count, int* value) {
  if (pos + count > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *value = v;
  return true;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysIn(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

// Parses HH:MM[:SS[.f...]] at s[pos]; advances pos. Hour 24 and second 60
// are invalid: PostgreSQL would accept them but print another text back.
bool ParseTime(std::string_view s, size_t* pos, bool require_seconds, DateShape* d) {
  int hour = 0, minute = 0, second = 0;
  size_t i = *pos;
  if (!Digits(s, i, 2, &hour) || i + 2 >= s.size() || s[i + 2] != ':' || !Digits(s, i + 3, 2, &minute)) {
    return false;
  }
  i += 5;
  if (i < s.size() && s[i] == ':') {
    if (!Digits(s, i + 1, 2, &second)) return false;
    d->has_seconds = true;
    i += 3;
    if (i < s.size() && s[i] == '.') {
      size_t j = i + 1;
      while (j < s.size() && IsDigit(s[j])) ++j;
      const size_t n = j - i - 1;
      if (n == 0 || n > static_cast<size_t>(kMaxFracDigits)) return false;
      d->frac_digits = static_cast<int>(n);
      i = j;
    }
  } else if (require_seconds) {
    return false;
  }
  d->has_time = true;
  if (hour > 23 || minute > 59 || second > 59) d->valid = false;
  *pos = i;
  return true;
}

// Parses the zone at s[pos] to the end of the text.
bool ParseZone(std::string_view s, size_t pos, DateShape* d) {
  if (pos == s.size()) return true;
  const std::string_view rest = s.substr(pos);
  if (rest == "Z") {
    d->zone = Zone::kZ;
    d->offset = rest;
    return true;
  }
  if (rest[0] != '+' && rest[0] != '-') return false;
  int hour = 0, minute = 0;
  if (!Digits(rest, 1, 2, &hour)) return false;
  if (rest.size() == 3) {
    d->zone = Zone::kHourOnly;
  } else if (rest.size() == 6 && rest[3] == ':' && Digits(rest, 4, 2, &minute)) {
    d->zone = Zone::kColon;
  } else if (rest.size() == 5 && Digits(rest, 3, 2, &minute)) {
    d->zone = Zone::kNoColon;
  } else {
    return false;
  }
  if (hour > kMaxOffsetHour || minute > 59) d->valid = false;
  d->offset = rest;
  return true;
}

}  // namespace

bool ParseDateShape(std::string_view s, DateShape* out) {
  DateShape d;
  d.valid = true;
  size_t pos = 0;
  int year = 0, month = 0, day = 0;
  if (s.size() >= 10 && s[4] == '-' && s[7] == '-' && Digits(s, 0, 4, &year) && Digits(s, 5, 2, &month) &&
      Digits(s, 8, 2, &day)) {
    d.has_date = true;
    d.year = year;
    // PostgreSQL has no year 0: '0000-01-01' is rejected.
    if (year == 0 || month < 1 || month > 12 || day < 1 || day > DaysIn(year, month)) d.valid = false;
    pos = 10;
    if (pos < s.size()) {
      if (s[pos] != ' ' && s[pos] != 'T') return false;
      d.separator = s[pos];
      ++pos;
      if (!ParseTime(s, &pos, /*require_seconds=*/false, &d)) return false;
      if (!ParseZone(s, pos, &d)) return false;
    }
  } else if (s.size() >= 8 && s[2] == ':') {
    // Time of day alone, without a zone.
    if (!ParseTime(s, &pos, /*require_seconds=*/true, &d) || pos != s.size()) return false;
  } else {
    return false;
  }
  *out = d;
  return true;
}

uint32_t DateShape::FormatKey() const {
  uint32_t k = has_date ? 1 : 0;
  k = k * 2 + (has_time ? 1 : 0);
  k = k * 2 + (has_seconds ? 1 : 0);
  k = k * 2 + (separator == 'T' ? 1 : 0);
  k = k * 16 + static_cast<uint32_t>(frac_digits);
  k = k * 8 + static_cast<uint32_t>(zone);
  return k;
}

std::string DateShape::FormatString() const {
  std::string f;
  if (has_date) f = "YYYY-MM-DD";
  if (has_time) {
    if (has_date) f += separator;
    f += "HH:MM";
    if (has_seconds) f += ":SS";
    if (frac_digits > 0) f += "." + std::string(static_cast<size_t>(frac_digits), 'f');
  }
  switch (zone) {
    case Zone::kNone: break;
    case Zone::kZ: f += "Z"; break;
    case Zone::kColon: f += "+HH:MM"; break;
    case Zone::kNoColon: f += "+HHMM"; break;
    case Zone::kHourOnly: f += "+HH"; break;
  }
  return f;
}

}  // namespace audit_internal

std::string DateFormatOf(std::string_view s, bool* valid, std::string* offset) {
  audit_internal::DateShape d;
  if (!audit_internal::ParseDateShape(s, &d)) {
    if (valid != nullptr) *valid = false;
    if (offset != nullptr) offset->clear();
    return "";
  }
  if (valid != nullptr) *valid = d.valid;
  if (offset != nullptr) offset->assign(d.offset);
  return d.FormatString();
}

}  // namespace slipway::schema
