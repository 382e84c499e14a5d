#include "cutover/verify_chunk.h"

#include <gtest/gtest.h>

#include <limits>

namespace slipway::cutover {
namespace {

schema::OwnedValue Value(int type, int64_t i, double d, std::string bytes) {
  schema::OwnedValue v;
  v.type = type;
  v.i = i;
  v.d = d;
  v.bytes = std::move(bytes);
  return v;
}

// A key stored in the target (jsonb) comes back as the same SQLite values:
// storage class and bytes, for text that is not UTF-8 or holds NUL too.
TEST(VerifyChunkKeyTest, KeysSurviveJson) {
  const SqliteKey key = {Value(SQLITE_INTEGER, std::numeric_limits<int64_t>::min(), 0, ""),
                         Value(SQLITE_FLOAT, 0, 0.1, ""),
                         Value(SQLITE_TEXT, 0, 0, std::string("a\0\xff\"b", 5)),
                         Value(SQLITE_BLOB, 0, 0, std::string("\x00\x01", 2)),
                         Value(SQLITE_NULL, 0, 0, "")};
  const nlohmann::json j = KeyToJson(key);
  auto back = KeyFromJson(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->size(), key.size());
  for (size_t i = 0; i < key.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ((*back)[i].type, key[i].type);
    EXPECT_EQ((*back)[i].i, key[i].i);
    EXPECT_EQ((*back)[i].d, key[i].d);
    EXPECT_EQ((*back)[i].bytes, key[i].bytes);
  }
  // An integer and a real of the same value are two keys.
  EXPECT_NE(KeyToJson({Value(SQLITE_INTEGER, 1, 0, "")}), KeyToJson({Value(SQLITE_FLOAT, 0, 1.0, "")}));
}

TEST(VerifyChunkKeyTest, ForeignJsonIsRefused) {
  EXPECT_FALSE(KeyFromJson(nlohmann::json::parse(R"({"pg": ["x"]})")).ok());
  EXPECT_FALSE(KeyFromJson(nlohmann::json::parse(R"([{"t": "abc"}])")).ok());
  EXPECT_FALSE(KeyFromJson(nlohmann::json::parse(R"(["text"])")).ok());
}

}  // namespace
}  // namespace slipway::cutover
