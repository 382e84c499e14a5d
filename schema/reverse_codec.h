#pragma once
// The reverse value codec: what PostgreSQL prints for a mapped column back
// into the SQLite value in the column's recorded representation. Reverse
// replication writes rows the app changed in PostgreSQL after the cutover
// back into the SQLite file; a value must come back as the value the app
// would have found there, so a value that the representation cannot hold
// exactly is an error naming the value, never a changed value. The caller
// adds table, key and column.
//
// The input is PostgreSQL's text output form under the session settings of
// replicator/session.cc (DateStyle 'ISO, YMD', TimeZone 'UTC',
// extra_float_digits 1, bytea_output 'hex'). For every value v that
// EncodeForPg() accepts, DecodeFromPg() of what PostgreSQL prints for it
// gives v back byte for byte, same storage class, except:
//   kNative double      an INTEGER sent into double precision comes back REAL
//                       (a REAL-affinity column would store it as REAL too).
//   kNative integers    an integral REAL sent into an integer type comes back
//                       INTEGER (as INTEGER/NUMERIC affinity stores it).
//   kNumberAsNumeric    the storage class follows the column's affinity as
//                       SQLite would store the number: REAL affinity -> REAL;
//                       otherwise an integral value that fits int64 ("5",
//                       "5.00") -> INTEGER, so a REAL 5.0 comes back INTEGER 5
//                       (what INTEGER/NUMERIC affinity stores anyway), and a
//                       number TEXT comes back as a number (TEXT affinity
//                       turns it into SQLite's text of that number when
//                       bound). -0.0 comes back as 0: numeric has no -0.
//   kAnyAsText          TEXT; the column's affinity turns number text back
//                       into numbers when bound. In a BLOB (untyped) column,
//                       which keeps what it is given, the canonical forms the
//                       forward codec prints numbers in come back as INTEGER
//                       / REAL, anything else as TEXT: so a TEXT that reads
//                       exactly as a number comes back a number (the plan
//                       warns where the audit saw such texts).
//   kAnyAsBytes         always BLOB.
// KindRecoverable() is false for the columns where a storage class is lost.
// Thread-safety: pure functions.

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "schema/codec.h"
#include "schema/mapping.h"

namespace slipway::schema {

// An owning SQLite value.
struct OwnedValue {
  int type = SQLITE_NULL;  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL
  int64_t i = 0;
  double d = 0;
  std::string bytes;  // TEXT or BLOB content

  // A view that borrows `bytes`: valid while this value lives unchanged.
  SqlValue view() const;
  // A copy of `v` that owns its bytes.
  static OwnedValue Of(const SqlValue& v);
};

// The value PostgreSQL prints for the mapped column (text output form, NOT
// NULL: the caller handles NULL) into the SQLite value in the column's
// representation. Rules by representation:
//   kNative          integer kinds -> INTEGER; double precision -> REAL
//                    ("Infinity", "-Infinity"; "-0" stays -0.0, whose sign
//                    SQLite itself keeps only in a column without REAL or
//                    NUMERIC affinity; NaN is an error: SQLite stores NaN as
//                    NULL); text/varchar -> TEXT;
//                    bytea -> BLOB. Other kinds have no native form (as in
//                    EncodeForPg).
//   kBool01          "t"/"f" -> INTEGER 1/0.
//   kDateText        date/time/timestamp/timestamptz -> TEXT in exactly
//                    col.format ("YYYY-MM-DD HH:MM:SS.fff+HH:MM", see
//                    DateFormatOf); a timestamptz instant is shown at the
//                    fixed offset col.zone_offset (UTC when the format has
//                    no zone, as the writing session reads such text).
//                    Fraction digits are padded to the format's count.
//                    Errors: more fraction digits than the format holds, a
//                    time of day (or seconds) the format has no room for, a
//                    year outside 0001..9999, infinity, a missing format.
//   kUnixSeconds     timestamp(tz) -> INTEGER seconds since 1970 UTC; a
//                    fraction of a second is an error.
//   kUnixMillis      timestamp(tz) -> INTEGER milliseconds; sub-millisecond
//                    digits are an error.
//   kNumberAsNumeric numeric -> INTEGER / REAL by the affinity rule above;
//                    REAL only when the decimal (trailing fraction zeros
//                    removed) is the shortest round-trip text of the double,
//                    so "2.50" -> 2.5 but "0.10000000000000000001" is an
//                    error; "Infinity" -> REAL inf; NaN is an error.
//   kAnyAsText       TEXT as printed.
//   kTextAsBytes     bytea -> TEXT with those bytes (may be invalid UTF-8
//                    or hold NUL).
//   kAnyAsBytes      bytea -> BLOB.
//   kUuidText        uuid -> TEXT in col.format's case ("upper", else lower).
//   kJsonText        json/jsonb -> TEXT as printed.
// Errors have Code::kBlocked.
[[nodiscard]] Status DecodeFromPg(std::string_view pg_text, const ColumnMapping& col, OwnedValue* out);

// False when DecodeFromPg() cannot tell which storage class the SQLite value
// had, so a reverse write may store a value of another class than the
// original: kAnyAsText in a BLOB-affinity (untyped) column that may hold
// numbers and text, kAnyAsBytes, and in a BLOB-affinity column
// kNumberAsNumeric and native integer or double types (an integral REAL
// comes back INTEGER, an INTEGER sent into double precision REAL).
bool KindRecoverable(const ColumnMapping& col);

// True when `a` and `b` (not NULL) become the same PostgreSQL value in the
// column: INTEGER 7 and BLOB '7' in a bytea column (kAnyAsBytes). The reverse
// sink uses it to give a value PostgreSQL did not change back in the storage
// class the SQLite file held.
bool SameInPostgres(const SqlValue& a, const SqlValue& b, const ColumnMapping& col);

// True when `v` (not NULL), sent through EncodeForPg() and read back by
// DecodeFromPg() into a column of col.affinity, is stored with its own
// storage class again. False, e.g., for an INTEGER 7 in a bytea column
// (kAnyAsBytes: it lands as the bytes '7' and comes back a BLOB), a TEXT '7'
// in an untyped column widened to text, an INTEGER in an untyped column
// mapped to double precision, an integral REAL in an untyped column mapped to
// an integer type or numeric. The verifier reports such values as different.
bool KindComesBack(const SqlValue& v, const ColumnMapping& col);

// SQLite's name of a storage class: "INTEGER", "REAL", "TEXT", "BLOB", "NULL".
const char* StorageClassName(int type);

}  // namespace slipway::schema
