#pragma once
// PostgreSQL column types slipway maps to, and how a SQLite value is
// represented in them (Repr) so it converts exactly both ways.

#include <optional>
#include <string>

#include "common/status.h"

namespace slipway::schema {

enum class PgKind {
  kBigint, kInteger, kSmallint, kDouble, kReal4, kNumeric, kBoolean, kText, kVarchar, kChar,
  kBytea, kDate, kTime, kTimestamp, kTimestamptz, kJson, kJsonb, kUuid,
};

// bigint, integer, smallint.
inline bool IsIntegerKind(PgKind k) { return k == PgKind::kBigint || k == PgKind::kInteger || k == PgKind::kSmallint; }

// A PostgreSQL type with its modifiers: numeric(10,2), varchar(45), timestamp(3).
struct PgType {
  PgKind kind = PgKind::kText;
  int precision = -1;  // numeric precision / varchar length / fractional seconds
  int scale = -1;      // numeric scale

  std::string Sql() const;  // "numeric(10,2)", "timestamp(3) without time zone"
  bool operator==(const PgType& o) const = default;
  // Parses the types users write in mapping files and PostgreSQL's
  // format_type() output ("character varying(45)", "timestamp with time zone").
  static Result<PgType> Parse(const std::string& text);
};

// How the SQLite value is written in the PostgreSQL type, and back.
enum class Repr {
  kNative,        // int->integer types, real->double, text->text, blob->bytea
  kBool01,        // integer 0/1 <-> false/true
  kDateText,      // ISO text in `format` <-> date/time/timestamp(tz)
  kUnixSeconds,   // integer seconds since 1970 <-> timestamptz
  kUnixMillis,    // integer milliseconds since 1970 <-> timestamptz
  kNumberAsNumeric,  // integer/real (shortest round-trip decimal) <-> numeric
  kAnyAsText,     // any value printed as text (numbers in SQLite's text form)
  kTextAsBytes,   // text whose bytes are not valid UTF-8 or hold NUL <-> bytea
  kAnyAsBytes,    // any value as its bytes (a user's choice; storage class lost)
  kUuidText,      // canonical uuid text (lower or upper case, see `upper`)
  kJsonText,      // JSON text <-> json/jsonb
};

const char* ReprName(Repr r);
std::optional<Repr> ReprFromName(const std::string& name);
const char* PgKindName(PgKind k);

}  // namespace slipway::schema
