#include "common/count_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace slipway {
namespace {

TEST(FormatCount, GroupsThousandsWithCommas) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(7), "7");
  EXPECT_EQ(FormatCount(999), "999");
  EXPECT_EQ(FormatCount(1000), "1,000");
  EXPECT_EQ(FormatCount(151974), "151,974");
  EXPECT_EQ(FormatCount(1234567), "1,234,567");
  EXPECT_EQ(FormatCount(-1234), "-1,234");
  EXPECT_EQ(FormatCount(-999), "-999");
  EXPECT_EQ(FormatCount(std::numeric_limits<int64_t>::max()), "9,223,372,036,854,775,807");
  EXPECT_EQ(FormatCount(std::numeric_limits<int64_t>::min()), "-9,223,372,036,854,775,808");
}

TEST(FormatCount, RoundsRatesToWholeNumbers) {
  EXPECT_EQ(FormatCountRounded(0.0), "0");
  EXPECT_EQ(FormatCountRounded(0.4), "0");
  EXPECT_EQ(FormatCountRounded(1234.5), "1,235");
  EXPECT_EQ(FormatCountRounded(1500000.2), "1,500,000");
  EXPECT_EQ(FormatCountRounded(-2500.6), "-2,501");
  EXPECT_EQ(FormatCountRounded(std::nan("")), "-");
  EXPECT_EQ(FormatCountRounded(std::numeric_limits<double>::infinity()), "-");
  EXPECT_EQ(FormatCountRounded(1e300), "-");
}

TEST(FormatDurationMs, PicksTheUnitThatReadsBest) {
  EXPECT_EQ(FormatDurationMs(35.4), "35 ms");
  EXPECT_EQ(FormatDurationMs(534.322), "534 ms");
  EXPECT_EQ(FormatDurationMs(4230), "4.2 s");
  EXPECT_EQ(FormatDurationMs(180000), "3 min");
  EXPECT_EQ(FormatDurationMs(9000000), "2.5 h");
}

}  // namespace
}  // namespace slipway
