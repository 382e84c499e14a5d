#include "schema/codec.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "schema/audit.h"

namespace slipway::schema {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHex(std::string_view bytes, std::string* out) {
  out->append("\\x");
  for (unsigned char c : bytes) {
    out->push_back(kHex[c >> 4]);
    out->push_back(kHex[c & 15]);
  }
}

Status Misfit(const SqlValue& v, const ColumnMapping& col, const std::string& why) {
  return Status(Code::kBlocked, "value " + DescribeValue(v) + " does not fit " + col.type.Sql() + " (" + why + ")");
}

bool IsUuid(std::string_view s, bool upper) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (upper ? (c >= 'A' && c <= 'F') : (c >= 'a' && c <= 'f')))) {
      return false;
    }
  }
  return true;
}

// Counts integer and fraction digits of a plain decimal text ("-12.50").
bool DecimalDigits(std::string_view s, int* int_digits, int* frac_digits) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  size_t first = start;
  while (first < i && s[first] == '0') ++first;  // leading zeros take no room
  *int_digits = static_cast<int>(i - first);
  const bool had_int = i > start;
  *frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t fs = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    size_t fe = i;
    while (fe > fs && s[fe - 1] == '0') --fe;  // trailing zeros change nothing
    *frac_digits = static_cast<int>(fe - fs);
  }
  return i == s.size() && (had_int || *frac_digits > 0 || (i > start + 1));
}

Status CheckNumericBounds(const SqlValue& v, const ColumnMapping& col, std::string_view text) {
  if (col.type.precision <= 0) return Status::Ok();
  int id = 0, fd = 0;
  if (!DecimalDigits(text, &id, &fd)) return Misfit(v, col, "not a plain decimal");
  int s = std::max(col.type.scale, 0);
  if (fd > s) return Misfit(v, col, "more than " + std::to_string(s) + " fraction digits would be rounded");
  if (id > col.type.precision - s) return Misfit(v, col, "too many integer digits");
  return Status::Ok();
}

void AppendEpoch(int64_t value, bool millis, std::string* out) {
  int64_t secs = millis ? (value >= 0 ? value / 1000 : -((-value + 999) / 1000)) : value;
  int ms = millis ? static_cast<int>(value - secs * 1000) : 0;
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  if (millis) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d+00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  out->append(buf);
}

Status CheckText(const SqlValue& v, const ColumnMapping& col) {
  if (v.bytes.find('\0') != std::string_view::npos) return Misfit(v, col, "text with a NUL byte");
  if (!IsValidUtf8(v.bytes)) return Misfit(v, col, "text that is not valid UTF-8");
  return Status::Ok();
}

}  // namespace

SqlValue SqlValue::FromColumn(sqlite3_stmt* stmt, int c) {
  SqlValue v;
  v.type = sqlite3_column_type(stmt, c);
  switch (v.type) {
    case SQLITE_INTEGER: v.i = sqlite3_column_int64(stmt, c); break;
    case SQLITE_FLOAT: v.d = sqlite3_column_double(stmt, c); break;
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
      v.bytes = std::string_view(p != nullptr ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt, c)));
      break;
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, c));
      v.bytes = std::string_view(p != nullptr ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt, c)));
      break;
    }
    default: break;
  }
  return v;
}

std::string RealToText(double d) {
  if (std::isinf(d)) return d > 0 ? "Inf" : "-Inf";
  std::string s = ShortestDouble(d);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string DescribeValue(const SqlValue& v) {
  switch (v.type) {
    case SQLITE_NULL: return "NULL";
    case SQLITE_INTEGER: return std::to_string(v.i);
    case SQLITE_FLOAT: return RealToText(v.d);
    case SQLITE_TEXT: {
      std::string s = "'";
      size_t n = 0;
      for (unsigned char c : v.bytes) {
        if (++n > 60) {
          s += "...";
          break;
        }
        if (c == '\'') {
          s += "''";
        } else if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          s += buf;
        } else {
          s += static_cast<char>(c);
        }
      }
      return s + "'";
    }
    default: {
      std::string s = "x'";
      for (size_t k = 0; k < v.bytes.size() && k < 24; ++k) {
        s.push_back(kHex[static_cast<unsigned char>(v.bytes[k]) >> 4]);
        s.push_back(kHex[static_cast<unsigned char>(v.bytes[k]) & 15]);
      }
      return s + (v.bytes.size() > 24 ? "...'" : "'");
    }
  }
}

Status EncodeForPg(const SqlValue& v, const ColumnMapping& col, std::string* out) {
  const PgKind kind = col.type.kind;
  switch (col.repr) {
    case Repr::kNative:
      switch (kind) {
        case PgKind::kBigint:
        case PgKind::kInteger:
        case PgKind::kSmallint: {
          int64_t x;
          if (v.type == SQLITE_INTEGER) {
            x = v.i;
          } else if (v.type == SQLITE_FLOAT && std::floor(v.d) == v.d && std::fabs(v.d) < 9.2e18) {
            x = static_cast<int64_t>(v.d);
          } else {
            return Misfit(v, col, "not an integer");
          }
          if ((kind == PgKind::kInteger && (x < INT32_MIN || x > INT32_MAX)) ||
              (kind == PgKind::kSmallint && (x < -32768 || x > 32767))) {
            return Misfit(v, col, "out of range");
          }
          out->append(std::to_string(x));
          return Status::Ok();
        }
        case PgKind::kDouble:
          if (v.type == SQLITE_FLOAT) {
            if (std::isinf(v.d)) {
              out->append(v.d > 0 ? "Infinity" : "-Infinity");
            } else {
              out->append(ShortestDouble(v.d));
            }
            return Status::Ok();
          }
          if (v.type == SQLITE_INTEGER && v.i > -(int64_t{1} << 53) && v.i < (int64_t{1} << 53)) {
            out->append(std::to_string(v.i));
            return Status::Ok();
          }
          return Misfit(v, col, "not a number exact in double precision");
        case PgKind::kText:
        case PgKind::kVarchar:
          if (v.type != SQLITE_TEXT) return Misfit(v, col, "not text");
          RETURN_IF_ERROR(CheckText(v, col));
          if (kind == PgKind::kVarchar && col.type.precision > 0) {
            int64_t chars = 0;
            for (unsigned char c : v.bytes) chars += (c & 0xC0) != 0x80;
            if (chars > col.type.precision) return Misfit(v, col, "too long");
          }
          out->append(v.bytes);
          return Status::Ok();
        case PgKind::kBytea:
          if (v.type != SQLITE_BLOB) return Misfit(v, col, "not a BLOB");
          AppendHex(v.bytes, out);
          return Status::Ok();
        default:
          return Misfit(v, col, "no native form");
      }
    case Repr::kBool01:
      if (v.type == SQLITE_INTEGER && (v.i == 0 || v.i == 1)) {
        out->append(v.i == 1 ? "t" : "f");
        return Status::Ok();
      }
      return Misfit(v, col, "only 0 and 1 map to boolean");
    case Repr::kDateText: {
      if (v.type != SQLITE_TEXT) return Misfit(v, col, "not date text");
      bool valid = false;
      std::string offset;
      std::string fmt = DateFormatOf(v.bytes, &valid, &offset);
      if (!valid || fmt != col.format) return Misfit(v, col, "not in the column's format " + col.format);
      if (!col.zone_offset.empty() && offset != col.zone_offset) {
        return Misfit(v, col, "zone offset differs from the column's " + col.zone_offset);
      }
      out->append(v.bytes);
      return Status::Ok();
    }
    case Repr::kUnixSeconds:
    case Repr::kUnixMillis:
      if (v.type != SQLITE_INTEGER) return Misfit(v, col, "not an epoch integer");
      AppendEpoch(v.i, col.repr == Repr::kUnixMillis, out);
      return Status::Ok();
    case Repr::kNumberAsNumeric: {
      std::string text;
      if (v.type == SQLITE_INTEGER) {
        text = std::to_string(v.i);
      } else if (v.type == SQLITE_FLOAT) {
        if (std::isinf(v.d)) {
          if (col.type.precision > 0) return Misfit(v, col, "infinite");
          out->append(v.d > 0 ? "Infinity" : "-Infinity");
          return Status::Ok();
        }
        text = ShortestDouble(v.d);
        if (text.find_first_of("eE") != std::string::npos) {
          if (col.type.precision > 0) return Misfit(v, col, "needs an exponent");
          out->append(text);
          return Status::Ok();
        }
      } else if (v.type == SQLITE_TEXT) {
        text = std::string(v.bytes);
        int a = 0, b = 0;
        if (!DecimalDigits(text, &a, &b)) return Misfit(v, col, "text that is not a number");
      } else {
        return Misfit(v, col, "not a number");
      }
      RETURN_IF_ERROR(CheckNumericBounds(v, col, text));
      out->append(text);
      return Status::Ok();
    }
    case Repr::kAnyAsText:
      switch (v.type) {
        case SQLITE_INTEGER: out->append(std::to_string(v.i)); return Status::Ok();
        case SQLITE_FLOAT: out->append(RealToText(v.d)); return Status::Ok();
        case SQLITE_TEXT:
          RETURN_IF_ERROR(CheckText(v, col));
          out->append(v.bytes);
          return Status::Ok();
        default: return Misfit(v, col, "a BLOB is not text");
      }
    case Repr::kTextAsBytes:
      if (v.type != SQLITE_TEXT) return Misfit(v, col, "not text");
      AppendHex(v.bytes, out);
      return Status::Ok();
    case Repr::kAnyAsBytes:
      switch (v.type) {
        case SQLITE_INTEGER: AppendHex(std::to_string(v.i), out); return Status::Ok();
        case SQLITE_FLOAT: AppendHex(RealToText(v.d), out); return Status::Ok();
        default: AppendHex(v.bytes, out); return Status::Ok();
      }
    case Repr::kUuidText:
      if (v.type != SQLITE_TEXT || !IsUuid(v.bytes, col.format == "upper")) {
        return Misfit(v, col, "not " + col.format + "-case uuid text");
      }
      out->append(v.bytes);
      return Status::Ok();
    case Repr::kJsonText: {
      if (v.type != SQLITE_TEXT) return Misfit(v, col, "not JSON text");
      bool container = false;
      if (!IsValidJson(v.bytes, &container)) return Misfit(v, col, "not valid JSON");
      if (kind == PgKind::kJsonb && !JsonbRoundTrips(v.bytes)) {
        return Misfit(v, col, "jsonb would rewrite this JSON text");
      }
      RETURN_IF_ERROR(CheckText(v, col));
      out->append(v.bytes);
      return Status::Ok();
    }
  }
  return Misfit(v, col, "unknown representation");
}

void AppendCopyEscaped(std::string_view field, std::string* line) {
  size_t start = 0;
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    const char* esc = nullptr;
    switch (c) {
      case '\\': esc = "\\\\"; break;
      case '\t': esc = "\\t"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      default: continue;
    }
    line->append(field.data() + start, i - start);
    line->append(esc);
    start = i + 1;
  }
  line->append(field.data() + start, field.size() - start);
}

}  // namespace slipway::schema
