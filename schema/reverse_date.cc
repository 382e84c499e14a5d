// Dates and times printed by PostgreSQL (DateStyle 'ISO, YMD', TimeZone
// 'UTC') back into the SQLite text of the column's recorded format, or into
// unix epoch integers. Every field that the SQLite form cannot hold is an
// error, so no date ever comes back rounded, shifted or cut.

#include "schema/audit.h"
#include "schema/civil_date.h"
#include "schema/reverse_internal.h"

namespace slipway::schema::reverse_internal {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

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

// A date/time value as PostgreSQL prints it.
struct Printed {
  bool has_date = false;
  bool has_time = false;
  int64_t year = 0;  // astronomical: 1 BC is 0
  int month = 1, day = 1;
  int hour = 0, minute = 0, second = 0;
  std::string_view frac;   // fraction digits without trailing zeros
  int64_t offset_secs = 0;  // east of UTC, timestamptz only

  int64_t LocalSeconds() const {
    return DaysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 + minute * 60 + second;
  }
  void SetLocalSeconds(int64_t secs) {
    int64_t days = secs >= 0 ? secs / kSecondsPerDay : -((-secs + kSecondsPerDay - 1) / kSecondsPerDay);
    int64_t rem = secs - days * kSecondsPerDay;
    CivilFromDays(days, &year, &month, &day);
    hour = static_cast<int>(rem / 3600);
    minute = static_cast<int>(rem / 60 % 60);
    second = static_cast<int>(rem % 60);
  }
};

// HH:MM:SS[.f...]
bool ParseClock(std::string_view s, size_t* pos, Printed* p) {
  if (!FixedDigits(s, pos, 2, &p->hour) || !Expect(s, pos, ':') || !FixedDigits(s, pos, 2, &p->minute) ||
      !Expect(s, pos, ':') || !FixedDigits(s, pos, 2, &p->second)) {
    return false;
  }
  if (*pos < s.size() && s[*pos] == '.') {
    size_t start = ++*pos;
    while (*pos < s.size() && IsDigit(s[*pos])) ++*pos;
    if (*pos == start) return false;
    size_t end = *pos;
    while (end > start && s[end - 1] == '0') --end;
    p->frac = s.substr(start, end - start);
  }
  p->has_time = true;
  return p->hour <= 24 && p->minute <= 59 && p->second <= 59;
}

// +HH[:MM[:SS]] (PostgreSQL prints the minutes and seconds only when not zero).
bool ParsePrintedZone(std::string_view s, size_t* pos, Printed* p) {
  if (*pos >= s.size() || (s[*pos] != '+' && s[*pos] != '-')) return false;
  const int sign = s[(*pos)++] == '-' ? -1 : 1;
  int h = 0, m = 0, sec = 0;
  if (!FixedDigits(s, pos, 2, &h)) return false;
  if (*pos < s.size() && s[*pos] == ':') {
    ++*pos;
    if (!FixedDigits(s, pos, 2, &m)) return false;
    if (*pos < s.size() && s[*pos] == ':') {
      ++*pos;
      if (!FixedDigits(s, pos, 2, &sec)) return false;
    }
  }
  p->offset_secs = sign * (h * 3600 + m * 60 + sec);
  return true;
}

// The text output of date, time, timestamp and timestamptz; years of four or
// more digits and a " BC" suffix as PostgreSQL prints them.
bool ParsePrinted(std::string_view s, PgKind kind, Printed* p) {
  size_t pos = 0;
  if (kind == PgKind::kTime) return ParseClock(s, &pos, p) && pos == s.size();
  if (kind != PgKind::kDate && kind != PgKind::kTimestamp && kind != PgKind::kTimestamptz) return false;
  size_t start = pos;
  while (pos < s.size() && IsDigit(s[pos]) && pos - start < 9) p->year = p->year * 10 + (s[pos++] - '0');
  if (pos - start < 4 || !Expect(s, &pos, '-') || !FixedDigits(s, &pos, 2, &p->month) || !Expect(s, &pos, '-') ||
      !FixedDigits(s, &pos, 2, &p->day)) {
    return false;
  }
  if (p->month < 1 || p->month > 12 || p->day < 1 || p->day > 31) return false;
  p->has_date = true;
  if (kind != PgKind::kDate) {
    if (!Expect(s, &pos, ' ') || !ParseClock(s, &pos, p)) return false;
    if (kind == PgKind::kTimestamptz && !ParsePrintedZone(s, &pos, p)) return false;
  }
  if (s.substr(pos) == " BC") {
    p->year = 1 - p->year;
    pos = s.size();
  }
  return pos == s.size();
}

enum class ZoneStyle { kNone, kZ, kColon, kNoColon, kHourOnly };

// A format as DateFormatOf() names it: "YYYY-MM-DD", "HH:MM:SS",
// "YYYY-MM-DDTHH:MM:SS.fffZ", "YYYY-MM-DD HH:MM+HH:MM", ...
struct FormatSpec {
  bool has_date = false;
  bool has_time = false;
  bool has_seconds = false;
  char separator = ' ';
  size_t frac_digits = 0;
  ZoneStyle zone = ZoneStyle::kNone;
};

bool ParseFormat(std::string_view f, FormatSpec* spec) {
  size_t pos = 0;
  if (f.substr(0, 10) == "YYYY-MM-DD") {
    spec->has_date = true;
    pos = 10;
    if (pos == f.size()) return true;
    if (f[pos] != ' ' && f[pos] != 'T') return false;
    spec->separator = f[pos++];
  }
  if (f.substr(pos, 5) != "HH:MM") return false;
  spec->has_time = true;
  pos += 5;
  if (f.substr(pos, 3) == ":SS") {
    spec->has_seconds = true;
    pos += 3;
    if (pos < f.size() && f[pos] == '.') {
      ++pos;
      while (pos < f.size() && f[pos] == 'f') {
        ++pos;
        ++spec->frac_digits;
      }
      if (spec->frac_digits == 0) return false;
    }
  }
  const std::string_view zone = f.substr(pos);
  if (zone.empty()) {
    spec->zone = ZoneStyle::kNone;
  } else if (!spec->has_date) {
    return false;  // time of day alone has no zone
  } else if (zone == "Z") {
    spec->zone = ZoneStyle::kZ;
  } else if (zone == "+HH:MM") {
    spec->zone = ZoneStyle::kColon;
  } else if (zone == "+HHMM") {
    spec->zone = ZoneStyle::kNoColon;
  } else if (zone == "+HH") {
    spec->zone = ZoneStyle::kHourOnly;
  } else {
    return false;
  }
  return true;
}

// The recorded offset text ("Z", "+05:30", "-0800", "+01") in seconds east of UTC.
bool ParseOffset(std::string_view z, int64_t* secs) {
  if (z == "Z") {
    *secs = 0;
    return true;
  }
  if (z.empty() || (z[0] != '+' && z[0] != '-')) return false;
  const int sign = z[0] == '-' ? -1 : 1;
  size_t pos = 1;
  int h = 0, m = 0;
  if (!FixedDigits(z, &pos, 2, &h)) return false;
  if (pos < z.size() && z[pos] == ':') ++pos;
  if (pos < z.size() && !FixedDigits(z, &pos, 2, &m)) return false;
  if (pos != z.size()) return false;
  *secs = sign * (h * 3600 + m * 60);
  return true;
}

void Append2(int v, std::string* out) {
  out->push_back(static_cast<char>('0' + v / 10 % 10));
  out->push_back(static_cast<char>('0' + v % 10));
}

bool IsInfinity(std::string_view s) { return s == "infinity" || s == "-infinity"; }

}  // namespace

Status DecodeDateText(std::string_view pg_text, const ColumnMapping& col, OwnedValue* out) {
  FormatSpec spec;
  if (col.format.empty()) return Misfit(pg_text, col, "the column has no recorded date format");
  if (!ParseFormat(col.format, &spec)) return Misfit(pg_text, col, "unknown date format '" + col.format + "'");
  if (IsInfinity(pg_text)) return Misfit(pg_text, col, "SQLite date text has no infinity");
  Printed p;
  if (!ParsePrinted(pg_text, col.type.kind, &p)) {
    return Misfit(pg_text, col, std::string("not a ") + PgKindName(col.type.kind) + " as PostgreSQL prints it");
  }
  if (col.type.kind == PgKind::kTimestamptz) {
    // The instant shown at the column's fixed offset; text without a zone
    // was read in the writing session's UTC, so it is shown in UTC.
    int64_t target = 0;
    if (spec.zone != ZoneStyle::kNone && !ParseOffset(col.zone_offset, &target)) {
      return Misfit(pg_text, col,
                    col.zone_offset.empty() ? "the column has no recorded zone offset"
                                            : "unreadable recorded zone offset '" + col.zone_offset + "'");
    }
    p.SetLocalSeconds(p.LocalSeconds() - p.offset_secs + target);
  }
  if (spec.has_date && !p.has_date) return Misfit(pg_text, col, "no date");
  if (!spec.has_date && p.has_date) return Misfit(pg_text, col, "a date the format cannot hold");
  if (!spec.has_time && (p.hour != 0 || p.minute != 0 || p.second != 0 || !p.frac.empty())) {
    return Misfit(pg_text, col, "a time of day the format cannot hold");
  }
  if (spec.has_time && !spec.has_seconds && (p.second != 0 || !p.frac.empty())) {
    return Misfit(pg_text, col, "seconds the format cannot hold");
  }
  if (p.frac.size() > spec.frac_digits) {
    return Misfit(pg_text, col, "sub-second digits the format cannot hold");
  }
  if (p.has_date && (p.year < 1 || p.year > 9999)) {
    return Misfit(pg_text, col, "a year outside the format's 0001..9999");
  }

  out->type = SQLITE_TEXT;
  std::string& s = out->bytes;
  s.clear();
  if (spec.has_date) {
    Append2(static_cast<int>(p.year / 100), &s);
    Append2(static_cast<int>(p.year % 100), &s);
    s.push_back('-');
    Append2(p.month, &s);
    s.push_back('-');
    Append2(p.day, &s);
  }
  if (spec.has_time) {
    if (spec.has_date) s.push_back(spec.separator);
    Append2(p.hour, &s);
    s.push_back(':');
    Append2(p.minute, &s);
    if (spec.has_seconds) {
      s.push_back(':');
      Append2(p.second, &s);
    }
    if (spec.frac_digits > 0) {
      s.push_back('.');
      s.append(p.frac);
      s.append(spec.frac_digits - p.frac.size(), '0');
    }
  }
  if (spec.zone != ZoneStyle::kNone) {
    if (col.zone_offset.empty()) return Misfit(pg_text, col, "the column has no recorded zone offset");
    s.append(col.zone_offset);
  }
  // The text must be one the forward codec takes for this column: the same
  // format (so the offset is of the format's style) and a real clock time
  // (time's 24:00:00 is not one).
  bool valid = false;
  std::string offset;
  if (DateFormatOf(s, &valid, &offset) != col.format || !valid ||
      (!col.zone_offset.empty() && spec.zone != ZoneStyle::kNone && offset != col.zone_offset)) {
    return Misfit(pg_text, col, "'" + s + "' would not read back in the format");
  }
  return Status::Ok();
}

Status DecodeEpoch(std::string_view pg_text, const ColumnMapping& col, OwnedValue* out) {
  const bool millis = col.repr == Repr::kUnixMillis;
  if (col.type.kind != PgKind::kTimestamptz && col.type.kind != PgKind::kTimestamp) {
    return Misfit(pg_text, col, "epoch numbers come only from timestamps");
  }
  if (IsInfinity(pg_text)) return Misfit(pg_text, col, "an epoch number has no infinity");
  Printed p;
  if (!ParsePrinted(pg_text, col.type.kind, &p)) {
    return Misfit(pg_text, col, std::string("not a ") + PgKindName(col.type.kind) + " as PostgreSQL prints it");
  }
  const int64_t secs = p.LocalSeconds() - p.offset_secs;
  if (!millis) {
    if (!p.frac.empty()) return Misfit(pg_text, col, "a fraction of a second that unix seconds cannot hold");
    out->type = SQLITE_INTEGER;
    out->i = secs;
    return Status::Ok();
  }
  if (p.frac.size() > 3) return Misfit(pg_text, col, "sub-millisecond digits that unix milliseconds cannot hold");
  int ms = 0;
  for (size_t k = 0; k < 3; ++k) ms = ms * 10 + (k < p.frac.size() ? p.frac[k] - '0' : 0);
  out->type = SQLITE_INTEGER;
  out->i = secs * 1000 + ms;
  return Status::Ok();
}

}  // namespace slipway::schema::reverse_internal
