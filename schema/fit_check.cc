// FitCheck and AdaptToType: does every present value fit a given PostgreSQL
// type (a user's override, or an app's existing column)? Blocking notes name
// the count and example keys of the values that do not.
#include <algorithm>
#include <cstdint>

#include "schema/mapping.h"

namespace slipway::schema {
namespace {

Note Block(const std::string& table, const ColumnMapping& col, std::string msg, int64_t count,
           const Finding* f = nullptr) {
  Note n;
  n.severity = Severity::kBlocking;
  n.table = table;
  n.column = col.source;
  n.message = std::move(msg);
  n.count = count;
  if (f != nullptr) {
    n.examples = f->examples;
    n.values = f->values;
  }
  return n;
}

std::string TypeName(const ColumnMapping& col) { return col.type.Sql(); }

int Digits(int64_t v) {
  uint64_t u = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  int n = 1;
  while (u >= 10) {
    u /= 10;
    ++n;
  }
  return n;
}

}  // namespace

std::vector<Note> FitCheck(const std::string& table, const ColumnMapping& col, const ColumnAudit& a) {
  std::vector<Note> out;
  const std::string type = TypeName(col);
  if (col.not_null && a.nulls > 0) {
    out.push_back(Block(table, col, "target column is NOT NULL but " + std::to_string(a.nulls) + " values are NULL", a.nulls));
  }
  if (col.skip) return out;
  auto non_numbers = [&](const char* what) {
    if (a.texts > 0) out.push_back(Block(table, col, std::string("TEXT values do not fit ") + what, a.texts, &a.text_other));
    if (a.blobs > 0) out.push_back(Block(table, col, std::string("BLOB values do not fit ") + what, a.blobs, &a.blob_values));
  };
  switch (col.type.kind) {
    case PgKind::kBigint:
    case PgKind::kInteger:
    case PgKind::kSmallint: {
      int64_t lo = col.type.kind == PgKind::kSmallint ? -32768 : col.type.kind == PgKind::kInteger ? INT32_MIN : INT64_MIN;
      int64_t hi = col.type.kind == PgKind::kSmallint ? 32767 : col.type.kind == PgKind::kInteger ? INT32_MAX : INT64_MAX;
      if (a.integers > 0 && (a.int_min < lo || a.int_max > hi)) {
        out.push_back(Block(table, col, "integers from " + std::to_string(a.int_min) + " to " + std::to_string(a.int_max) +
                                            " do not fit " + type, a.integers));
      }
      if (a.reals > a.real_integral) {
        out.push_back(Block(table, col, "REAL values with a fraction do not fit " + type, a.reals - a.real_integral, &a.mixed));
      }
      non_numbers(type.c_str());
      break;
    }
    case PgKind::kBoolean:
      if (a.integers > a.int_bool) {
        out.push_back(Block(table, col, "integers other than 0/1 do not fit boolean", a.integers - a.int_bool));
      }
      if (a.reals > 0) out.push_back(Block(table, col, "REAL values do not fit boolean", a.reals, &a.mixed));
      if (a.texts > a.text_bool) out.push_back(Block(table, col, "TEXT values do not fit boolean", a.texts - a.text_bool, &a.text_other));
      if (a.blobs > 0) out.push_back(Block(table, col, "BLOB values do not fit boolean", a.blobs, &a.blob_values));
      break;
    case PgKind::kDouble:
      if (a.integers > 0 && (a.int_min <= -(int64_t{1} << 53) || a.int_max >= (int64_t{1} << 53))) {
        out.push_back(Block(table, col, "integers beyond 2^53 are not exact in double precision", a.integers));
      }
      non_numbers("double precision");
      break;
    case PgKind::kReal4:
      if (a.reals > 0 || a.integers > 0) {
        out.push_back(Block(table, col, "real (4-byte float) cannot hold SQLite's 8-byte values exactly",
                            a.reals + a.integers));
      }
      non_numbers("real");
      break;
    case PgKind::kNumeric: {
      if (a.real_nonfinite.count > 0 && col.type.precision > 0) {
        out.push_back(Block(table, col, "infinite values do not fit " + type, a.real_nonfinite.count, &a.real_nonfinite));
      }
      if (col.type.precision > 0) {
        int s = std::max(col.type.scale, 0);
        int int_digits = std::max({a.integers > 0 ? std::max(Digits(a.int_min), Digits(a.int_max)) : 0,
                                   a.real_max_int_digits, a.text_num_max_int_digits});
        int frac = std::max(a.real_max_frac_digits, a.text_num_max_frac_digits);
        if (int_digits > col.type.precision - s || frac > s) {
          out.push_back(Block(table, col, "values with " + std::to_string(int_digits) + " integer and " +
                                              std::to_string(frac) + " fraction digits do not fit " + type,
                              a.NonNull()));
        }
      }
      if (a.texts > a.text_number) {
        out.push_back(Block(table, col, "TEXT values that are not numbers do not fit " + type, a.texts - a.text_number,
                            &a.text_other));
      }
      if (a.blobs > 0) out.push_back(Block(table, col, "BLOB values do not fit " + type, a.blobs, &a.blob_values));
      break;
    }
    case PgKind::kText:
    case PgKind::kVarchar:
    case PgKind::kChar:
    case PgKind::kJson:
    case PgKind::kJsonb:
    case PgKind::kUuid:
      if (a.text_invalid_utf8.count > 0) {
        out.push_back(Block(table, col, "text that is not valid UTF-8 does not fit " + type, a.text_invalid_utf8.count,
                            &a.text_invalid_utf8));
      }
      if (a.text_nul.count > 0) {
        out.push_back(Block(table, col, "text with NUL bytes does not fit " + type, a.text_nul.count, &a.text_nul));
      }
      if (a.blobs > 0) out.push_back(Block(table, col, "BLOB values do not fit " + type, a.blobs, &a.blob_values));
      if (col.type.kind == PgKind::kVarchar && col.type.precision > 0 && a.text_max_chars > col.type.precision) {
        out.push_back(Block(table, col, "text up to " + std::to_string(a.text_max_chars) + " characters does not fit " + type,
                            a.texts));
      }
      if (col.type.kind == PgKind::kChar) {
        out.push_back(Block(table, col, "char(n) pads values with spaces, so values would not come back unchanged", a.texts));
      }
      if (col.type.kind == PgKind::kJson || col.type.kind == PgKind::kJsonb) {
        if (a.json_invalid.count > 0 || a.integers + a.reals > 0) {
          out.push_back(Block(table, col, "values that are not JSON text do not fit " + type,
                              a.json_invalid.count + a.integers + a.reals, &a.json_invalid));
        }
        if (col.type.kind == PgKind::kJsonb && a.json_jsonb_exact < a.texts) {
          Note n = Block(table, col, "jsonb rewrites these JSON texts (spacing, key order, duplicate keys)",
                         a.texts - a.json_jsonb_exact);
          n.severity = Severity::kWarning;
          out.push_back(n);
        }
      }
      if (col.type.kind == PgKind::kUuid && a.uuid_lower + a.uuid_upper < a.texts + a.integers + a.reals) {
        out.push_back(Block(table, col, "values that are not uuid text do not fit uuid",
                            a.texts + a.integers + a.reals - a.uuid_lower - a.uuid_upper, &a.text_other));
      }
      if (col.type.kind == PgKind::kUuid && a.uuid_lower > 0 && a.uuid_upper > 0) {
        out.push_back(Block(table, col, "uuid text in both cases would come back in one case", a.uuid_upper));
      }
      break;
    case PgKind::kBytea:
      break;
    case PgKind::kDate:
    case PgKind::kTime:
    case PgKind::kTimestamp:
    case PgKind::kTimestamptz: {
      if (col.repr == Repr::kUnixSeconds || col.repr == Repr::kUnixMillis) {
        if (a.reals + a.texts + a.blobs > 0) {
          out.push_back(Block(table, col, "non-integer values do not fit " + type + " as epoch numbers",
                              a.reals + a.texts + a.blobs, &a.mixed));
        }
        break;
      }
      int64_t dated = 0;
      for (const auto& [f, n] : a.dates.formats) dated += n;
      if (a.dates.invalid.count > 0) {
        out.push_back(Block(table, col, "impossible dates do not fit " + type, a.dates.invalid.count, &a.dates.invalid));
      }
      if (dated < a.texts || a.integers + a.reals + a.blobs > 0) {
        out.push_back(Block(table, col, "values that are not date/time text do not fit " + type,
                            a.texts - dated + a.integers + a.reals + a.blobs, &a.text_other));
      }
      if (a.dates.formats.size() > 1) {
        out.push_back(Block(table, col, "date text in " + std::to_string(a.dates.formats.size()) +
                                            " formats would not come back in its own form from " + type,
                            dated));
      }
      if (col.type.kind == PgKind::kTimestamptz && a.dates.offsets.size() > 1) {
        out.push_back(Block(table, col, "differing zone offsets would not come back from " + type, dated));
      }
      break;
    }
  }
  return out;
}

ColumnMapping AdaptToType(const ColumnMapping& base, const PgType& type, const ColumnAudit& a) {
  ColumnMapping m = base;
  m.type = type;
  m.format.clear();
  m.zone_offset.clear();
  switch (type.kind) {
    case PgKind::kBoolean: m.repr = Repr::kBool01; break;
    case PgKind::kNumeric: m.repr = Repr::kNumberAsNumeric; break;
    case PgKind::kText:
    case PgKind::kVarchar:
      m.repr = a.integers + a.reals > 0 ? Repr::kAnyAsText : Repr::kNative;
      break;
    case PgKind::kBytea:
      m.repr = a.blobs == a.NonNull() ? Repr::kNative : a.blobs == 0 && a.integers + a.reals == 0 ? Repr::kTextAsBytes
                                                                                                    : Repr::kAnyAsBytes;
      break;
    case PgKind::kJson:
    case PgKind::kJsonb: m.repr = Repr::kJsonText; break;
    case PgKind::kUuid:
      m.repr = Repr::kUuidText;
      m.format = a.uuid_upper > 0 && a.uuid_lower == 0 ? "upper" : "lower";
      break;
    case PgKind::kDate:
    case PgKind::kTime:
    case PgKind::kTimestamp:
    case PgKind::kTimestamptz:
      if (a.texts == 0 && a.integers > 0 && type.kind == PgKind::kTimestamptz) {
        m.repr = a.int_epoch_ms == a.integers && a.int_epoch_s < a.integers ? Repr::kUnixMillis : Repr::kUnixSeconds;
      } else {
        m.repr = Repr::kDateText;
        if (!a.dates.formats.empty()) m.format = a.dates.formats.begin()->first;
        if (!a.dates.offsets.empty()) m.zone_offset = a.dates.offsets.begin()->first;
      }
      break;
    default: m.repr = Repr::kNative; break;
  }
  m.app_notices.clear();
  return m;
}

std::vector<Note> KindLossNotes(const std::string& table, const ColumnMapping& col, const ColumnAudit& a) {
  std::vector<Note> out;
  if (col.skip) return out;
  const std::string type = col.type.Sql();
  const std::string fix = std::string("; ") + kKindLossMarker + ", so the cutover refuses until they are stored as " +
                          std::string(col.type.kind == PgKind::kBytea ? "BLOBs" : "the kind PostgreSQL keeps") +
                          " in SQLite" + (col.type.kind == PgKind::kBytea ? " (CAST(col AS BLOB))" : "") +
                          ", or the mapping file chooses a type that keeps them";
  auto note = [&](const char* kind, int64_t count, const Finding& examples, const std::string& what) {
    if (count <= 0) return;
    Note n;
    n.severity = Severity::kWarning;
    n.table = table;
    n.column = col.source;
    n.message = "rollback risk: " + std::to_string(count) + " " + kind + " values " + what + fix;
    n.count = count;
    n.examples = examples.examples;
    n.values = examples.values;
    out.push_back(std::move(n));
  };
  const bool untyped = col.affinity == Affinity::kBlob;
  switch (col.repr) {
    case Repr::kAnyAsBytes:
      note("INTEGER", a.integers, a.integer_values,
           "land in bytea as the bytes of their text (7 -> '\\x37') and come back from PostgreSQL as BLOBs");
      note("REAL", a.reals, a.real_values,
           "land in bytea as the bytes of their text (2.5 -> '\\x322e35') and come back from PostgreSQL as BLOBs");
      note("TEXT", a.texts, a.text_values, "land in bytea as their bytes and come back from PostgreSQL as BLOBs");
      break;
    case Repr::kNumberAsNumeric:
      if (!untyped) break;
      note("integral REAL", a.real_integral, a.real_values,
           "become numeric and come back from PostgreSQL as INTEGERs (5.0 -> 5)");
      note("TEXT", a.texts, a.text_values, "become numeric and come back from PostgreSQL as numbers");
      break;
    case Repr::kNative:
      if (!untyped) break;
      if (col.type.kind == PgKind::kDouble) {
        note("INTEGER", a.integers, a.integer_values,
             "become double precision and come back from PostgreSQL as REALs (7 -> 7.0)");
      } else if (col.type.kind == PgKind::kBigint || col.type.kind == PgKind::kInteger ||
                 col.type.kind == PgKind::kSmallint) {
        note("REAL", a.real_integral, a.real_values, "become " + type + " and come back from PostgreSQL as INTEGERs");
      }
      break;
    default:
      break;
  }
  return out;
}

}  // namespace slipway::schema
