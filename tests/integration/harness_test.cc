#include <gtest/gtest.h>

#include "common/pg.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

TEST(Harness, FreshDatabasePerTestIsEmpty) {
  REQUIRE_PG();
  std::string uri = FreshDatabase();
  auto conn = PgConn::Connect(uri);
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  auto r = conn->Exec("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->Str(0, 0), "0");
  auto fsync = conn->Exec("SHOW fsync");
  ASSERT_TRUE(fsync.ok());
  EXPECT_EQ(fsync->Str(0, 0), "on");
}

TEST(Harness, WrongPasswordIsAuthFailure) {
  REQUIRE_PG();
  auto* c = PgEnvironment::cluster();
  auto bad = PgConn::Connect(c->UriFor("postgres", "slipway_pw") + "&password=wrong-one");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kAuthFailed);
  EXPECT_EQ(bad.status().message().find("wrong-one"), std::string::npos) << bad.status().message();
  auto good = PgConn::Connect(c->UriFor("postgres", "slipway_pw") + "&password=correct-horse");
  EXPECT_TRUE(good.ok()) << good.status().message();
}

}  // namespace
}  // namespace slipway::testing
