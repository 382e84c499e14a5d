// The freeze costs what changed, not what exists: with every plan the server
// runs logged (auto_explain), no statement that ends inside the freeze of a
// cutover or of a rollback reads a whole replicated table. Its own binary:
// the logging settings are the cluster's.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "common/pg.h"
#include "common/sqlite.h"
#include "tests/harness/sqlite_fixture.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

constexpr int kRows = 30000;

// One logged message: its time (epoch ms) and text, continuation lines
// included.
struct LogEntry {
  double at_ms = 0;
  std::string text;
};

std::vector<LogEntry> ReadServerLog(const std::string& path) {
  std::ifstream in(path);
  std::vector<LogEntry> out;
  std::string line;
  static const std::regex start(R"(^(\d+\.\d+) \[\d+\] )");
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, start)) {
      out.push_back({std::stod(m[1].str()) * 1000.0, line});
    } else if (!out.empty()) {
      out.back().text += "\n" + line;
    }
  }
  return out;
}

// The plans logged between `from` and `to` (epoch ms) that mention a table.
std::vector<std::string> PlansBetween(const std::vector<LogEntry>& log, double from, double to) {
  std::vector<std::string> out;
  for (const auto& e : log) {
    if (e.at_ms >= from && e.at_ms <= to && e.text.find("plan:") != std::string::npos) out.push_back(e.text);
  }
  return out;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class FreezeScanTest : public TargetTest {
 protected:
  void SetUp() override {
    TargetTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // Every statement's plan, nested ones included, with a millisecond
    // epoch on each line.
    auto admin = PgConn::Connect(PgEnvironment::cluster()->AdminUri());
    ASSERT_TRUE(admin.ok());
    const std::string dbname = target_.substr(target_.find(":///") + 4, target_.find('?') - target_.find(":///") - 4);
    for (const char* sql : {"ALTER SYSTEM SET log_line_prefix = '%n [%p] '", "SELECT pg_reload_conf()"}) {
      ASSERT_TRUE(admin->Run(sql).ok()) << sql;
    }
    for (const std::string setting : {"session_preload_libraries = 'auto_explain'",
                                      "auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on"}) {
      Status s = admin->Run("ALTER DATABASE " + QuotePgIdent(dbname) + " SET " + setting);
      ASSERT_TRUE(s.ok()) << setting << ": " << s.message();
    }
    std::string sql =
        "PRAGMA journal_mode=WAL;\n"
        "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT NOT NULL);\n"
        "CREATE TABLE pairs (a TEXT NOT NULL, b INTEGER NOT NULL, v TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;\n"
        "CREATE TABLE loose (x TEXT, y INTEGER);\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
        std::to_string(kRows) +
        ")\n"
        "  INSERT INTO big SELECT i, 'v' || i FROM n;\n"
        "INSERT INTO pairs SELECT 'k' || (id % 100), id, v FROM big;\n"
        "INSERT INTO loose SELECT v, id FROM big;\n";
    db_ = MakeSqlite(dir_, "app.db", sql);
    RunResult s = RunSlipway({"snapshot", "--source", db_, "--target", target_});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    env_ = dir_ + "/app.env";
    std::ofstream(env_) << "DATABASE_URL=sqlite://" << db_ << "\n";
  }

  void SqliteWrites(int round) {
    auto d = Db::Open(db_, Db::Mode::kReadWrite);
    ASSERT_TRUE(d.ok());
    const std::string r = std::to_string(round);
    for (const std::string& sql :
         {"UPDATE big SET v = 'w" + r + "' WHERE id IN (7, 70, 700)", "DELETE FROM big WHERE id = " + std::to_string(100 + round),
          "INSERT INTO big (v) VALUES ('new" + r + "')", "UPDATE pairs SET v = 'w" + r + "' WHERE a = 'k7' AND b = 7",
          "UPDATE loose SET x = 'w" + r + "' WHERE rowid = 9", "INSERT INTO loose VALUES ('n', " + r + ")"}) {
      Status st = d->Exec(sql);
      ASSERT_TRUE(st.ok()) << sql << ": " << st.message();
    }
  }

  void PgWrites(int round) {
    auto c = PgConn::Connect(target_);
    ASSERT_TRUE(c.ok());
    const std::string r = std::to_string(round);
    for (const std::string& sql :
         {"UPDATE big SET v = 'p" + r + "' WHERE id IN (8, 80, 800)", "DELETE FROM big WHERE id = " + std::to_string(200 + round),
          "INSERT INTO big (v) VALUES ('pnew" + r + "')", "UPDATE pairs SET v = 'p" + r + "' WHERE a = 'k8' AND b = 8",
          "INSERT INTO pairs VALUES ('z', " + r + ", 'p')"}) {
      Status st = c->Run(sql);
      ASSERT_TRUE(st.ok()) << sql << ": " << st.message();
    }
  }

  // Runs the move postponed, writes while it waits (after its full verify),
  // releases it, and returns its JSON report.
  nlohmann::json MoveWithWritesAfterTheVerify(const std::string& command, const std::function<void(int)>& writes) {
    const std::string flag = dir_ + "/hold-" + command;
    const std::string out = dir_ + "/" + command;
    std::filesystem::create_directories(out);
    const int pid = StartProgram(SLIPWAY_BINARY,
                                 {command, "--source", db_, "--target", target_, "--flip-file", env_, "--flip-key",
                                  "DATABASE_URL", "--postpone", "--postpone-file", flag, "--json"},
                                 out);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!std::filesystem::exists(flag) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(std::filesystem::exists(flag)) << command << " did not reach its postponed wait";
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    writes(1);
    writes(2);
    std::filesystem::remove(flag);
    EXPECT_EQ(WaitProgram(pid), 0) << command;
    for (const auto& f : std::filesystem::directory_iterator(out)) {
      if (f.path().extension() == ".out") {
        auto j = nlohmann::json::parse(ReadText(f.path().string()), nullptr, false);
        if (!j.is_discarded()) return j;
      }
    }
    ADD_FAILURE() << command << " printed no JSON report";
    return {};
  }

  // The plans logged inside the report's freeze: none reads a whole
  // replicated table, and some touch them or, when the keys were compared
  // before the freeze, some are there at all (the log is really read).
  void ExpectNoFullScanInFreeze(const nlohmann::json& report, const std::string& what) {
    const double from = report.value("freeze_started_at_ms", 0.0);
    const double to = report.value("freeze_ended_at_ms", 0.0);
    ASSERT_GT(from, 0) << report.dump();
    ASSERT_GE(to, from) << report.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the logger writes behind
    const auto plans = PlansBetween(ReadServerLog(PgEnvironment::cluster()->dir() + "/server.log"), from, to);
    static const std::regex full_scan(R"re(Seq Scan on (\w+\.)?"?(big|pairs|loose)"?\b)re");
    static const std::regex touches(R"(\b(big|pairs|loose)\b)");
    int touching = 0;
    for (const auto& p : plans) {
      EXPECT_FALSE(std::regex_search(p, full_scan)) << what << ": a whole table read inside the freeze:\n" << p;
      touching += std::regex_search(p, touches) ? 1 : 0;
    }
    // The cutover and the rollback compare the keys touched so far before
    // each freeze attempt: when the app wrote nothing after that, the freeze
    // has no key to compare, and the plans logged in it (the drain's, the
    // fence's) show that the log is read.
    bool verified_before = false;
    for (const auto& note : report.value("notes", nlohmann::json::array())) {
      verified_before = verified_before || note.get<std::string>().find(" verified before the freeze in ") != std::string::npos;
    }
    if (verified_before) {
      EXPECT_GT(plans.size(), 0u) << what << ": no plan logged inside the freeze";
    } else {
      EXPECT_GT(touching, 0) << what << ": no plan inside the freeze names a replicated table (" << plans.size()
                             << " plans logged in it)";
    }
  }

  std::string db_, env_;
};

TEST_F(FreezeScanTest, CutoverAndRollbackReadOnlyTouchedKeysInTheFreeze) {
  SqliteWrites(0);
  nlohmann::json cut = MoveWithWritesAfterTheVerify("cutover", [this](int r) { SqliteWrites(r); });
  ASSERT_EQ(cut.value("outcome", ""), "cut over") << cut.dump();
  ExpectNoFullScanInFreeze(cut, "cutover");

  PgWrites(0);
  nlohmann::json back = MoveWithWritesAfterTheVerify("rollback", [this](int r) { PgWrites(r); });
  ASSERT_EQ(back.value("outcome", ""), "rolled back") << back.dump();
  ExpectNoFullScanInFreeze(back, "rollback");

  RunResult v = RunSlipway({"verify", "--source", db_, "--target", target_});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace
}  // namespace slipway::testing
