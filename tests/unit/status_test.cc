#include <gtest/gtest.h>

#include "common/exit_codes.h"
#include "common/redact.h"
#include "common/status.h"

namespace slipway {
namespace {

TEST(Status, AnnotateKeepsCode) {
  Status s(Code::kNotFound, "x");
  Status a = s.Annotate("table t");
  EXPECT_EQ(a.code(), Code::kNotFound);
  EXPECT_EQ(a.message(), "table t: x");
  EXPECT_TRUE(Status::Ok().Annotate("c").ok());
}

TEST(ExitCodes, DistinctPerFailureKind) {
  EXPECT_NE(ExitCodeFor(Code::kNotFound), ExitCodeFor(Code::kNotSqlite));
  EXPECT_NE(ExitCodeFor(Code::kUnreachable), ExitCodeFor(Code::kAuthFailed));
  EXPECT_NE(ExitCodeFor(Code::kBlocked), ExitCodeFor(Code::kInvalidArgument));
  EXPECT_EQ(ExitCodeFor(Code::kOk), 0);
}

TEST(Redact, UriPassword) {
  EXPECT_EQ(RedactConninfo("postgresql://bob:s3cret@db.example/app"), "postgresql://bob:***@db.example/app");
  EXPECT_EQ(RedactConninfo("postgresql://h/app?user=bob&password=s3cret&sslmode=require"),
            "postgresql://h/app?user=bob&password=***&sslmode=require");
  EXPECT_EQ(RedactConninfo("postgresql://bob@h/app"), "postgresql://bob@h/app");
}

TEST(Redact, KeyValuePassword) {
  EXPECT_EQ(RedactConninfo("host=h password=s3cret user=bob"), "host=h password=*** user=bob");
  EXPECT_EQ(RedactConninfo("host=h password = 'a b\\' c' user=bob"), "host=h password = *** user=bob");
}

TEST(Redact, TextContainingPassword) {
  std::string ci = "postgresql://bob:s3cret@h/app";
  EXPECT_EQ(Redact("failed for s3cret at postgresql://bob:s3cret@h/app", ci),
            "failed for *** at postgresql://bob:***@h/app");
}

TEST(Redact, ScrubArgvInPlace) {
  char a0[] = "slipway";
  char a1[] = "--target=postgresql://bob:s3cret@h/app";
  char a2[] = "host=h password=pw2";
  char* argv[] = {a0, a1, a2};
  ScrubArgv(3, argv);
  EXPECT_EQ(std::string(a1), "--target=postgresql://bob:******@h/app");
  EXPECT_EQ(std::string(a2), "host=h password=***");
}

}  // namespace
}  // namespace slipway
