#pragma once
// Canonical value text for verification: one string per value, so that a
// SQLite value (through EncodeForPg) and the value PostgreSQL holds for the
// mapped column compare equal exactly when they are the same value.
//
// The input is either PostgreSQL's text input form (what EncodeForPg wrote)
// or what PostgreSQL prints for the type in a session set up with
// kCanonicalSessionSql. Texts that do not parse as the column's type are
// returned unchanged: they can then only equal the very same text, so a
// difference is never hidden.
//
// Rules by type:
//   integers      decimal, no sign for zero, no leading zeros
//   double/real   parsed, then the shortest text that reads back bit-exact;
//                 Infinity, -Infinity, NaN
//   numeric       plain decimal (exponents expanded), trailing fraction zeros
//                 and a trailing '.' removed, "-0" -> "0"
//   boolean       t / f
//   text, json(b) unchanged (bytes)
//   bytea         "\x" + lower-case hex
//   date          YYYY-MM-DD
//   time          HH:MM:SS.ffffff (always 6 fraction digits)
//   timestamp     YYYY-MM-DD HH:MM:SS.ffffff ('T' or ' ' separator, any
//                 fraction length, seconds optional)
//   timestamptz   converted to UTC with the text's offset (Z, +HH, +HH:MM,
//                 +HHMM, +HH:MM:SS; none = UTC) -> YYYY-MM-DD HH:MM:SS.ffffffZ
//   uuid          lower case
// Fractions longer than 6 digits keep their extra non-zero digits, so a value
// PostgreSQL would round shows up as different instead of silently equal.
// Thread-safety: pure functions.

#include <string>
#include <string_view>

#include "schema/mapping.h"
#include "schema/pg_type.h"

namespace slipway::schema {

// The session settings the PostgreSQL output rules above assume.
inline constexpr const char* kCanonicalSessionSql =
    "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET extra_float_digits = 1; "
    "SET bytea_output = 'hex'; SET IntervalStyle = 'iso_8601'";

std::string Canonical(std::string_view pg_text, const ColumnMapping& col);

// Appends the canonical text of `pg_text` as a value of `kind` to *out.
void AppendCanonical(std::string_view pg_text, PgKind kind, std::string* out);

}  // namespace slipway::schema
