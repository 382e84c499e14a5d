// `slipway status` while a long step runs: the snapshot (overall and per
// table) and a verify write their progress to the target about once a
// second, and `status --json` shows rows done of the total, the rate and the
// time left; the plain report shows one line per step.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

using nlohmann::json;

class StepProgressTest : public TargetTest {
 protected:
  // The progress of `step` in `slipway status --json`, or null when absent.
  json StatusOf(const std::string& db, const std::string& step) {
    RunResult r = RunSlipway({"status", "--source", db, "--target", target_, "--json"});
    json j = json::parse(r.out, nullptr, false);
    if (!j.is_object() || !j.contains("progress") || !j["progress"].contains(step)) return nullptr;
    return j["progress"][step];
  }

  // Figures every progress record holds, overall or per table.
  static void ExpectSane(const json& p, const std::string& what) {
    SCOPED_TRACE(what + ": " + p.dump());
    ASSERT_TRUE(p["rows_done"].is_number_integer());
    ASSERT_TRUE(p["rows_total"].is_number_integer());
    ASSERT_TRUE(p["rate"].is_number());
    EXPECT_GE(p["rows_done"].get<int64_t>(), 0);
    EXPECT_LE(p["rows_done"].get<int64_t>(), p["rows_total"].get<int64_t>());
    EXPECT_GE(p["rate"].get<double>(), 0.0);
    ASSERT_TRUE(p.contains("eta_seconds"));
    if (!p["eta_seconds"].is_null()) {
      EXPECT_GE(p["eta_seconds"].get<double>(), 0.0);
    }
  }
};

TEST_F(StepProgressTest, StatusShowsARunningSnapshotAndVerifyMoving) {
  const std::string db = dir_ + "/rt.db";
  RunResult g = RunProgram(SLIPWAY_GEN_RACETIMING, {"--out", db, "--rows", "200000", "--seed", "3"});
  ASSERT_EQ(g.exit_code, 0) << g.err;

  // One worker, resting four times as long as it works, in small chunks:
  // a copy of a few seconds whatever the machine.
  const int pid = StartProgram(SLIPWAY_BINARY,
                               {"snapshot", "--source", db, "--target", target_, "--jobs", "1", "--chunk-rows", "5000",
                                "--max-cpu", "20"},
                               dir_);
  std::vector<json> running;
  json last;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < until) {
    json p = StatusOf(db, "snapshot");
    if (p.is_object()) {
      last = p;
      if (p["state"] != "running") break;
      running.push_back(p);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  ASSERT_EQ(WaitProgram(pid), 0);
  ASSERT_GE(running.size(), 3u) << "the snapshot was not seen running long enough: " << last.dump();

  int64_t previous = -1;
  int64_t total = 0;
  bool moved = false, midway = false;
  for (const auto& p : running) {
    ASSERT_NO_FATAL_FAILURE(ExpectSane(p, "overall"));
    const int64_t done = p["rows_done"].get<int64_t>();
    EXPECT_GE(done, previous) << "rows done went back";
    if (previous >= 0 && done > previous) moved = true;
    previous = done;
    total = p["rows_total"].get<int64_t>();
    if (done > 0 && done < total) {
      midway = true;
      EXPECT_GT(p["rate"].get<double>(), 0.0) << p.dump();
      EXPECT_TRUE(p["eta_seconds"].is_number()) << p.dump();
    }
    ASSERT_TRUE(p["tables"].is_array());
    for (const auto& t : p["tables"]) {
      ASSERT_NO_FATAL_FAILURE(ExpectSane(t, t.value("table", "?")));
      if (t["state"] == "copying" && t["rows_done"].get<int64_t>() > 0) {
        EXPECT_GT(t["rate"].get<double>(), 0.0);
      }
    }
    EXPECT_GT(p["pid"].get<int64_t>(), 0);
  }
  EXPECT_TRUE(moved) << "rows done never moved";
  EXPECT_TRUE(midway) << "never seen between the start and the end";
  EXPECT_GE(total, 200000);

  // Once finished: done, every row in.
  json done = StatusOf(db, "snapshot");
  ASSERT_TRUE(done.is_object());
  EXPECT_EQ(done["state"], "done") << done.dump();
  EXPECT_EQ(done["rows_done"], done["rows_total"]) << done.dump();
  EXPECT_EQ(done["eta_seconds"], 0.0) << done.dump();

  // A verify writes its progress too, and the plain report has a line per step.
  RunResult v = RunSlipway({"verify", "--source", db, "--target", target_});
  ASSERT_EQ(v.exit_code, 0) << v.out << v.err;
  json vp = StatusOf(db, "verify");
  ASSERT_TRUE(vp.is_object());
  ASSERT_NO_FATAL_FAILURE(ExpectSane(vp, "verify"));
  EXPECT_EQ(vp["state"], "done") << vp.dump();
  EXPECT_EQ(vp["rows_done"], vp["rows_total"]) << vp.dump();
  EXPECT_GT(vp["rate"].get<double>(), 0.0) << vp.dump();
  EXPECT_EQ(vp["tables_done"], vp["tables_total"]) << vp.dump();

  RunResult plain = RunSlipway({"status", "--source", db, "--target", target_});
  EXPECT_NE(plain.out.find("\nsnapshot    done, "), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("\nverify      done, "), std::string::npos) << plain.out;
}

}  // namespace
}  // namespace slipway::testing
