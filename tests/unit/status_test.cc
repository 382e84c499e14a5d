#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/exit_codes.h"
#include "common/pg.h"
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

// Each cause the operator must tell apart has its own code.
TEST(ExitCodes, PermissionLockAndCaptureHaveTheirOwn) {
  EXPECT_EQ(ExitCodeFor(Code::kPermissionDenied), 12);
  EXPECT_EQ(ExitCodeFor(Code::kSourceBusy), 13);
  EXPECT_EQ(ExitCodeFor(Code::kNoCapture), 14);
  EXPECT_NE(ExitCodeFor(Code::kSourceBusy), ExitCodeFor(Code::kUnreachable));
  EXPECT_NE(ExitCodeFor(Code::kNoCapture), ExitCodeFor(Code::kNotFound));
  EXPECT_NE(ExitCodeFor(Code::kPermissionDenied), ExitCodeFor(Code::kInternal));
  EXPECT_TRUE(IsRetryable(Code::kSourceBusy));
  EXPECT_TRUE(IsRetryable(Code::kRetryable));
  EXPECT_FALSE(IsRetryable(Code::kPermissionDenied));
}

// The README's table lists every exit code the program can return.
TEST(ExitCodes, ReadmeListsEveryCode) {
  std::ifstream in(std::string(SLIPWAY_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in) << "README.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string readme = ss.str();
  for (Code c : {Code::kOk, Code::kInvalidArgument, Code::kNotFound, Code::kNotSqlite, Code::kCorrupt,
                 Code::kUnreachable, Code::kAuthFailed, Code::kBlocked, Code::kConflict, Code::kSchemaChanged,
                 Code::kMismatch, Code::kWrongSource, Code::kRetryable, Code::kPermissionDenied, Code::kSourceBusy,
                 Code::kNoCapture, Code::kIo, Code::kInternal}) {
    const std::string row = "\n| " + std::to_string(ExitCodeFor(c)) + " |";
    EXPECT_NE(readme.find(row), std::string::npos) << "exit code " << ExitCodeFor(c) << " (" << CodeName(c)
                                                   << ") is not in the README's table";
  }
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
  EXPECT_EQ(std::string(argv[1]), "--target=postgresql://bob:***@h/app");
  EXPECT_EQ(std::string(argv[2]), "host=h password=***");
}

// Lays the arguments out back to back, as the kernel does, and returns what
// /proc/PID/cmdline would show of them (NULs as spaces, trailing ones cut).
std::string ScrubbedCmdline(std::vector<std::string> args) {
  std::string area;
  for (const auto& a : args) area += a + '\0';
  std::vector<char*> argv;
  for (size_t off = 0; off < area.size(); off += std::strlen(area.data() + off) + 1) argv.push_back(area.data() + off);
  ScrubArgv(static_cast<int>(argv.size()), argv.data());
  for (char& c : area) {
    if (c == '\0') c = ' ';
  }
  while (!area.empty() && area.back() == ' ') area.pop_back();
  return area;
}

TEST(Redact, ScrubArgvMaskHidesThePasswordLength) {
  std::string long_pw = ScrubbedCmdline({"slipway", "status", "--target", "postgresql://bob:a-very-long-secret-42@h/app",
                                         "--source", "app.db"});
  std::string short_pw = ScrubbedCmdline({"slipway", "status", "--target", "postgresql://bob:pw42@h/app",
                                          "--source", "app.db"});
  EXPECT_EQ(long_pw, "slipway status --target postgresql://bob:***@h/app --source app.db");
  EXPECT_EQ(short_pw, long_pw);
  EXPECT_EQ(ScrubbedCmdline({"slipway", "--target=host=h password=abcdefgh user=u", "--json"}),
            "slipway --target=host=h password=*** user=u --json");
  EXPECT_EQ(ScrubbedCmdline({"slipway", "plan", "--source", "a.db"}), "slipway plan --source a.db");
}

TEST(Redact, UnencodedAtInPasswordIsRefusedAndNeverEchoed) {
  const std::string uri = "postgresql://postgres:Se@kr1t@127.0.0.1:5432/app";
  Status s = CheckUriUserinfo(uri);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("%40"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("kr1t"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("Se@"), std::string::npos) << s.message();
  EXPECT_FALSE(CheckUriUserinfo("postgresql://u:pa/ss@h/app").ok());
  EXPECT_TRUE(CheckUriUserinfo("postgresql://u:Se%40kr1t@h/app").ok());
  EXPECT_TRUE(CheckUriUserinfo("postgresql://h/app?user=u&password=p@ss").ok());
  EXPECT_TRUE(CheckUriUserinfo("host=h password=Se@kr1t").ok());
  // What libpq says about such a URI keeps no piece of the password.
  std::string echoed = Redact("could not translate host name \"kr1t@127.0.0.1\" to address: Name or service not known",
                              uri);
  EXPECT_EQ(echoed.find("kr1t"), std::string::npos) << echoed;
  EXPECT_EQ(Redact("password Se@kr1t rejected", uri).find("kr1t"), std::string::npos);
}

// The connection is refused before libpq sees the URI: no server is needed.
TEST(Redact, ConnectRefusesUnencodedAtBeforeConnecting) {
  auto c = PgConn::Connect("postgresql://postgres:Se@kr1t@127.0.0.1:1/app");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c.status().message().find("kr1t"), std::string::npos) << c.status().message();
  EXPECT_EQ(ExitCodeFor(c.status().code()), 2);
}

}  // namespace

// libpq tries each address a host name resolves to and reports each attempt
// on its own lines: one line for the operator.
TEST(SummarizeConnectError, OneLineForEveryAddressTried) {
  const std::string same =
      "connection to server at \"localhost\" (::1), port 5999 failed: Connection refused\n"
      "\tIs the server running on that host and accepting TCP/IP connections?\n"
      "connection to server at \"localhost\" (127.0.0.1), port 5999 failed: Connection refused\n"
      "\tIs the server running on that host and accepting TCP/IP connections?\n";
  EXPECT_EQ(SummarizeConnectError(same),
            "connection to server at \"localhost\" (::1), port 5999 failed: Connection refused Is the server running "
            "on that host and accepting TCP/IP connections? (and 1 more address tried, same way)");
  const std::string different =
      "connection to server at \"db\" (10.0.0.1), port 5432 failed: timeout expired\n"
      "connection to server at \"db\" (10.0.0.2), port 5432 failed: Connection refused\n";
  const std::string one = SummarizeConnectError(different);
  EXPECT_EQ(one.find('\n'), std::string::npos);
  EXPECT_EQ(one.find('\t'), std::string::npos);
  EXPECT_NE(one.find("10.0.0.1"), std::string::npos) << one;
  EXPECT_NE(one.find("last: connection to server at \"db\" (10.0.0.2), port 5432 failed: Connection refused"),
            std::string::npos)
      << one;
  EXPECT_EQ(SummarizeConnectError("FATAL:  database \"x\" does not exist\n"), "FATAL:  database \"x\" does not exist");
}
}  // namespace slipway
