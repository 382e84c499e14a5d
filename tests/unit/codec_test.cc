#include <gtest/gtest.h>

#include "cutover/config_flip.h"
#include "schema/binary_codec.h"
#include "schema/codec.h"

namespace slipway {
namespace {

using schema::ColumnMapping;
using schema::PgKind;
using schema::PgType;
using schema::Repr;
using schema::SqlValue;

std::string Hex(const std::string& s) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += k[c >> 4];
    out += k[c & 15];
  }
  return out;
}

// numeric's binary form: ndigits, weight, sign, dscale, base-10000 digits.
TEST(BinaryCodec, NumericDigitsWeightAndScale) {
  std::string out;
  ASSERT_TRUE(schema::NumericToBinary("12345.6", &out));
  EXPECT_EQ(Hex(out), "0003" "0001" "0000" "0001" "0001" "0929" "1770");  // 1 2345 6000, weight 1, dscale 1
  out.clear();
  ASSERT_TRUE(schema::NumericToBinary("-0.00012", &out));
  EXPECT_EQ(Hex(out), "0002" "ffff" "4000" "0005" "0001" "07d0");  // 0.0001 + 0.00002000, weight -1
  out.clear();
  ASSERT_TRUE(schema::NumericToBinary("0", &out));
  EXPECT_EQ(Hex(out), "0000" "0000" "0000" "0000");
  out.clear();
  ASSERT_TRUE(schema::NumericToBinary("1e+100", &out));
  EXPECT_EQ(out.size(), 8u + 2u);  // one digit group (1 x 10000^25)
  out.clear();
  ASSERT_TRUE(schema::NumericToBinary("Infinity", &out));
  EXPECT_EQ(Hex(out), "0000" "0000" "d000" "0000");
  EXPECT_FALSE(schema::NumericToBinary("12a", &out));
}

TEST(BinaryCodec, DatesAndTimestampsFromPostgresEpoch) {
  int32_t days = 0;
  ASSERT_TRUE(schema::ParseDateDays("2000-01-01", &days));
  EXPECT_EQ(days, 0);
  ASSERT_TRUE(schema::ParseDateDays("1999-12-31", &days));
  EXPECT_EQ(days, -1);
  ASSERT_TRUE(schema::ParseDateDays("2024-02-29", &days));
  EXPECT_EQ(days, 8825);
  int64_t us = 0;
  ASSERT_TRUE(schema::ParseTimestampMicros("2000-01-01T00:00:01.5", false, &us));
  EXPECT_EQ(us, 1500000);
  ASSERT_TRUE(schema::ParseTimestampMicros("2000-01-01 02:00:00+02:00", true, &us));
  EXPECT_EQ(us, 0);
  ASSERT_TRUE(schema::ParseTimestampMicros("2000-01-01 00:00:00Z", true, &us));
  EXPECT_EQ(us, 0);
  EXPECT_FALSE(schema::ParseTimestampMicros("2000-01-01 00:00:00+02:00", false, &us));
  EXPECT_FALSE(schema::ParseTimestampMicros("2000-01-01 00:00:00.1234567", false, &us)) << "would round";
  ASSERT_TRUE(schema::ParseTimeMicros("01:00:00.000001", &us));
  EXPECT_EQ(us, 3600000001LL);
}

TEST(Codec, ValuesThatDoNotFitAreErrorsNamingTheValue) {
  ColumnMapping bool_col;
  bool_col.type = PgType{PgKind::kBoolean};
  bool_col.repr = Repr::kBool01;
  std::string out;
  SqlValue two;
  two.type = SQLITE_INTEGER;
  two.i = 2;
  Status s = schema::EncodeForPg(two, bool_col, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("2"), std::string::npos);

  ColumnMapping num;
  num.type = PgType{PgKind::kNumeric, 4, 2};
  num.repr = Repr::kNumberAsNumeric;
  SqlValue price;
  price.type = SQLITE_FLOAT;
  price.d = 4.999;
  EXPECT_FALSE(schema::EncodeForPg(price, num, &out).ok()) << "numeric(4,2) would round 4.999";
  price.d = 4.99;
  out.clear();
  ASSERT_TRUE(schema::EncodeForPg(price, num, &out).ok());
  EXPECT_EQ(out, "4.99");

  ColumnMapping ts;
  ts.type = PgType{PgKind::kTimestamp};
  ts.repr = Repr::kDateText;
  ts.format = "YYYY-MM-DD HH:MM:SS";
  SqlValue other;
  other.type = SQLITE_TEXT;
  other.bytes = "2024-01-02T03:04:05";
  EXPECT_FALSE(schema::EncodeForPg(other, ts, &out).ok()) << "another format than the column's";
}

TEST(Codec, RealsKeepEveryBit) {
  for (double d : {0.1, 1.0 / 3, 1e300, -2.5e-310, 123456789.123456789}) {
    std::string text = schema::RealToText(d);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), d) << text;
  }
  EXPECT_EQ(schema::RealToText(3.0), "3.0");
}

TEST(ConfigFlip, EnvKeepsOtherLinesAndQuoting) {
  std::string in = "# comment\nexport DATABASE_URL=\"sqlite:///a.db\"\nOTHER=1\n";
  auto out = cutover::SetEnvValue(in, "DATABASE_URL", "postgresql://u@h/db");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "# comment\nexport DATABASE_URL=\"postgresql://u@h/db\"\nOTHER=1\n");
  auto added = cutover::SetEnvValue("A=1", "B", "x");
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(*added, "A=1\nB=x\n");
  auto spaced = cutover::SetEnvValue("B=old\n", "B", "host=h password=p w");
  ASSERT_TRUE(spaced.ok());
  EXPECT_EQ(*spaced, "B='host=h password=p w'\n");
  EXPECT_FALSE(cutover::SetEnvValue("B=1\n", "B", "two\nlines").ok());
  // Like a shell, the last assignment is the one that counts.
  auto dup = cutover::SetEnvValue("K=a\nK=b\n", "K", "c");
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(*dup, "K=a\nK=c\n");
}

TEST(ConfigFlip, JsonTopLevelAndDottedKeys) {
  auto top = cutover::SetJsonValue(R"({"DATABASE_URL": "sqlite:///a", "n": 1})", "DATABASE_URL", "pg://x");
  ASSERT_TRUE(top.ok());
  EXPECT_NE(top->find("\"DATABASE_URL\": \"pg://x\""), std::string::npos);
  auto nested = cutover::SetJsonValue(R"({"db": {"url": "sqlite:///a"}})", "db.url", "pg://y");
  ASSERT_TRUE(nested.ok());
  EXPECT_NE(nested->find("\"url\": \"pg://y\""), std::string::npos);
  EXPECT_FALSE(cutover::SetJsonValue("[1]", "a", "b").ok());
}

}  // namespace
}  // namespace slipway
