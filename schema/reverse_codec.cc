#include "schema/reverse_codec.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "schema/audit.h"
#include "schema/reverse_internal.h"

namespace slipway::schema {
namespace reverse_internal {

Status Misfit(std::string_view pg_text, const ColumnMapping& col, const std::string& why) {
  SqlValue v;
  v.type = SQLITE_TEXT;
  v.bytes = pg_text;
  std::string what = ReprName(col.repr);
  if (!col.format.empty()) what += " '" + col.format + "'";
  return Status(Code::kBlocked,
                "value " + DescribeValue(v) + " of " + col.type.Sql() + " has no exact " + what + " form (" + why + ")");
}

}  // namespace reverse_internal

namespace {

using reverse_internal::Misfit;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea's hex output ("\x0102") into its bytes.
bool ParseByteaHex(std::string_view s, std::string* bytes) {
  if (s.size() < 2 || s[0] != '\\' || s[1] != 'x' || s.size() % 2 != 0) return false;
  bytes->clear();
  bytes->reserve((s.size() - 2) / 2);
  for (size_t i = 2; i < s.size(); i += 2) {
    const int hi = HexValue(s[i]), lo = HexValue(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

bool ParseInt64(std::string_view s, int64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// A decimal as significant digits and a point position: the value is
// 0.<digits> x 10^point, digits without leading or trailing zeros (empty
// for zero). Reads plain decimals and exponents ("1.25e+16").
struct Decimal {
  bool neg = false;
  std::string digits;
  int64_t point = 0;
  bool operator==(const Decimal&) const = default;
};

bool ParseDecimal(std::string_view s, Decimal* d) {
  size_t i = 0;
  d->neg = i < s.size() && s[i] == '-';
  if (d->neg) ++i;
  std::string all;
  while (i < s.size() && IsDigit(s[i])) all.push_back(s[i++]);
  int64_t point = static_cast<int64_t>(all.size());
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t before = all.size();
    while (i < s.size() && IsDigit(s[i])) all.push_back(s[i++]);
    if (all.size() == before) return false;
  }
  if (all.empty()) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && s[i] == '+') ++i;
    int64_t e = 0;
    if (!ParseInt64(s.substr(i), &e)) return false;
    point += e;
    i = s.size();
  }
  if (i != s.size()) return false;
  const size_t lead = all.find_first_not_of('0');
  if (lead == std::string::npos) {
    *d = Decimal{};  // zero, whatever its sign
    return true;
  }
  d->digits = all.substr(lead, all.find_last_not_of('0') - lead + 1);
  d->point = point - static_cast<int64_t>(lead);
  return true;
}

bool IsPlainDecimal(std::string_view s) {
  size_t i = s.empty() || s[0] != '-' ? 0 : 1;
  const size_t start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == start) return false;
  if (i == s.size()) return true;
  if (s[i] != '.' || i + 1 == s.size()) return false;
  for (++i; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

void SetReal(double d, OwnedValue* out) {
  out->type = SQLITE_FLOAT;
  out->d = d;
}

// "Infinity" / "-Infinity" into *d; NaN and other texts false.
bool Infinity(std::string_view s, double* d) {
  if (s == "Infinity" || s == "-Infinity") {
    *d = s[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  return false;
}

Status DecodeDouble(std::string_view s, const ColumnMapping& col, OwnedValue* out) {
  double d = 0;
  if (Infinity(s, &d)) {
    SetReal(d, out);
    return Status::Ok();
  }
  if (s == "NaN") return Misfit(s, col, "SQLite stores NaN as NULL");
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return Misfit(s, col, "not a double precision as PostgreSQL prints it");
  }
  SetReal(d, out);
  return Status::Ok();
}

// numeric -> INTEGER when integral, fitting int64, and the affinity keeps
// integers; otherwise REAL when the decimal is the double's own shortest
// text; otherwise an error.
Status DecodeNumber(std::string_view s, const ColumnMapping& col, OwnedValue* out) {
  double d = 0;
  if (Infinity(s, &d)) {
    SetReal(d, out);
    return Status::Ok();
  }
  if (s == "NaN") return Misfit(s, col, "SQLite has no NaN");
  if (!IsPlainDecimal(s)) return Misfit(s, col, "not a numeric as PostgreSQL prints it");
  const size_t dot = s.find('.');
  const bool integral = dot == std::string_view::npos || s.find_first_not_of('0', dot + 1) == std::string_view::npos;
  if (integral && col.affinity != Affinity::kReal) {
    int64_t x = 0;
    if (ParseInt64(s.substr(0, dot), &x)) {
      out->type = SQLITE_INTEGER;
      out->i = x;
      return Status::Ok();
    }
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(d)) {
    return Misfit(s, col, "outside the range of a double");
  }
  Decimal printed, shortest;
  if (!ParseDecimal(s, &printed) || !ParseDecimal(ShortestDouble(d), &shortest) || !(printed == shortest)) {
    return Misfit(s, col, "more digits than a double holds");
  }
  SetReal(d, out);
  return Status::Ok();
}

Status DecodeBytes(std::string_view s, const ColumnMapping& col, int type, OwnedValue* out) {
  if (!ParseByteaHex(s, &out->bytes)) return Misfit(s, col, "not bytea hex output");
  out->type = type;
  return Status::Ok();
}

void SetText(std::string_view s, OwnedValue* out);

// An untyped (BLOB-affinity) column widened to text held numbers and text
// side by side; nothing in the text says which a value was. The forward codec
// printed numbers in SQLite's canonical forms (std::to_string, RealToText),
// so exactly those forms come back as numbers and anything else as text.
Status DecodeUntyped(std::string_view s, OwnedValue* out) {
  int64_t i = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ec == std::errc() && end == s.data() + s.size() && std::to_string(i) == s) {
    *out = OwnedValue{};
    out->type = SQLITE_INTEGER;
    out->i = i;
    return Status::Ok();
  }
  double d = 0;
  auto [dend, dec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (dec == std::errc() && dend == s.data() + s.size() && RealToText(d) == s) {
    *out = OwnedValue{};
    out->type = SQLITE_FLOAT;
    out->d = d;
    return Status::Ok();
  }
  SetText(s, out);
  return Status::Ok();
}

void SetText(std::string_view s, OwnedValue* out) {
  out->type = SQLITE_TEXT;
  out->bytes.assign(s);
}

Status DecodeUuid(std::string_view s, const ColumnMapping& col, OwnedValue* out) {
  const bool upper = col.format == "upper";
  if (s.size() != 36) return Misfit(s, col, "not a uuid as PostgreSQL prints it");
  std::string text(s);
  for (size_t k = 0; k < text.size(); ++k) {
    char& c = text[k];
    if (k == 8 || k == 13 || k == 18 || k == 23) {
      if (c != '-') return Misfit(s, col, "not a uuid as PostgreSQL prints it");
      continue;
    }
    if (HexValue(c) < 0) return Misfit(s, col, "not a uuid as PostgreSQL prints it");
    if (upper && c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  out->type = SQLITE_TEXT;
  out->bytes = std::move(text);
  return Status::Ok();
}

Status DecodeNative(std::string_view s, const ColumnMapping& col, OwnedValue* out) {
  switch (col.type.kind) {
    case PgKind::kBigint:
    case PgKind::kInteger:
    case PgKind::kSmallint:
      if (!ParseInt64(s, &out->i)) return Misfit(s, col, "not an integer as PostgreSQL prints it");
      out->type = SQLITE_INTEGER;
      return Status::Ok();
    case PgKind::kDouble: return DecodeDouble(s, col, out);
    case PgKind::kText:
    case PgKind::kVarchar: SetText(s, out); return Status::Ok();
    case PgKind::kBytea: return DecodeBytes(s, col, SQLITE_BLOB, out);
    default: return Misfit(s, col, "no native form");
  }
}

}  // namespace

OwnedValue OwnedValue::Of(const SqlValue& v) {
  OwnedValue o;
  o.type = v.type;
  o.i = v.i;
  o.d = v.d;
  o.bytes.assign(v.bytes);
  return o;
}

SqlValue OwnedValue::view() const {
  SqlValue v;
  v.type = type;
  v.i = i;
  v.d = d;
  v.bytes = bytes;
  return v;
}

Status DecodeFromPg(std::string_view pg_text, const ColumnMapping& col, OwnedValue* out) {
  // Reset in place: a caller decoding row after row keeps the buffer.
  out->type = SQLITE_NULL;
  out->i = 0;
  out->d = 0;
  out->bytes.clear();
  switch (col.repr) {
    case Repr::kNative: return DecodeNative(pg_text, col, out);
    case Repr::kBool01:
      if (pg_text != "t" && pg_text != "f") return Misfit(pg_text, col, "only t and f map to 1 and 0");
      out->type = SQLITE_INTEGER;
      out->i = pg_text == "t" ? 1 : 0;
      return Status::Ok();
    case Repr::kDateText: return reverse_internal::DecodeDateText(pg_text, col, out);
    case Repr::kUnixSeconds:
    case Repr::kUnixMillis: return reverse_internal::DecodeEpoch(pg_text, col, out);
    case Repr::kNumberAsNumeric: return DecodeNumber(pg_text, col, out);
    case Repr::kAnyAsText:
      if (col.affinity == Affinity::kBlob) return DecodeUntyped(pg_text, out);
      SetText(pg_text, out);
      return Status::Ok();
    case Repr::kJsonText: SetText(pg_text, out); return Status::Ok();
    case Repr::kTextAsBytes: return DecodeBytes(pg_text, col, SQLITE_TEXT, out);
    case Repr::kAnyAsBytes: return DecodeBytes(pg_text, col, SQLITE_BLOB, out);
    case Repr::kUuidText: return DecodeUuid(pg_text, col, out);
  }
  return Misfit(pg_text, col, "unknown representation");
}

bool KindRecoverable(const ColumnMapping& col) {
  switch (col.repr) {
    case Repr::kAnyAsBytes: return false;
    case Repr::kAnyAsText:
    case Repr::kNumberAsNumeric: return col.affinity != Affinity::kBlob;
    case Repr::kNative:
      switch (col.type.kind) {
        case PgKind::kBigint:
        case PgKind::kInteger:
        case PgKind::kSmallint:
        case PgKind::kDouble: return col.affinity != Affinity::kBlob;
        default: return true;
      }
    default: return true;
  }
}

bool SameInPostgres(const SqlValue& a, const SqlValue& b, const ColumnMapping& col) {
  std::string ea, eb;
  return EncodeForPg(a, col, &ea).ok() && EncodeForPg(b, col, &eb).ok() && ea == eb;
}

bool KindComesBack(const SqlValue& v, const ColumnMapping& col) {
  const bool untyped = col.affinity == Affinity::kBlob;
  switch (col.repr) {
    case Repr::kAnyAsBytes: return v.type == SQLITE_BLOB;
    case Repr::kAnyAsText: {
      if (!untyped || v.type != SQLITE_TEXT) return true;
      OwnedValue back;
      return DecodeUntyped(v.bytes, &back).ok() && back.type == SQLITE_TEXT;
    }
    case Repr::kNumberAsNumeric:
      if (!untyped) return true;
      if (v.type == SQLITE_TEXT) return false;
      return v.type != SQLITE_FLOAT || !(std::floor(v.d) == v.d && std::fabs(v.d) < 9.2e18);
    case Repr::kNative:
      if (!untyped) return true;
      switch (col.type.kind) {
        case PgKind::kBigint:
        case PgKind::kInteger:
        case PgKind::kSmallint: return v.type != SQLITE_FLOAT;
        case PgKind::kDouble: return v.type != SQLITE_INTEGER;
        default: return true;
      }
    default: return true;
  }
}

const char* StorageClassName(int type) {
  switch (type) {
    case SQLITE_INTEGER: return "INTEGER";
    case SQLITE_FLOAT: return "REAL";
    case SQLITE_TEXT: return "TEXT";
    case SQLITE_BLOB: return "BLOB";
    default: return "NULL";
  }
}

}  // namespace slipway::schema
