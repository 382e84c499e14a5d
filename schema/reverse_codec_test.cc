#include "schema/reverse_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace slipway::schema {
namespace {

ColumnMapping Col(PgKind kind, Repr repr, std::string format = "", std::string zone = "",
                  Affinity affinity = Affinity::kBlob) {
  ColumnMapping c;
  c.type.kind = kind;
  c.repr = repr;
  c.format = std::move(format);
  c.zone_offset = std::move(zone);
  c.affinity = affinity;
  return c;
}

ColumnMapping Numeric(int precision, int scale, Affinity affinity) {
  ColumnMapping c = Col(PgKind::kNumeric, Repr::kNumberAsNumeric, "", "", affinity);
  c.type.precision = precision;
  c.type.scale = scale;
  return c;
}

SqlValue Int(int64_t i) {
  SqlValue v;
  v.type = SQLITE_INTEGER;
  v.i = i;
  return v;
}
SqlValue Real(double d) {
  SqlValue v;
  v.type = SQLITE_FLOAT;
  v.d = d;
  return v;
}
SqlValue Text(std::string_view s) {
  SqlValue v;
  v.type = SQLITE_TEXT;
  v.bytes = s;
  return v;
}
SqlValue Blob(std::string_view s) {
  SqlValue v;
  v.type = SQLITE_BLOB;
  v.bytes = s;
  return v;
}

// Same storage class, and the same bits / bytes.
::testing::AssertionResult Same(const OwnedValue& got, const SqlValue& want) {
  if (got.type != want.type) {
    return ::testing::AssertionFailure() << "storage class " << got.type << ", want " << want.type << " ("
                                         << DescribeValue(got.view()) << " vs " << DescribeValue(want) << ")";
  }
  bool same = true;
  switch (want.type) {
    case SQLITE_INTEGER: same = got.i == want.i; break;
    case SQLITE_FLOAT: same = std::memcmp(&got.d, &want.d, sizeof got.d) == 0; break;
    case SQLITE_TEXT:
    case SQLITE_BLOB: same = got.bytes == want.bytes; break;
    default: break;
  }
  if (same) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << DescribeValue(got.view()) << ", want " << DescribeValue(want);
}

OwnedValue Decode(std::string_view printed, const ColumnMapping& col) {
  OwnedValue out;
  Status s = DecodeFromPg(printed, col, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// `v` through the forward codec, then back from `printed`, the text
// PostgreSQL prints for what it read ("" when it prints what it read).
::testing::AssertionResult RoundTrip(const SqlValue& v, const ColumnMapping& col, std::string_view printed = "",
                                     const SqlValue* want = nullptr) {
  std::string sent;
  Status enc = EncodeForPg(v, col, &sent);
  if (!enc.ok()) return ::testing::AssertionFailure() << "forward: " << enc.ToString();
  OwnedValue got;
  Status dec = DecodeFromPg(printed.empty() ? sent : printed, col, &got);
  if (!dec.ok()) return ::testing::AssertionFailure() << "sent " << sent << ": " << dec.ToString();
  return Same(got, want != nullptr ? *want : v);
}

// The error for `printed`, which must name the value.
std::string Error(std::string_view printed, const ColumnMapping& col) {
  OwnedValue out;
  Status s = DecodeFromPg(printed, col, &out);
  EXPECT_FALSE(s.ok()) << printed << " decoded as " << DescribeValue(out.view());
  EXPECT_EQ(s.code(), Code::kBlocked);
  EXPECT_NE(s.message().find("'" + std::string(printed).substr(0, 20)), std::string::npos) << s.message();
  return s.message();
}

TEST(ReverseCodecTest, NativeIntegers) {
  const ColumnMapping big = Col(PgKind::kBigint, Repr::kNative);
  EXPECT_TRUE(RoundTrip(Int(42), big));
  EXPECT_TRUE(RoundTrip(Int(-7), Col(PgKind::kInteger, Repr::kNative)));
  EXPECT_TRUE(RoundTrip(Int(std::numeric_limits<int64_t>::min()), big));
  EXPECT_TRUE(RoundTrip(Int(std::numeric_limits<int64_t>::max()), big));
  // An integral REAL sent into an integer type comes back INTEGER.
  const SqlValue seven = Int(7);
  EXPECT_TRUE(RoundTrip(Real(7.0), big, "", &seven));
  Error("12a", big);
  Error("", big);
  Error("99999999999999999999", big);
}

TEST(ReverseCodecTest, NativeDoublesBitExact) {
  const ColumnMapping dbl = Col(PgKind::kDouble, Repr::kNative, "", "", Affinity::kReal);
  for (double d : {2.5, 0.1, 0.1 + 0.2, 1e308, 1.7976931348623157e308, 5e-324, -2.2250738585072014e-308, 1e16,
                   123456789.125, 0.0, -0.0, std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity()}) {
    EXPECT_TRUE(RoundTrip(Real(d), dbl)) << d;
  }
  // -0.0 keeps its sign: PostgreSQL prints "-0".
  OwnedValue neg = Decode("-0", dbl);
  EXPECT_EQ(neg.type, SQLITE_FLOAT);
  EXPECT_TRUE(std::signbit(neg.d));
  EXPECT_TRUE(std::isinf(Decode("-Infinity", dbl).d));
  // An INTEGER sent into double precision comes back REAL.
  const SqlValue five = Real(5.0);
  EXPECT_TRUE(RoundTrip(Int(5), dbl, "5", &five));
  Error("NaN", dbl);
  Error("1.5x", dbl);
}

TEST(ReverseCodecTest, NativeTextAndBytea) {
  EXPECT_TRUE(RoundTrip(Text("h\xC3\xA9llo\ttab"), Col(PgKind::kText, Repr::kNative)));
  EXPECT_TRUE(RoundTrip(Text(""), Col(PgKind::kVarchar, Repr::kNative)));
  const ColumnMapping bytea = Col(PgKind::kBytea, Repr::kNative);
  const std::string bytes("\x00\x01\xff\x7f", 4);
  EXPECT_TRUE(RoundTrip(Blob(bytes), bytea, "\\x0001ff7f"));
  EXPECT_TRUE(RoundTrip(Blob(""), bytea, "\\x"));
  EXPECT_TRUE(Same(Decode("\\x0A", bytea), Blob("\n")));
  Error("\\x0", bytea);
  Error("\\xzz", bytea);
  Error("abc", bytea);
  Error("x", Col(PgKind::kChar, Repr::kNative));
  Error("t", Col(PgKind::kBoolean, Repr::kNative));
}

TEST(ReverseCodecTest, Bool01OnlyTAndF) {
  const ColumnMapping b = Col(PgKind::kBoolean, Repr::kBool01, "", "", Affinity::kNumeric);
  EXPECT_TRUE(RoundTrip(Int(1), b, "t"));
  EXPECT_TRUE(RoundTrip(Int(0), b, "f"));
  Error("true", b);
  Error("1", b);
  Error("T", b);
}

TEST(ReverseCodecTest, DateTextKeepsTheFormat) {
  EXPECT_TRUE(RoundTrip(Text("2024-02-29"), Col(PgKind::kDate, Repr::kDateText, "YYYY-MM-DD")));
  EXPECT_TRUE(RoundTrip(Text("0001-01-01"), Col(PgKind::kDate, Repr::kDateText, "YYYY-MM-DD")));
  EXPECT_TRUE(RoundTrip(Text("2024-01-02T03:04:05"),
                        Col(PgKind::kTimestamp, Repr::kDateText, "YYYY-MM-DDTHH:MM:SS"), "2024-01-02 03:04:05"));
  EXPECT_TRUE(RoundTrip(Text("2024-01-02 03:04"), Col(PgKind::kTimestamp, Repr::kDateText, "YYYY-MM-DD HH:MM"),
                        "2024-01-02 03:04:00"));
  // PostgreSQL drops trailing fraction zeros; the format's count comes back.
  const ColumnMapping ms = Col(PgKind::kTimestamp, Repr::kDateText, "YYYY-MM-DD HH:MM:SS.fff");
  EXPECT_TRUE(RoundTrip(Text("2024-01-02 03:04:05.120"), ms, "2024-01-02 03:04:05.12"));
  EXPECT_TRUE(RoundTrip(Text("2024-01-02 03:04:05.000"), ms, "2024-01-02 03:04:05"));
  EXPECT_TRUE(RoundTrip(Text("2024-01-02 03:04:05.123"), ms));
  EXPECT_TRUE(RoundTrip(Text("9999-12-31 23:59:59.999"), ms));
  const ColumnMapping t6 = Col(PgKind::kTime, Repr::kDateText, "HH:MM:SS.ffffff");
  EXPECT_TRUE(RoundTrip(Text("03:04:05.500000"), t6, "03:04:05.5"));
  EXPECT_TRUE(RoundTrip(Text("23:59:59"), Col(PgKind::kTime, Repr::kDateText, "HH:MM:SS")));
  // A date shown in a format with a time of day is its midnight.
  EXPECT_TRUE(Same(Decode("2024-01-02", Col(PgKind::kDate, Repr::kDateText, "YYYY-MM-DD HH:MM:SS")),
                   Text("2024-01-02 00:00:00")));
  // A zoned format on timestamp: the zone was ignored on the way in, the
  // recorded offset comes back.
  EXPECT_TRUE(RoundTrip(Text("2024-01-02 03:04:05+05:30"),
                        Col(PgKind::kTimestamp, Repr::kDateText, "YYYY-MM-DD HH:MM:SS+HH:MM", "+05:30"),
                        "2024-01-02 03:04:05"));
}

TEST(ReverseCodecTest, TimestamptzAtTheRecordedOffset) {
  EXPECT_TRUE(RoundTrip(Text("2024-01-02T03:04:05Z"),
                        Col(PgKind::kTimestamptz, Repr::kDateText, "YYYY-MM-DDTHH:MM:SSZ", "Z"),
                        "2024-01-02 03:04:05+00"));
  EXPECT_TRUE(RoundTrip(Text("2024-01-02 03:04:05+00:00"),
                        Col(PgKind::kTimestamptz, Repr::kDateText, "YYYY-MM-DD HH:MM:SS+HH:MM", "+00:00"),
                        "2024-01-02 03:04:05+00"));
  EXPECT_TRUE(RoundTrip(Text("2024-01-02 08:34:05.25+05:30"),
                        Col(PgKind::kTimestamptz, Repr::kDateText, "YYYY-MM-DD HH:MM:SS.ff+HH:MM", "+05:30"),
                        "2024-01-02 03:04:05.25+00"));
  // The day (and year) moves back with a western offset.
  EXPECT_TRUE(RoundTrip(Text("2023-12-31 21:00:00-0500"),
                        Col(PgKind::kTimestamptz, Repr::kDateText, "YYYY-MM-DD HH:MM:SS+HHMM", "-0500"),
                        "2024-01-01 02:00:00+00"));
  EXPECT_TRUE(RoundTrip(Text("2024-01-02T04:04+01"),
                        Col(PgKind::kTimestamptz, Repr::kDateText, "YYYY-MM-DDTHH:MM+HH", "+01"),
                        "2024-01-02 03:04:00+00"));
  // A format without a zone was read in the session's UTC.
  EXPECT_TRUE(RoundTrip(Text("2024-01-02 03:04:05"),
                        Col(PgKind::kTimestamptz, Repr::kDateText, "YYYY-MM-DD HH:MM:SS"), "2024-01-02 03:04:05+00"));
  // An instant printed at another offset is the same instant.
  const ColumnMapping z = Col(PgKind::kTimestamptz, Repr::kDateText, "YYYY-MM-DD HH:MM:SS+HH:MM", "+05:30");
  EXPECT_TRUE(Same(Decode("2024-01-02 05:04:05+02", z), Text("2024-01-02 08:34:05+05:30")));
  EXPECT_TRUE(Same(Decode("2024-01-02 03:04:05-03:30:15", z), Text("2024-01-02 12:04:20+05:30")));
}

TEST(ReverseCodecTest, DateTextErrors) {
  const ColumnMapping secs = Col(PgKind::kTimestamp, Repr::kDateText, "YYYY-MM-DD HH:MM:SS");
  EXPECT_EQ(Error("2024-01-02 03:04:05.123", secs),
            "value '2024-01-02 03:04:05.123' of timestamp has no exact date_text 'YYYY-MM-DD HH:MM:SS' form "
            "(sub-second digits the format cannot hold)");
  Error("2024-01-02 03:04:05.1234", Col(PgKind::kTimestamp, Repr::kDateText, "YYYY-MM-DD HH:MM:SS.fff"));
  EXPECT_NE(Error("2024-01-02 03:04:05", Col(PgKind::kTimestamp, Repr::kDateText, "YYYY-MM-DD")).find("time of day"),
            std::string::npos);
  Error("2024-01-02 03:04:05", Col(PgKind::kTimestamp, Repr::kDateText, "YYYY-MM-DD HH:MM"));
  Error("10000-01-01 00:00:00", secs);
  Error("0001-01-01 00:00:00 BC", secs);
  Error("infinity", secs);
  Error("-infinity", Col(PgKind::kDate, Repr::kDateText, "YYYY-MM-DD"));
  Error("24:00:00", Col(PgKind::kTime, Repr::kDateText, "HH:MM:SS"));
  Error("2024-01-02", Col(PgKind::kDate, Repr::kDateText, "HH:MM:SS"));
  Error("2024-01-02T03:04:05", secs);  // not PostgreSQL's output
  Error("2024-01-02 03:04:05", Col(PgKind::kTimestamp, Repr::kDateText, ""));
  Error("2024-01-02 03:04:05", Col(PgKind::kTimestamp, Repr::kDateText, "DD.MM.YYYY"));
  // Shown at +05:00, 9999-12-31 23:00 UTC is in year 10000.
  Error("9999-12-31 23:00:00+00", Col(PgKind::kTimestamptz, Repr::kDateText, "YYYY-MM-DD HH:MM:SS+HH:MM", "+05:00"));
  // The recorded offset must exist and be of the format's style.
  Error("2024-01-02 03:04:05+00", Col(PgKind::kTimestamptz, Repr::kDateText, "YYYY-MM-DD HH:MM:SS+HH:MM", ""));
  Error("2024-01-02 03:04:05+00", Col(PgKind::kTimestamptz, Repr::kDateText, "YYYY-MM-DD HH:MM:SSZ", "+00:00"));
  Error("2024-01-02 03:04:05+00", Col(PgKind::kTimestamptz, Repr::kDateText, "YYYY-MM-DD HH:MM:SS+HH:MM", "UTC"));
}

TEST(ReverseCodecTest, UnixEpochs) {
  const ColumnMapping s = Col(PgKind::kTimestamptz, Repr::kUnixSeconds, "", "", Affinity::kInteger);
  EXPECT_TRUE(RoundTrip(Int(1704164645), s, "2024-01-02 03:04:05+00"));
  EXPECT_TRUE(RoundTrip(Int(0), s, "1970-01-01 00:00:00+00"));
  EXPECT_TRUE(RoundTrip(Int(-1), s, "1969-12-31 23:59:59+00"));
  EXPECT_TRUE(RoundTrip(Int(4102444800), s));
  EXPECT_TRUE(Same(Decode("2024-01-02 05:04:05+02", s), Int(1704164645)));
  EXPECT_NE(Error("2024-01-02 03:04:05.5+00", s).find("fraction"), std::string::npos);
  Error("infinity", s);
  Error("2024-01-02", s);

  const ColumnMapping ms = Col(PgKind::kTimestamptz, Repr::kUnixMillis, "", "", Affinity::kInteger);
  EXPECT_TRUE(RoundTrip(Int(1704164645123), ms, "2024-01-02 03:04:05.123+00"));
  EXPECT_TRUE(RoundTrip(Int(1704164645100), ms, "2024-01-02 03:04:05.1+00"));
  EXPECT_TRUE(RoundTrip(Int(1704164645000), ms, "2024-01-02 03:04:05+00"));
  EXPECT_TRUE(RoundTrip(Int(-1), ms, "1969-12-31 23:59:59.999+00"));
  EXPECT_TRUE(RoundTrip(Int(-1001), ms, "1969-12-31 23:59:58.999+00"));
  Error("2024-01-02 03:04:05.1234+00", ms);
}

TEST(ReverseCodecTest, NumericByAffinity) {
  const ColumnMapping n = Numeric(-1, -1, Affinity::kNumeric);
  const ColumnMapping n102 = Numeric(10, 2, Affinity::kNumeric);
  EXPECT_TRUE(RoundTrip(Int(42), n));
  EXPECT_TRUE(RoundTrip(Int(std::numeric_limits<int64_t>::max()), n));
  EXPECT_TRUE(RoundTrip(Int(-5), n102, "-5.00"));
  EXPECT_TRUE(RoundTrip(Real(2.5), n102, "2.50"));
  EXPECT_TRUE(RoundTrip(Real(-0.01), n102));
  EXPECT_TRUE(RoundTrip(Real(0.1), n));
  EXPECT_TRUE(RoundTrip(Real(0.1 + 0.2), n));
  EXPECT_TRUE(RoundTrip(Real(1e100), n, "1" + std::string(100, '0')));
  EXPECT_TRUE(RoundTrip(Real(5e-324), n, "0." + std::string(323, '0') + "5"));
  EXPECT_TRUE(RoundTrip(Real(1e20), n, "100000000000000000000"));
  EXPECT_TRUE(RoundTrip(Real(std::numeric_limits<double>::infinity()), n, "Infinity"));
  EXPECT_TRUE(RoundTrip(Real(-std::numeric_limits<double>::infinity()), n, "-Infinity"));
  // An integral value is INTEGER where the affinity stores it so...
  const SqlValue five = Int(5);
  EXPECT_TRUE(RoundTrip(Real(5.0), n102, "5.00", &five));
  EXPECT_TRUE(RoundTrip(Real(5.0), Numeric(-1, -1, Affinity::kBlob), "5", &five));
  // ...and REAL in a REAL column.
  EXPECT_TRUE(RoundTrip(Real(5.0), Numeric(10, 2, Affinity::kReal), "5.00"));
  EXPECT_TRUE(Same(Decode("7", Numeric(-1, -1, Affinity::kReal)), Real(7.0)));
  // -0.0 has no numeric form: it comes back as zero.
  EXPECT_TRUE(Same(Decode("0", n), Int(0)));
}

TEST(ReverseCodecTest, NumericInexactIsAnError) {
  const ColumnMapping n = Numeric(-1, -1, Affinity::kNumeric);
  EXPECT_NE(Error("0.10000000000000000001", n).find("more digits"), std::string::npos);
  Error("99999999999999999999", n);
  Error("9007199254740993.5", n);
  Error("NaN", n);
  Error("1e5", n);
  Error("1.", n);
  Error("1" + std::string(400, '0'), n);
  // Beyond 2^53 a REAL column cannot hold the integer exactly.
  Error("9223372036854775807", Numeric(-1, -1, Affinity::kReal));
  Error("9007199254740993", Numeric(-1, -1, Affinity::kReal));
}

TEST(ReverseCodecTest, AnyAsTextInAnUntypedColumnGivesNumbersBack) {
  // BLOB affinity (untyped): canonical number forms come back as numbers.
  const ColumnMapping t = Col(PgKind::kText, Repr::kAnyAsText);
  EXPECT_TRUE(RoundTrip(Text("abc"), t));
  EXPECT_TRUE(RoundTrip(Int(12), t));
  EXPECT_TRUE(RoundTrip(Int(-9223372036854775807LL - 1), t));
  EXPECT_TRUE(RoundTrip(Real(1.0), t));
  EXPECT_TRUE(RoundTrip(Real(0.5), t));
  EXPECT_TRUE(RoundTrip(Text("007"), t)) << "not a canonical integer: stays text";
  EXPECT_TRUE(RoundTrip(Text("1.50"), t)) << "not a canonical real: stays text";
  const SqlValue twelve = Int(12);
  EXPECT_TRUE(RoundTrip(Text("12"), t, "", &twelve)) << "a text that reads as a number comes back a number";
  EXPECT_FALSE(KindRecoverable(t));
}

TEST(ReverseCodecTest, AnyAsTextIsText) {
  const ColumnMapping t = Col(PgKind::kText, Repr::kAnyAsText, "", "", Affinity::kText);
  EXPECT_TRUE(RoundTrip(Text("abc"), t));
  const SqlValue twelve = Text("12");
  EXPECT_TRUE(RoundTrip(Int(12), t, "", &twelve));
  const SqlValue real = Text("1.0");
  EXPECT_TRUE(RoundTrip(Real(1.0), t, "", &real));
  EXPECT_TRUE(KindRecoverable(Col(PgKind::kText, Repr::kAnyAsText, "", "", Affinity::kInteger)));
}

TEST(ReverseCodecTest, BytesRepresentations) {
  const ColumnMapping tb = Col(PgKind::kBytea, Repr::kTextAsBytes, "", "", Affinity::kText);
  const std::string odd("a\0b\xff\xc3", 5);
  EXPECT_TRUE(RoundTrip(Text(odd), tb, "\\x610062ffc3"));
  EXPECT_TRUE(RoundTrip(Text(""), tb, "\\x"));
  Error("abc", tb);

  const ColumnMapping ab = Col(PgKind::kBytea, Repr::kAnyAsBytes);
  EXPECT_TRUE(RoundTrip(Blob(odd), ab));
  const SqlValue seven = Blob("7");
  EXPECT_TRUE(RoundTrip(Int(7), ab, "\\x37", &seven));
  EXPECT_FALSE(KindRecoverable(ab));
  EXPECT_TRUE(KindRecoverable(tb));
}

TEST(ReverseCodecTest, UuidCase) {
  const ColumnMapping lower = Col(PgKind::kUuid, Repr::kUuidText, "lower");
  const ColumnMapping upper = Col(PgKind::kUuid, Repr::kUuidText, "upper");
  EXPECT_TRUE(RoundTrip(Text("0f8fad5b-d9cb-469f-a165-70867728950e"), lower));
  EXPECT_TRUE(RoundTrip(Text("0F8FAD5B-D9CB-469F-A165-70867728950E"), upper,
                        "0f8fad5b-d9cb-469f-a165-70867728950e"));
  Error("0f8fad5b-d9cb-469f-a165-70867728950", lower);
  Error("0f8fad5bxd9cb-469f-a165-70867728950e", upper);
}

TEST(ReverseCodecTest, JsonAsPrinted) {
  EXPECT_TRUE(RoundTrip(Text("{\"a\": 1, \"b\": [true, null]}"), Col(PgKind::kJsonb, Repr::kJsonText)));
  EXPECT_TRUE(RoundTrip(Text("{\"b\":1,  \"a\":2}"), Col(PgKind::kJson, Repr::kJsonText)));
  EXPECT_TRUE(KindRecoverable(Col(PgKind::kJsonb, Repr::kJsonText)));
}

TEST(ReverseCodecTest, NumberAsNumericInUntypedColumnLosesKind) {
  EXPECT_FALSE(KindRecoverable(Numeric(-1, -1, Affinity::kBlob)));
  EXPECT_TRUE(KindRecoverable(Numeric(-1, -1, Affinity::kNumeric)));
}

// Which values come back from PostgreSQL with their own storage class: the
// verifier reports the others as different.
TEST(ReverseCodecTest, KindComesBackOnlyWhereTheTypeTellsKindsApart) {
  const ColumnMapping any_bytes = Col(PgKind::kBytea, Repr::kAnyAsBytes);
  EXPECT_FALSE(KindComesBack(Int(7), any_bytes));
  EXPECT_FALSE(KindComesBack(Real(2.5), any_bytes));
  EXPECT_FALSE(KindComesBack(Text("seven"), any_bytes));
  EXPECT_TRUE(KindComesBack(Blob("7"), any_bytes));

  const ColumnMapping untyped_text = Col(PgKind::kText, Repr::kAnyAsText);
  EXPECT_TRUE(KindComesBack(Int(7), untyped_text));
  EXPECT_TRUE(KindComesBack(Real(2.5), untyped_text));
  EXPECT_TRUE(KindComesBack(Text("seven"), untyped_text));
  EXPECT_TRUE(KindComesBack(Text("007"), untyped_text));
  EXPECT_FALSE(KindComesBack(Text("7"), untyped_text));
  EXPECT_FALSE(KindComesBack(Text("2.5"), untyped_text));
  EXPECT_TRUE(KindComesBack(Text("7"), Col(PgKind::kText, Repr::kAnyAsText, "", "", Affinity::kText)));

  EXPECT_FALSE(KindComesBack(Int(7), Col(PgKind::kDouble, Repr::kNative)));
  EXPECT_TRUE(KindComesBack(Int(7), Col(PgKind::kDouble, Repr::kNative, "", "", Affinity::kInteger)));
  EXPECT_TRUE(KindComesBack(Real(2.5), Col(PgKind::kDouble, Repr::kNative)));
  EXPECT_FALSE(KindComesBack(Real(5.0), Col(PgKind::kBigint, Repr::kNative)));
  EXPECT_FALSE(KindComesBack(Real(5.0), Numeric(-1, -1, Affinity::kBlob)));
  EXPECT_FALSE(KindComesBack(Text("5"), Numeric(-1, -1, Affinity::kBlob)));
  EXPECT_TRUE(KindComesBack(Real(5.5), Numeric(-1, -1, Affinity::kBlob)));
  EXPECT_TRUE(KindComesBack(Real(5.0), Numeric(-1, -1, Affinity::kNumeric)));

  const ColumnMapping text_bytes = Col(PgKind::kBytea, Repr::kTextAsBytes, "", "", Affinity::kText);
  EXPECT_TRUE(KindComesBack(Text("a\xff"), text_bytes));
  EXPECT_TRUE(KindComesBack(Blob("x"), Col(PgKind::kBytea, Repr::kNative)));
}

// What the reverse sink uses to give an unchanged value back in the file's
// storage class.
TEST(ReverseCodecTest, SameInPostgresAndUntypedNativeNumbers) {
  const ColumnMapping any_bytes = Col(PgKind::kBytea, Repr::kAnyAsBytes);
  EXPECT_TRUE(SameInPostgres(Int(7), Blob("7"), any_bytes));
  EXPECT_TRUE(SameInPostgres(Real(2.5), Blob("2.5"), any_bytes));
  EXPECT_FALSE(SameInPostgres(Int(7), Blob("8"), any_bytes));
  const ColumnMapping untyped_double = Col(PgKind::kDouble, Repr::kNative);
  EXPECT_TRUE(SameInPostgres(Int(7), Real(7.0), untyped_double));
  EXPECT_FALSE(SameInPostgres(Int(7), Real(7.5), untyped_double));
  EXPECT_FALSE(KindRecoverable(untyped_double));
  EXPECT_FALSE(KindRecoverable(Col(PgKind::kBigint, Repr::kNative)));
  EXPECT_TRUE(KindRecoverable(Col(PgKind::kBigint, Repr::kNative, "", "", Affinity::kInteger)));
  EXPECT_TRUE(KindRecoverable(Col(PgKind::kBytea, Repr::kNative)));
}

TEST(ReverseCodecTest, ViewBorrowsBytes) {
  OwnedValue v = Decode("\\x0061", Col(PgKind::kBytea, Repr::kAnyAsBytes));
  const SqlValue view = v.view();
  EXPECT_EQ(view.type, SQLITE_BLOB);
  EXPECT_EQ(view.bytes.data(), v.bytes.data());
  EXPECT_EQ(view.bytes, std::string_view("\0a", 2));
}

}  // namespace
}  // namespace slipway::schema
