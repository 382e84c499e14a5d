// main() of every integration test binary: registers the PostgreSQL
// environment (one throwaway cluster per run) before the tests.
#include <gtest/gtest.h>

#include "tests/harness/test_env.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new slipway::testing::PgEnvironment());
  return RUN_ALL_TESTS();
}
