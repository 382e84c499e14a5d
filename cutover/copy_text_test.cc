#include "cutover/copy_text.h"

#include <gtest/gtest.h>

#include "schema/codec.h"

namespace slipway::cutover {
namespace {

TEST(VerifyCopyTextTest, SplitsFieldsAndNulls) {
  CopyTextParser p;
  ASSERT_TRUE(p.Parse("1\tabc\t\\N\t\n"));
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p.Field(0), "1");
  EXPECT_EQ(p.Field(1), "abc");
  EXPECT_TRUE(p.IsNull(2));
  EXPECT_FALSE(p.IsNull(3));
  EXPECT_EQ(p.Field(3), "");  // empty text is not NULL
}

TEST(VerifyCopyTextTest, Escapes) {
  CopyTextParser p;
  ASSERT_TRUE(p.Parse("a\\tb\\nc\\rd\\\\e\\bf\\fg\\vh\tx\\101\\7y\\x41\\x4a\\q\n"));
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p.Field(0), std::string_view("a\tb\nc\rd\\e\bf\fg\vh"));
  EXPECT_EQ(p.Field(1), std::string_view("xA\ayAJq"));
}

TEST(VerifyCopyTextTest, BackslashNInsideAFieldIsText) {
  CopyTextParser p;
  ASSERT_TRUE(p.Parse("\\\\N\t\\Nx"));
  EXPECT_FALSE(p.IsNull(0));
  EXPECT_EQ(p.Field(0), "\\N");
  EXPECT_FALSE(p.IsNull(1));
  EXPECT_EQ(p.Field(1), "Nx");
}

TEST(VerifyCopyTextTest, ByteaHexSurvives) {
  CopyTextParser p;
  ASSERT_TRUE(p.Parse("\\\\x0a0b\n"));
  EXPECT_EQ(p.Field(0), "\\x0a0b");
}

TEST(VerifyCopyTextTest, RoundTripsTheWriterEscaping) {
  const std::string nasty = std::string("tab\there\nnew\rcr\\back\\N end") + '\x01';
  std::string line;
  schema::AppendCopyEscaped(nasty, &line);
  line += "\t";
  schema::AppendCopyEscaped("second", &line);
  line += "\n";
  CopyTextParser p;
  ASSERT_TRUE(p.Parse(line));
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p.Field(0), nasty);
  EXPECT_EQ(p.Field(1), "second");
}

TEST(VerifyCopyTextTest, ReusedBetweenRows) {
  CopyTextParser p;
  ASSERT_TRUE(p.Parse("a\tb\tc\n"));
  ASSERT_TRUE(p.Parse("\\N\n"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(p.IsNull(0));
  ASSERT_TRUE(p.Parse("x\ty\n"));
  ASSERT_EQ(p.size(), 2u);
  EXPECT_FALSE(p.IsNull(0));
  EXPECT_EQ(p.Field(0), "x");
}

TEST(VerifyCopyTextTest, TruncatedEscapeIsAnError) {
  CopyTextParser p;
  EXPECT_FALSE(p.Parse("abc\\"));
}

}  // namespace
}  // namespace slipway::cutover
