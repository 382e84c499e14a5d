#pragma once
// The shared test environment of an integration binary: one PgCluster for the
// whole run, a fresh database per test, and helpers to run the slipway binary.
// When the cluster cannot start, tests fail if CI=true (or
// SLIPWAY_REQUIRE_PG=1), and are skipped otherwise.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/harness/pg_cluster.h"

namespace slipway::testing {

class PgEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
  static PgCluster* cluster();
  static const std::string& start_error();
};

// Requires the cluster in a test body: fails or skips as above.
#define REQUIRE_PG()                                                              \
  do {                                                                            \
    if (::slipway::testing::PgEnvironment::cluster() == nullptr) {                \
      if (::slipway::testing::PgRequired()) {                                     \
        FAIL() << "PostgreSQL is required but did not start: "                    \
               << ::slipway::testing::PgEnvironment::start_error();               \
      }                                                                           \
      GTEST_SKIP() << "PostgreSQL not available: "                                \
                   << ::slipway::testing::PgEnvironment::start_error();           \
    }                                                                             \
  } while (0)

bool PgRequired();

// Creates a fresh database for the running test; fails the test on error.
std::string FreshDatabase();

// Result of running the slipway binary.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs build/slipway with the arguments; stdin is /dev/null.
RunResult RunSlipway(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// Runs any program to completion (stdin /dev/null); output captured.
RunResult RunProgram(const std::string& bin, const std::vector<std::string>& args,
                     const std::vector<std::string>& env = {});

// Starts a program in the background with stdout/stderr to files in `dir`;
// returns its pid. WaitProgram() collects its exit code (128+signal if killed).
int StartProgram(const std::string& bin, const std::vector<std::string>& args, const std::string& dir,
                 const std::vector<std::string>& env = {});
int WaitProgram(int pid);
// SIGKILLs every program StartProgram() started that was not waited for (run
// when the binary's tests end, so a failed test leaves no writer behind).
void KillStartedPrograms();

// A fresh temp folder for the running test, removed at exit.
std::string TempDir();

// A test with its own temporary folder and a fresh target database.
class TargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_PG();
    dir_ = TempDir();
    target_ = FreshDatabase();
  }
  std::string dir_;
  std::string target_;
};

}  // namespace slipway::testing
