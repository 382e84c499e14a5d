// The reverse value codec against a real PostgreSQL: SQLite values written
// as EncodeForPg writes them, read back as the server prints them in a
// slipway session, and DecodeFromPg must give the original value back, same
// bytes and storage class (or the documented other class). Values an app
// could write in PostgreSQL that SQLite's form cannot hold must be errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/pg.h"
#include "replicator/session.h"
#include "schema/codec.h"
#include "schema/reverse_codec.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

using schema::Affinity;
using schema::ColumnMapping;
using schema::OwnedValue;
using schema::PgKind;
using schema::Repr;

OwnedValue I(int64_t i) {
  OwnedValue v;
  v.type = SQLITE_INTEGER;
  v.i = i;
  return v;
}
OwnedValue R(double d) {
  OwnedValue v;
  v.type = SQLITE_FLOAT;
  v.d = d;
  return v;
}
OwnedValue T(std::string s) {
  OwnedValue v;
  v.type = SQLITE_TEXT;
  v.bytes = std::move(s);
  return v;
}
OwnedValue B(std::string s) {
  OwnedValue v;
  v.type = SQLITE_BLOB;
  v.bytes = std::move(s);
  return v;
}

bool SameValue(const OwnedValue& a, const OwnedValue& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case SQLITE_INTEGER: return a.i == b.i;
    case SQLITE_FLOAT: return std::memcmp(&a.d, &b.d, sizeof a.d) == 0;  // -0.0 is not 0.0
    default: return a.bytes == b.bytes;
  }
}

// One value written, and what must come back when it is not the value itself.
struct Sample {
  OwnedValue value;
  std::optional<OwnedValue> back = std::nullopt;
};

struct Case {
  std::string sql_type;
  ColumnMapping col;
  std::vector<Sample> samples;
};

ColumnMapping Col(const std::string& sql_type, Repr repr, std::string format = "", std::string zone = "",
                  Affinity affinity = Affinity::kBlob) {
  ColumnMapping c;
  auto t = schema::PgType::Parse(sql_type);
  EXPECT_TRUE(t.ok()) << sql_type;
  if (t.ok()) c.type = *t;
  c.repr = repr;
  c.format = std::move(format);
  c.zone_offset = std::move(zone);
  c.affinity = affinity;
  return c;
}

std::vector<Case> Cases() {
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  return {
      {"bigint", Col("bigint", Repr::kNative), {{I(0)}, {I(-1)}, {I(kMin)}, {I(kMax)}}},
      {"integer", Col("integer", Repr::kNative), {{I(2147483647)}, {I(-2147483648)}}},
      {"smallint", Col("smallint", Repr::kNative), {{I(-32768)}, {I(32767)}}},
      {"double precision",
       Col("double precision", Repr::kNative, "", "", Affinity::kReal),
       {{R(2.5)}, {R(0.1)}, {R(0.1 + 0.2)}, {R(1e308)}, {R(1.7976931348623157e308)}, {R(5e-324)},
        {R(2.2250738585072014e-308)}, {R(-0.0)}, {R(0.0)}, {R(inf)}, {R(-inf)}, {R(1e16)},
        // An INTEGER in double precision comes back REAL.
        {I(5), R(5.0)}}},
      {"text", Col("text", Repr::kNative), {{T("h\xC3\xA9llo")}, {T("")}, {T("tab\tnl\nback\\slash")}}},
      {"varchar(10)", Col("varchar(10)", Repr::kNative), {{T("abc")}}},
      {"bytea", Col("bytea", Repr::kNative), {{B(std::string("\0\x01\xff", 3))}, {B("")}}},
      {"boolean", Col("boolean", Repr::kBool01, "", "", Affinity::kNumeric), {{I(1)}, {I(0)}}},
      {"date", Col("date", Repr::kDateText, "YYYY-MM-DD"), {{T("2024-02-29")}, {T("0001-01-01")}, {T("9999-12-31")}}},
      {"time", Col("time", Repr::kDateText, "HH:MM:SS"), {{T("23:59:59")}, {T("00:00:00")}}},
      {"time", Col("time", Repr::kDateText, "HH:MM:SS.ffffff"), {{T("03:04:05.500000")}, {T("03:04:05.000001")}}},
      {"timestamp", Col("timestamp", Repr::kDateText, "YYYY-MM-DDTHH:MM:SS"), {{T("2024-01-02T03:04:05")}}},
      {"timestamp", Col("timestamp", Repr::kDateText, "YYYY-MM-DD HH:MM"), {{T("2024-01-02 03:04")}}},
      {"timestamp(3)",
       Col("timestamp(3)", Repr::kDateText, "YYYY-MM-DD HH:MM:SS.fff"),
       {{T("2024-01-02 03:04:05.120")}, {T("2024-01-02 03:04:05.000")}, {T("2024-01-02 03:04:05.123")}}},
      {"timestamptz",
       Col("timestamptz", Repr::kDateText, "YYYY-MM-DDTHH:MM:SSZ", "Z"),
       {{T("2024-01-02T03:04:05Z")}, {T("1999-12-31T23:59:59Z")}}},
      {"timestamptz",
       Col("timestamptz", Repr::kDateText, "YYYY-MM-DD HH:MM:SS.ffffff+HH:MM", "+05:30"),
       {{T("2024-01-01 01:00:00.250000+05:30")}, {T("2024-01-02 08:34:05.000001+05:30")}}},
      {"timestamptz",
       Col("timestamptz", Repr::kDateText, "YYYY-MM-DD HH:MM:SS+HHMM", "-0800"),
       {{T("2023-12-31 20:00:00-0800")}}},
      {"timestamptz",
       Col("timestamptz", Repr::kDateText, "YYYY-MM-DD HH:MM:SS+HH:MM", "+00:00"),
       {{T("2024-01-02 03:04:05+00:00")}}},
      {"timestamptz",
       Col("timestamptz", Repr::kDateText, "YYYY-MM-DD HH:MM:SS"),
       {{T("2024-01-02 03:04:05")}}},
      {"timestamptz",
       Col("timestamptz", Repr::kUnixSeconds, "", "", Affinity::kInteger),
       {{I(0)}, {I(1704164645)}, {I(-1)}, {I(4102444800)}}},
      {"timestamptz(3)",
       Col("timestamptz(3)", Repr::kUnixMillis, "", "", Affinity::kInteger),
       {{I(1704164645123)}, {I(1704164645100)}, {I(-1)}, {I(-1001)}, {I(0)}}},
      {"numeric(10,2)",
       Col("numeric(10,2)", Repr::kNumberAsNumeric, "", "", Affinity::kNumeric),
       {{R(2.5)}, {R(-0.01)}, {I(42)}, {R(12345678.99)}, {R(5.0), I(5)}}},
      {"numeric",
       Col("numeric", Repr::kNumberAsNumeric, "", "", Affinity::kNumeric),
       {{R(0.1)}, {R(0.1 + 0.2)}, {R(1e100)}, {R(5e-324)}, {R(1e308)}, {R(1e20)}, {I(kMax)}, {I(kMin)},
        {R(inf)}, {R(-inf)},
        // numeric has no -0.
        {R(-0.0), I(0)}}},
      {"numeric",
       Col("numeric", Repr::kNumberAsNumeric, "", "", Affinity::kReal),
       {{R(5.0)}, {R(2.5)}, {I(7), R(7.0)}}},
      {"text",
       Col("text", Repr::kAnyAsText, "", "", Affinity::kText),
       {{T("abc")}, {I(12), T("12")}, {R(1.5), T("1.5")}, {R(2.0), T("2.0")}}},
      // An untyped column keeps what it is given: numbers come back numbers.
      {"text",
       Col("text", Repr::kAnyAsText),
       {{T("abc")}, {I(12)}, {R(1.5)}, {R(2.0)}, {T("007")}}},
      {"bytea",
       Col("bytea", Repr::kTextAsBytes, "", "", Affinity::kText),
       {{T(std::string("a\0b\xff", 4))}, {T("\xc3(")}, {T("")}}},
      {"bytea",
       Col("bytea", Repr::kAnyAsBytes),
       {{B(std::string("\0\x01", 2))}, {I(7), B("7")}, {T("hi"), B("hi")}}},
      {"uuid", Col("uuid", Repr::kUuidText, "lower"), {{T("0f8fad5b-d9cb-469f-a165-70867728950e")}}},
      {"uuid", Col("uuid", Repr::kUuidText, "upper"), {{T("0F8FAD5B-D9CB-469F-A165-70867728950E")}}},
      {"jsonb",
       Col("jsonb", Repr::kJsonText),
       {{T("{\"a\": 1, \"b\": [true, null]}")}, {T("[1, 2.5, \"x\"]")}}},
      {"json", Col("json", Repr::kJsonText), {{T("{\"b\":1,  \"a\":2}")}}},
  };
}

class ReverseCodecTest : public TargetTest {
 protected:
  PgConn Connect() {
    auto conn = PgConn::Connect(target_);
    EXPECT_TRUE(conn.ok()) << conn.status().message();
    if (!conn.ok()) return PgConn();
    Status s = replicator::SetupSession(*conn, replicator::SessionRole::kReader);
    EXPECT_TRUE(s.ok()) << s.message();
    return std::move(*conn);
  }
};

TEST_F(ReverseCodecTest, EveryRepresentationRoundTrips) {
  const std::vector<Case> cases = Cases();
  PgConn conn = Connect();
  ASSERT_NE(conn.get(), nullptr);
  std::string ddl = "CREATE TABLE rt (id integer PRIMARY KEY";
  std::string insert = "INSERT INTO rt VALUES ($1";
  size_t rows = 0;
  for (size_t c = 0; c < cases.size(); ++c) {
    ddl += ", c" + std::to_string(c) + " " + cases[c].sql_type;
    insert += ", $" + std::to_string(c + 2);
    rows = std::max(rows, cases[c].samples.size());
  }
  ASSERT_TRUE(conn.Run(ddl + ")").ok());
  insert += ")";
  for (size_t r = 0; r < rows; ++r) {
    std::vector<PgParam> params = {std::to_string(r)};
    for (const Case& c : cases) {
      if (r >= c.samples.size()) {
        params.push_back(std::nullopt);
        continue;
      }
      std::string text;
      Status s = schema::EncodeForPg(c.samples[r].value.view(), c.col, &text);
      ASSERT_TRUE(s.ok()) << c.sql_type << " " << c.col.format << ": " << s.message();
      params.push_back(std::move(text));
    }
    auto res = conn.ExecParams(insert, params);
    ASSERT_TRUE(res.ok()) << "row " << r << ": " << res.status().message();
  }

  auto res = conn.Exec("SELECT * FROM rt ORDER BY id");
  ASSERT_TRUE(res.ok()) << res.status().message();
  ASSERT_EQ(static_cast<size_t>(res->Rows()), rows);
  size_t checked = 0;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cases.size(); ++c) {
      const Case& k = cases[c];
      const int row = static_cast<int>(r), col = static_cast<int>(c) + 1;
      if (r >= k.samples.size()) {
        EXPECT_TRUE(res->IsNull(row, col));
        continue;
      }
      const Sample& s = k.samples[r];
      const OwnedValue& want = s.back.has_value() ? *s.back : s.value;
      const std::string_view printed = res->Get(row, col);
      OwnedValue got;
      Status st = schema::DecodeFromPg(printed, k.col, &got);
      ASSERT_TRUE(st.ok()) << k.sql_type << " " << k.col.format << " printed '" << printed << "': " << st.message();
      EXPECT_TRUE(SameValue(got, want)) << k.sql_type << " " << schema::ReprName(k.col.repr) << " " << k.col.format
                                        << ": wrote " << schema::DescribeValue(s.value.view()) << ", printed '"
                                        << printed << "', decoded " << schema::DescribeValue(got.view())
                                        << " (class " << got.type << "), want "
                                        << schema::DescribeValue(want.view()) << " (class " << want.type << ")";
      ++checked;
    }
  }
  EXPECT_GT(checked, 80u);
}

// Values an app writes in PostgreSQL after the cutover: those SQLite's form
// holds come back in it; the others are errors, never changed values.
TEST_F(ReverseCodecTest, AppWrittenValues) {
  PgConn conn = Connect();
  ASSERT_NE(conn.get(), nullptr);
  struct AppValue {
    std::string sql_type;
    ColumnMapping col;
    std::string literal;               // as the app writes it
    std::optional<OwnedValue> back;    // nullopt: must be an error
  };
  const std::vector<AppValue> values = {
      {"timestamptz", Col("timestamptz", Repr::kDateText, "YYYY-MM-DD HH:MM:SS+HH:MM", "+05:30"),
       "2024-06-01 12:00:00+02", T("2024-06-01 15:30:00+05:30")},
      {"timestamptz", Col("timestamptz", Repr::kDateText, "YYYY-MM-DD HH:MM:SS+HH:MM", "+05:30"),
       "2024-06-01 12:00:00.5+02", std::nullopt},
      {"timestamp", Col("timestamp", Repr::kDateText, "YYYY-MM-DD HH:MM:SS"), "2024-06-01 12:00:00.25", std::nullopt},
      {"timestamp", Col("timestamp", Repr::kDateText, "YYYY-MM-DD"), "2024-06-01 12:00:00", std::nullopt},
      {"timestamp", Col("timestamp", Repr::kDateText, "YYYY-MM-DD HH:MM:SS"), "infinity", std::nullopt},
      {"timestamp", Col("timestamp", Repr::kDateText, "YYYY-MM-DD HH:MM:SS"), "12000-01-01 00:00:00", std::nullopt},
      {"date", Col("date", Repr::kDateText, "YYYY-MM-DD"), "0044-03-15 BC", std::nullopt},
      {"time", Col("time", Repr::kDateText, "HH:MM:SS"), "24:00:00", std::nullopt},
      {"timestamptz", Col("timestamptz", Repr::kUnixSeconds, "", "", Affinity::kInteger),
       "2024-01-02 03:04:05.5+00", std::nullopt},
      {"timestamptz", Col("timestamptz", Repr::kUnixSeconds, "", "", Affinity::kInteger),
       "2024-01-02 05:04:05+02", I(1704164645)},
      {"timestamptz", Col("timestamptz", Repr::kUnixMillis, "", "", Affinity::kInteger),
       "2024-01-02 03:04:05.1234+00", std::nullopt},
      {"double precision", Col("double precision", Repr::kNative, "", "", Affinity::kReal), "NaN", std::nullopt},
      {"numeric", Col("numeric", Repr::kNumberAsNumeric, "", "", Affinity::kNumeric), "0.1000000000000000000001",
       std::nullopt},
      {"numeric", Col("numeric", Repr::kNumberAsNumeric, "", "", Affinity::kNumeric), "NaN", std::nullopt},
      {"numeric", Col("numeric", Repr::kNumberAsNumeric, "", "", Affinity::kNumeric), "3.000", I(3)},
      {"numeric(10,2)", Col("numeric(10,2)", Repr::kNumberAsNumeric, "", "", Affinity::kNumeric), "19.9", R(19.9)},
      {"uuid", Col("uuid", Repr::kUuidText, "upper"), "{0f8fad5b-d9cb-469f-a165-70867728950e}",
       T("0F8FAD5B-D9CB-469F-A165-70867728950E")},
      {"boolean", Col("boolean", Repr::kBool01, "", "", Affinity::kNumeric), "yes", I(1)},
  };
  for (const AppValue& a : values) {
    auto res = conn.ExecParams("SELECT $1::" + a.sql_type, {a.literal});
    ASSERT_TRUE(res.ok()) << a.literal << ": " << res.status().message();
    const std::string printed = res->Str(0, 0);
    OwnedValue got;
    Status st = schema::DecodeFromPg(printed, a.col, &got);
    if (!a.back.has_value()) {
      EXPECT_FALSE(st.ok()) << a.literal << " printed '" << printed << "' decoded "
                            << schema::DescribeValue(got.view());
      EXPECT_NE(st.message().find("value '"), std::string::npos) << st.message();
      continue;
    }
    ASSERT_TRUE(st.ok()) << a.literal << " printed '" << printed << "': " << st.message();
    EXPECT_TRUE(SameValue(got, *a.back)) << a.literal << " printed '" << printed << "' decoded "
                                         << schema::DescribeValue(got.view());
  }
}

}  // namespace
}  // namespace slipway::testing
