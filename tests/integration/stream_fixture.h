#pragma once
// What the stream's end-to-end tests share: a background process with its
// own output folder (Proc), and the fixture that makes a source with the
// change writer, snapshots it into a fresh target, runs the stream and checks
// the end state (caught up, verify equal, exactly once).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "common/pg.h"
#include "common/sqlite.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr int kKilled = 128 + SIGKILL;
constexpr int kSchemaChangedExit = 9;

inline void Sleep(int ms) { std::this_thread::sleep_for(milliseconds(ms)); }

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A background process started in a folder of its own, so its output files
// (StartProgram names them dir/procN.{out,err}) can be found again.
class Proc {
 public:
  Proc(const std::string& bin, const std::vector<std::string>& args, const std::vector<std::string>& env = {})
      : dir_(TempDir()) {
    pid_ = StartProgram(bin, args, dir_, env);
  }
  ~Proc() {
    if (!exited_) {
      ::kill(pid_, SIGKILL);
      Wait(10000);
    }
  }
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  int pid() const { return pid_; }
  // True while the process runs; reaps it once it has ended.
  bool Running() {
    if (exited_) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == 0) return true;
    Record(st);
    return false;
  }
  void Signal(int sig) {
    if (!exited_) ::kill(pid_, sig);
  }
  // Exit code (128+signal when killed); -1 and SIGKILL after the timeout.
  int Wait(int timeout_ms) {
    const auto until = std::chrono::steady_clock::now() + milliseconds(timeout_ms);
    while (Running()) {
      if (std::chrono::steady_clock::now() >= until) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        exited_ = true;
        code_ = -1;
        break;
      }
      Sleep(20);
    }
    return code_;
  }
  std::string Out() const { return Find(".out"); }
  std::string Err() const { return Find(".err"); }

 private:
  void Record(int st) {
    exited_ = true;
    code_ = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
  }
  std::string Find(const std::string& ext) const {
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      if (e.path().extension() == ext) return ReadFile(e.path());
    }
    return "";
  }
  std::string dir_;
  int pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
};

// key=value pairs of the writer's summary line ("change_writer: ...").
inline std::map<std::string, std::string> WriterSummary(const std::string& out) {
  std::map<std::string, std::string> m;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("change_writer:", 0) != 0 && line.rfind("change_writer ops:", 0) != 0) continue;
    static const std::regex kv("([a-z_]+)=([^ ]+)");
    for (std::sregex_iterator it(line.begin(), line.end(), kv), end; it != end; ++it) m[(*it)[1]] = (*it)[2];
  }
  return m;
}

inline std::vector<std::string> ColumnOf(const PgResult& r, int col) {
  std::vector<std::string> out;
  for (int i = 0; i < r.Rows(); ++i) out.push_back(r.IsNull(i, col) ? "<null>" : r.Str(i, col));
  return out;
}

// The port a program started with --http 127.0.0.1:0 bound, from its log;
// 0 when it did not say within 10 s (or exited first).
inline uint16_t HttpPortOf(Proc& p) {
  static const std::regex kListening("http listening addr=127\\.0\\.0\\.1:([0-9]+)");
  for (int i = 0; i < 100; ++i) {
    std::smatch m;
    const std::string err = p.Err();
    if (std::regex_search(err, m, kListening)) return static_cast<uint16_t>(std::stoi(m[1]));
    if (!p.Running()) break;
    Sleep(100);
  }
  return 0;
}

// app_writer's --ack-log (bench/app_writer.cc: op, id, laps after): every
// acknowledged write is in the target's `results`, the last laps of each id
// that was not deleted, no row of an id whose last write was a delete; more
// than `min_ids` ids checked.
inline void ExpectAcknowledgedResultsIn(const std::string& ack_log, const std::string& target, size_t min_ids) {
  std::map<std::string, std::string> last;
  std::set<std::string> deleted;
  std::ifstream acks(ack_log);
  std::string line;
  while (std::getline(acks, line)) {
    std::istringstream ls(line);
    std::string op, id, laps;
    ls >> op >> id >> laps;
    if (op == "delete") {
      deleted.insert(id);
      last.erase(id);
    } else {
      last[id] = laps;
      deleted.erase(id);
    }
  }
  ASSERT_GT(last.size(), min_ids) << ack_log;
  auto pg = PgConn::Connect(target);
  ASSERT_TRUE(pg.ok()) << pg.status().message();
  for (const auto& [id, laps] : last) {
    auto row = pg->ExecParams("SELECT laps FROM results WHERE id = $1", {id});
    ASSERT_TRUE(row.ok()) << row.status().message();
    ASSERT_EQ(row->Rows(), 1) << "acknowledged write of id " << id << " is missing";
    EXPECT_EQ(row->Str(0, 0), laps) << "id " << id;
  }
  for (const auto& id : deleted) {
    auto row = pg->ExecParams("SELECT 1 FROM results WHERE id = $1", {id});
    ASSERT_TRUE(row.ok()) << row.status().message();
    EXPECT_EQ(row->Rows(), 0) << "acknowledged delete of id " << id;
  }
}

// Catches up with `slipway stream --until-caught-up`; then `slipway verify`
// must find both sides equal. Returns verify's report (null after a failure).
inline json CatchUpAndVerifyEqual(const std::string& db, const std::string& target) {
  RunResult caught = RunSlipway({"stream", "--source", db, "--target", target, "--until-caught-up"});
  EXPECT_EQ(caught.exit_code, 0) << caught.out << caught.err;
  if (caught.exit_code != 0) return json();
  RunResult v = RunSlipway({"verify", "--source", db, "--target", target, "--json"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  json j = json::parse(v.out, nullptr, false);
  EXPECT_TRUE(j.is_object()) << v.out;
  if (!j.is_object()) return json();
  EXPECT_TRUE(j.value("equal", false)) << v.out;
  return j;
}

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_PG();
    dir_ = TempDir();
    target_ = FreshDatabase();
    db_ = dir_ + "/app.db";
  }

  // The writer's schema and data, then the snapshot (capture installed).
  void InitAndSnapshot() {
    RunResult init = RunProgram(SLIPWAY_CHANGE_WRITER, {"--db", db_, "--init", "--seed", "1"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    RunResult snap = RunSlipway({"snapshot", "--source", db_, "--target", target_, "--chunk-rows", "100"});
    ASSERT_EQ(snap.exit_code, 0) << snap.out << snap.err;
  }

  std::vector<std::string> WriterArgs(double seconds, uint64_t seed, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a = {"--db", db_, "--seconds", std::to_string(seconds), "--seed", std::to_string(seed),
                                  "--big-rows", "0", "--phase-iterations", "40"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  // A writer run must have committed changes and failed none.
  void ExpectWriterOk(int code, const std::string& out, const std::string& err) {
    EXPECT_EQ(code, 0) << out << err;
    auto s = WriterSummary(out);
    EXPECT_EQ(s["failed"], "0") << out << err;
    EXPECT_GT(std::stoll(s.count("committed") ? s["committed"] : "0"), 10) << out;
  }

  std::unique_ptr<Proc> StartStream(const std::vector<std::string>& extra = {}, const std::vector<std::string>& env = {}) {
    std::vector<std::string> a = {"stream", "--source", db_, "--target", target_};
    a.insert(a.end(), extra.begin(), extra.end());
    return std::make_unique<Proc>(SLIPWAY_BINARY, a, env);
  }

  // SIGTERM finishes the batch in flight and exits 0.
  void StopStream(Proc& stream) {
    ASSERT_TRUE(stream.Running()) << "the stream ended on its own: " << stream.Err();
    stream.Signal(SIGTERM);
    EXPECT_EQ(stream.Wait(30000), 0) << stream.Err();
    if (std::getenv("SLIPWAY_TEST_VERBOSE") != nullptr) std::fprintf(stderr, "--- stream log:\n%s", stream.Err().c_str());
  }

  json StatusJson() {
    RunResult r = RunSlipway({"status", "--source", db_, "--target", target_, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  // Catches up, then proves both sides equal with nothing pending, every key
  // once, and the counters equal.
  void CatchUpAndVerify() {
    json j = CatchUpAndVerifyEqual(db_, target_);
    ASSERT_TRUE(j.is_object());
    for (const auto& t : j["tables"]) {
      EXPECT_EQ(t["pending"].get<int64_t>(), 0) << t.dump();
      EXPECT_EQ(t["mismatched"].get<int64_t>(), 0) << t.dump();
      EXPECT_EQ(t["source_rows"], t["target_rows"]) << t.dump();
    }
    ExpectExactlyOnce();
  }

  // Every target table has a primary key, no key is there twice, row counts
  // match SQLite's, and the counters are equal.
  void ExpectExactlyOnce() {
    auto pg = PgConn::Connect(target_);
    ASSERT_TRUE(pg.ok()) << pg.status().message();
    auto tables = pg->Exec(
        "SELECT c.relname, (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) JOIN pg_attribute a ON a.attrelid = "
        "c.oid AND a.attnum = k.attnum WHERE i.indrelid = c.oid AND i.indisprimary) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1");
    ASSERT_TRUE(tables.ok()) << tables.status().message();
    ASSERT_GE(tables->Rows(), 6);
    auto src = Db::Open(db_, Db::Mode::kReadOnly);
    ASSERT_TRUE(src.ok());
    for (int i = 0; i < tables->Rows(); ++i) {
      const std::string table = tables->Str(i, 0);
      SCOPED_TRACE(table);
      ASSERT_FALSE(tables->IsNull(i, 1)) << "no primary key on the target table";
      const std::string key = tables->Str(i, 1);
      auto dup = pg->Exec("SELECT count(*) FROM (SELECT " + key + " FROM " + QuotePgIdent(table) + " GROUP BY " + key +
                          " HAVING count(*) > 1) d");
      ASSERT_TRUE(dup.ok()) << dup.status().message();
      EXPECT_EQ(dup->Str(0, 0), "0") << "keys applied twice";
      auto n = pg->Exec("SELECT count(*) FROM " + QuotePgIdent(table));
      ASSERT_TRUE(n.ok());
      auto sn = src->QueryInt("SELECT count(*) FROM " + QuoteSqliteIdent(table));
      ASSERT_TRUE(sn.ok()) << sn.status().message();
      EXPECT_EQ(std::stoll(n->Str(0, 0)), sn->value_or(-1));
    }
    auto counters = pg->Exec("SELECT name || '=' || n FROM counters ORDER BY name");
    ASSERT_TRUE(counters.ok());
    std::vector<std::string> sqlite_counters;
    auto st = src->Prepare("SELECT name || '=' || n FROM counters ORDER BY name");
    ASSERT_TRUE(st.ok());
    while (*st->Step()) sqlite_counters.push_back(st->Text(0));
    EXPECT_EQ(ColumnOf(*counters, 0), sqlite_counters);
  }

  int64_t SqliteInt(const std::string& sql) {
    auto s = Db::Open(db_, Db::Mode::kReadOnly);
    EXPECT_TRUE(s.ok());
    auto v = s->QueryInt(sql);
    EXPECT_TRUE(v.ok()) << v.status().message();
    return v.ok() ? v->value_or(-1) : -1;
  }

  std::string dir_;
  std::string target_;
  std::string db_;
};

// Every kind of change, made while the stream runs, arrives exactly once:
// inserts, updates (also of keys), deletes, upserts, REPLACE on the same key
// and through the secondary UNIQUE index, UPDATE OR REPLACE, DELETE without
// WHERE and refill, rolled-back transactions and savepoints, a 20k-row
// transaction (the COPY path), counters; with recursive_triggers OFF and ON.

}  // namespace slipway::testing
