#include "cutover/verify_merge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

#include "cutover/row_frame.h"

namespace slipway::cutover {
namespace {

using schema::PgKind;

struct Row {
  std::string key;
  std::optional<std::string> a;
  std::optional<std::string> b;
};

RowFrame Frame(const Row& r) {
  RowFrame f;
  f.AddPg(r.key, PgKind::kBigint);
  f.EndKey();
  if (r.a) f.AddPg(*r.a, PgKind::kText); else f.AddNull();
  if (r.b) f.AddPg(*r.b, PgKind::kNumeric); else f.AddNull();
  return f;
}

BucketSums Sums(const std::vector<Row>& rows, size_t buckets) {
  BucketSums s(buckets);
  for (const auto& r : rows) s.Add(HashRow(Frame(r)));
  return s;
}

std::vector<Row> Rows(int n) {
  std::vector<Row> rows;
  for (int i = 1; i <= n; ++i) rows.push_back({std::to_string(i), "name " + std::to_string(i), std::to_string(i) + ".50"});
  return rows;
}

TEST(VerifyRowFrameTest, NullIsNotEmptyAndValuesCannotShift) {
  EXPECT_NE(HashRow(Frame({"1", std::nullopt, "1"})).row, HashRow(Frame({"1", "", "1"})).row);
  RowFrame x, y;
  x.AddPg("1", PgKind::kBigint);
  x.EndKey();
  x.AddPg("ab", PgKind::kText);
  x.AddPg("c", PgKind::kText);
  y.AddPg("1", PgKind::kBigint);
  y.EndKey();
  y.AddPg("a", PgKind::kText);
  y.AddPg("bc", PgKind::kText);
  EXPECT_NE(HashRow(x).row, HashRow(y).row);
  EXPECT_EQ(HashRow(x).key, HashRow(y).key);
}

TEST(VerifyRowFrameTest, CanonicalValuesHashAlike) {
  // "4.50" printed by PostgreSQL and "4.5" written from SQLite are one value.
  EXPECT_EQ(HashRow(Frame({"7", "x", "4.50"})).row, HashRow(Frame({"007", "x", "4.5"})).row);
}

TEST(VerifyRowFrameTest, SqliteValuesThatDoNotFitAreErrors) {
  schema::ColumnMapping col;
  col.type.kind = PgKind::kInteger;
  schema::SqlValue v;
  v.type = SQLITE_TEXT;
  v.bytes = "lots";
  RowFrame f;
  f.AddPg("1", PgKind::kBigint);
  f.EndKey();
  f.AddSqlite(v, col);
  auto comps = DecodeFrame(f.data());
  ASSERT_EQ(comps.size(), 2u);
  EXPECT_EQ(comps[1].tag, Tag::kError);
  EXPECT_NE(std::string(comps[1].bytes).find("lots"), std::string::npos);
}

// AddSqlite skips the canonical parse where EncodeForPg's text is already
// canonical: both ways must give the same frame.
TEST(VerifyRowFrameTest, SqliteFastPathMatchesCanonical) {
  struct Case {
    PgKind kind;
    schema::Repr repr;
    schema::SqlValue v;
  };
  auto integer = [](int64_t i) {
    schema::SqlValue v;
    v.type = SQLITE_INTEGER;
    v.i = i;
    return v;
  };
  auto real = [](double d) {
    schema::SqlValue v;
    v.type = SQLITE_FLOAT;
    v.d = d;
    return v;
  };
  auto bytes = [](int type, std::string_view b) {
    schema::SqlValue v;
    v.type = type;
    v.bytes = b;
    return v;
  };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Case> cases = {
      {PgKind::kBigint, schema::Repr::kNative, integer(0)},
      {PgKind::kBigint, schema::Repr::kNative, integer(-9223372036854775807LL - 1)},
      {PgKind::kSmallint, schema::Repr::kNative, integer(-5)},
      {PgKind::kDouble, schema::Repr::kNative, real(0.1)},
      {PgKind::kDouble, schema::Repr::kNative, real(-0.0)},
      {PgKind::kDouble, schema::Repr::kNative, real(1e100)},
      {PgKind::kDouble, schema::Repr::kNative, real(1e-5)},
      {PgKind::kDouble, schema::Repr::kNative, real(5e-324)},
      {PgKind::kDouble, schema::Repr::kNative, real(1.0 / 3)},
      {PgKind::kDouble, schema::Repr::kNative, real(inf)},
      {PgKind::kDouble, schema::Repr::kNative, real(-inf)},
      {PgKind::kDouble, schema::Repr::kNative, integer(12345)},
      {PgKind::kBoolean, schema::Repr::kBool01, integer(1)},
      {PgKind::kBoolean, schema::Repr::kBool01, integer(0)},
      {PgKind::kBytea, schema::Repr::kNative, bytes(SQLITE_BLOB, "\x00\xff\xAB")},
      {PgKind::kBytea, schema::Repr::kTextAsBytes, bytes(SQLITE_TEXT, "ab\xff")},
      {PgKind::kBytea, schema::Repr::kAnyAsBytes, bytes(SQLITE_BLOB, "42")},
      {PgKind::kText, schema::Repr::kNative, bytes(SQLITE_TEXT, "a\tb")},
      {PgKind::kText, schema::Repr::kAnyAsText, real(2.5)},
      {PgKind::kJsonb, schema::Repr::kJsonText, bytes(SQLITE_TEXT, "{\"a\": 1}")},
  };
  for (const auto& c : cases) {
    schema::ColumnMapping col;
    col.type.kind = c.kind;
    col.repr = c.repr;
    col.affinity = schema::Affinity::kNumeric;
    std::string text;
    ASSERT_TRUE(schema::EncodeForPg(c.v, col, &text).ok()) << schema::DescribeValue(c.v);
    RowFrame fast, slow;
    fast.AddSqlite(c.v, col);
    slow.AddPg(text, c.kind);
    EXPECT_EQ(fast.data(), slow.data()) << text;
  }
}

// A value whose storage class the column's type cannot give back never
// equals the PostgreSQL value it became: INTEGER 7 is not bytea '\x37'.
TEST(VerifyRowFrameTest, KindTheTypeCannotKeepIsADifference) {
  schema::ColumnMapping col;
  col.type.kind = PgKind::kBytea;
  col.repr = schema::Repr::kAnyAsBytes;
  schema::SqlValue seven;
  seven.type = SQLITE_INTEGER;
  seven.i = 7;
  std::string text;
  ASSERT_TRUE(schema::EncodeForPg(seven, col, &text).ok());
  EXPECT_EQ(text, "\\x37");
  RowFrame sqlite_side, pg_side;
  sqlite_side.AddSqlite(seven, col);
  pg_side.AddPg(text, PgKind::kBytea);
  EXPECT_NE(HashRow(sqlite_side).row, HashRow(pg_side).row);
  auto comps = DecodeFrame(sqlite_side.data());
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_EQ(comps[0].tag, Tag::kKind);
  EXPECT_EQ(RenderComponent(comps[0], PgKind::kBytea), "INTEGER 7 (bytea keeps only its text: its kind is lost)");

  schema::SqlValue blob;
  blob.type = SQLITE_BLOB;
  blob.bytes = "7";
  RowFrame blob_side;
  blob_side.AddSqlite(blob, col);
  EXPECT_EQ(HashRow(blob_side).row, HashRow(pg_side).row);
}

// An untyped column of integers and reals widened to double precision holds
// the same numbers: equal (the plan reports the widening and its rollback
// risk).
TEST(VerifyRowFrameTest, NumbersInANumericColumnKeepTheirKind) {
  schema::ColumnMapping dbl;
  dbl.type.kind = PgKind::kDouble;
  dbl.affinity = schema::Affinity::kBlob;
  dbl.repr = schema::Repr::kNative;
  schema::SqlValue seven;
  seven.type = SQLITE_INTEGER;
  seven.i = 7;
  RowFrame sqlite_side, pg_side;
  sqlite_side.AddSqlite(seven, dbl);
  pg_side.AddPg("7", PgKind::kDouble);
  EXPECT_EQ(HashRow(sqlite_side).row, HashRow(pg_side).row);

}

TEST(VerifyRowFrameTest, ChangelogKeyIsTheFirstFourKeyComponents) {
  RowFrame f;
  for (int i = 0; i < 6; ++i) f.AddPg(std::to_string(i), PgKind::kBigint);
  f.EndKey();
  f.AddPg("v", PgKind::kText);
  EXPECT_EQ(DecodeFrame(f.changelog_key()).size(), 4u);
  EXPECT_EQ(DecodeFrame(f.key()).size(), 6u);
  RowFrame g;
  for (int i = 0; i < 4; ++i) g.AddPg(std::to_string(i), PgKind::kBigint);
  g.EndKey();
  EXPECT_EQ(HashRow(f).pending, HashRow(g).key);
}

TEST(VerifyMergeTest, OrderDoesNotMatter) {
  std::vector<Row> rows = Rows(5000);
  std::vector<Row> shuffled = rows;
  std::mt19937 rng(42);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  BucketSums a = Sums(rows, 64), b = Sums(shuffled, 64);
  EXPECT_TRUE(DifferingBuckets(a, b).empty());
  EXPECT_EQ(a.rows(), 5000);
}

TEST(VerifyMergeTest, SwappedValuesBetweenKeysAreSeen) {
  std::vector<Row> rows = {{"1", "x", "1"}, {"2", "y", "2"}};
  std::vector<Row> swapped = {{"1", "y", "1"}, {"2", "x", "2"}};
  EXPECT_FALSE(DifferingBuckets(Sums(rows, 1), Sums(swapped, 1)).empty());
}

TEST(VerifyMergeTest, NamesMissingExtraAndDifferentKeys) {
  std::vector<Row> src = Rows(1000);
  std::vector<Row> dst = Rows(1000);
  dst[9].a = "changed";                           // id 10 different
  dst.erase(dst.begin() + 499);                   // id 500 missing in target
  dst.push_back({"1001", "new", "1"});            // id 1001 extra in target
  std::reverse(dst.begin(), dst.end());
  BucketSums s = Sums(src, 256), d = Sums(dst, 256);
  auto differing = DifferingBuckets(s, d);
  ASSERT_EQ(differing.size(), 3u);
  std::vector<Keep> keep(256, Keep::kNothing);
  keep[differing[0]] = Keep::kRows;
  keep[differing[1]] = Keep::kRows;
  keep[differing[2]] = Keep::kHashes;
  NarrowSide ns(&keep), nd(&keep);
  for (const auto& r : src) ns.Add(Frame(r));
  for (const auto& r : dst) nd.Add(Frame(r));
  auto diffs = MergeSides(ns, nd);
  ASSERT_EQ(diffs.size(), 3u);
  int missing = 0, extra = 0, different = 0, shown = 0;
  for (const auto& k : diffs) {
    missing += k.kind == DiffKind::kMissing;
    extra += k.kind == DiffKind::kExtra;
    different += k.kind == DiffKind::kDifferent;
    if (k.source_frame < 0 && k.target_frame < 0) continue;
    ++shown;
    const auto& frame = k.source_frame >= 0 ? ns.frames()[k.source_frame] : nd.frames()[k.target_frame];
    std::string key(DecodeFrame(frame)[0].bytes);
    if (k.kind == DiffKind::kMissing) {
      EXPECT_EQ(key, "500");
    }
    if (k.kind == DiffKind::kExtra) {
      EXPECT_EQ(key, "1001");
    }
    if (k.kind == DiffKind::kDifferent) {
      EXPECT_EQ(key, "10");
      EXPECT_EQ(DecodeFrame(nd.frames()[k.target_frame])[1].bytes, "changed");
    }
  }
  EXPECT_EQ(missing, 1);
  EXPECT_EQ(extra, 1);
  EXPECT_EQ(different, 1);
  EXPECT_EQ(shown, 2);  // the hashes-only bucket is counted, not shown
}

TEST(VerifyMergeTest, RenderComponent) {
  EXPECT_EQ(RenderComponent({Tag::kNull, ""}, PgKind::kText), "NULL");
  EXPECT_EQ(RenderComponent({Tag::kValue, "12.5"}, PgKind::kNumeric), "12.5");
  EXPECT_EQ(RenderComponent({Tag::kValue, "it's\ta\\b\n"}, PgKind::kText), "'it''s\\ta\\\\b\\n'");
  EXPECT_EQ(RenderComponent({Tag::kValue, "\\x0a"}, PgKind::kBytea), "'\\x0a'");
  EXPECT_EQ(RenderComponent({Tag::kValue, std::string(70, 'a')}, PgKind::kText), "'" + std::string(60, 'a') + "...'");
  EXPECT_EQ(RenderComponent({Tag::kError, "boom"}, PgKind::kText), "(cannot be encoded: boom)");
}

}  // namespace
}  // namespace slipway::cutover
