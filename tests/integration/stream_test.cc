// `slipway stream` end to end: an app-like writer (tests/tools/change_writer)
// makes every kind of change while the stream applies them; the stream is
// crashed at its failpoints, killed at random moments, cut off from a
// restarting PostgreSQL, paused, blocked by the app's write lock, and handed
// schema changes. Each test ends with `stream --until-caught-up`, `verify`
// (equal, nothing pending), and an exactly-once check: every target table
// has a primary key with no key twice, and the counters (only ever
// incremented) are equal on both sides.
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
#include <sstream>
#include <thread>

#include "common/pg.h"
#include "common/sqlite.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr int kKilled = 128 + SIGKILL;
constexpr int kSchemaChangedExit = 9;

void Sleep(int ms) { std::this_thread::sleep_for(milliseconds(ms)); }

std::string ReadFile(const std::string& path) {
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
std::map<std::string, std::string> WriterSummary(const std::string& out) {
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

std::vector<std::string> ColumnOf(const PgResult& r, int col) {
  std::vector<std::string> out;
  for (int i = 0; i < r.Rows(); ++i) out.push_back(r.IsNull(i, col) ? "<null>" : r.Str(i, col));
  return out;
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
    RunResult caught = RunSlipway({"stream", "--source", db_, "--target", target_, "--until-caught-up"});
    ASSERT_EQ(caught.exit_code, 0) << caught.out << caught.err;
    RunResult v = RunSlipway({"verify", "--source", db_, "--target", target_, "--json"});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    json j = json::parse(v.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << v.out;
    EXPECT_TRUE(j["equal"].get<bool>()) << v.out;
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
TEST_F(StreamTest, EveryKindOfChangeArrivesExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream();
  RunResult w = RunProgram(SLIPWAY_CHANGE_WRITER,
                           WriterArgs(4, 2, {"--big-rows", "20000", "--big-at", "30", "--phase-iterations", "60"}));
  ExpectWriterOk(w.exit_code, w.out, w.err);
  if (std::getenv("SLIPWAY_TEST_VERBOSE") != nullptr) std::fprintf(stderr, "%s", w.out.c_str());
  auto s = WriterSummary(w.out);
  EXPECT_EQ(s["big_rows"], "20000") << w.out;
  EXPECT_GT(std::stoll(s["recursive_on"]), 0) << w.out;
  EXPECT_GT(std::stoll(s["rolled_back"]), 0) << w.out;
  for (const char* kind : {"item_update_pk", "item_upsert", "item_replace_same_key", "item_replace_other_row",
                           "item_update_or_replace_code", "item_update_or_replace_pk", "tags_delete_all_refill",
                           "savepoint_rolled_back", "counter_increment", "big_update", "big_delete"}) {
    EXPECT_TRUE(s.count(kind)) << kind << " never ran: " << w.out;
  }
  // The stream keeps up while the app writes (a few seconds at most).
  for (int i = 0; i < 100 && StatusJson().value("lag_changes", int64_t{-1}) != 0; ++i) Sleep(100);
  EXPECT_EQ(StatusJson().value("lag_changes", int64_t{-1}), 0);
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  CatchUpAndVerify();
  // The counters moved, by exactly what the writer committed.
  EXPECT_EQ(SqliteInt("SELECT sum(n) FROM counters") - 100, std::stoll(s["counter_increments"]));
  // Applied changelog rows are pruned (the newest is always kept).
  EXPECT_LE(SqliteInt("SELECT count(*) FROM _slipway_changelog"), 2000);
}

// A crash just before or just after the apply transaction commits loses
// nothing and applies nothing twice after a restart.
TEST_F(StreamTest, CrashAtEachFailpointResumesEqual) {
  for (const std::string fp : {"stream.before_commit=crash@3", "stream.after_commit=crash@3"}) {
    SCOPED_TRACE(fp);
    target_ = FreshDatabase();
    db_ = TempDir() + "/app.db";
    ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
    auto stream = StartStream({}, {"SLIPWAY_FAILPOINTS=" + fp});
    RunResult w = RunProgram(SLIPWAY_CHANGE_WRITER, WriterArgs(2, 3));
    ExpectWriterOk(w.exit_code, w.out, w.err);
    EXPECT_EQ(stream->Wait(20000), kKilled) << stream->Err();
    CatchUpAndVerify();
  }
}

// kill -9 at random moments (while the writer writes, once during a 20k-row
// transaction's apply most likely), then resume.
TEST_F(StreamTest, KilledAtRandomMomentsResumesEqual) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  std::random_device rd;
  const unsigned seed = rd();
  SCOPED_TRACE("kill delays seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  Proc writer(SLIPWAY_CHANGE_WRITER, WriterArgs(5, 4, {"--big-rows", "20000", "--big-at", "20"}));
  for (int round = 0; round < 3; ++round) {
    auto stream = StartStream();
    Sleep(std::uniform_int_distribution<int>(200, 1200)(rng));
    ASSERT_TRUE(stream->Running()) << stream->Err();
    stream->Signal(SIGKILL);
    EXPECT_EQ(stream->Wait(10000), kKilled);
  }
  EXPECT_EQ(writer.Wait(60000), 0) << writer.Err();
  auto s = WriterSummary(writer.Out());
  EXPECT_EQ(s["failed"], "0") << writer.Out() << writer.Err();
  CatchUpAndVerify();
}

// PostgreSQL restarts under a running stream: the stream retries with
// backoff, does not exit, and catches up once the server is back.
TEST_F(StreamTest, SurvivesPostgresRestart) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream();
  Proc writer(SLIPWAY_CHANGE_WRITER, WriterArgs(4, 5));
  Sleep(1000);
  auto* cluster = PgEnvironment::cluster();
  ASSERT_TRUE(cluster->StopServer().ok());
  Sleep(1500);
  Status started = cluster->StartServer();
  ASSERT_TRUE(started.ok()) << started.message();
  EXPECT_TRUE(stream->Running()) << "the stream exited while PostgreSQL was down: " << stream->Err();
  EXPECT_EQ(writer.Wait(60000), 0) << writer.Err();
  // The stream itself catches up after the restart.
  bool caught_up = false;
  for (int i = 0; i < 150 && !caught_up; ++i) {
    json st = StatusJson();
    caught_up = st.value("lag_changes", int64_t{-1}) == 0;
    if (!caught_up) Sleep(100);
  }
  EXPECT_TRUE(caught_up) << StatusJson().dump();
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  const std::string err = stream->Err();
  EXPECT_NE(err.find("retry"), std::string::npos) << err;
  EXPECT_NE(err.find("target reachable again"), std::string::npos) << err;
  CatchUpAndVerify();
}

// While the target is down the stream backs off (100 ms doubling): the app's
// commits, which wake the stream's file watch, must not turn the backoff into
// a connect attempt (and a warning line) per commit.
TEST_F(StreamTest, BackoffIsNotCutShortByAppWrites) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream();
  Proc writer(SLIPWAY_CHANGE_WRITER, WriterArgs(3, 10));
  Sleep(500);
  auto* cluster = PgEnvironment::cluster();
  ASSERT_TRUE(cluster->StopServer().ok());
  Sleep(2000);
  Status started = cluster->StartServer();
  ASSERT_TRUE(started.ok()) << started.message();
  EXPECT_EQ(writer.Wait(60000), 0) << writer.Err();
  for (int i = 0; i < 150 && StatusJson().value("lag_changes", int64_t{-1}) != 0; ++i) Sleep(100);
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  const std::string log = stream->Err();
  int attempts = 0;
  for (size_t at = log.find("target unavailable"); at != std::string::npos; at = log.find("target unavailable", at + 1)) {
    ++attempts;
  }
  // About 5 attempts fit in 2 s of 100 ms doubling; allow for jitter and the
  // server's start.
  EXPECT_GE(attempts, 1);
  EXPECT_LE(attempts, 15) << "connect attempts while the target was down for ~2 s";
  CatchUpAndVerify();
}

// ALTER TABLE ADD COLUMN (with a DEFAULT: existing rows change without any
// trigger firing) and CREATE TABLE (rows written before capture covers it)
// while streaming: carried over, with their data.
TEST_F(StreamTest, SchemaAdditionsAreCarriedOver) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream();
  RunResult w = RunProgram(SLIPWAY_CHANGE_WRITER, WriterArgs(4, 6, {"--schema-change", "--schema-at", "40"}));
  ExpectWriterOk(w.exit_code, w.out, w.err);
  auto s = WriterSummary(w.out);
  ASSERT_EQ(s["schema_changed"], "1") << w.out;
  ASSERT_TRUE(s.count("extra_insert")) << w.out;
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  EXPECT_NE(stream->Err().find("carried over new column items.note"), std::string::npos) << stream->Err();
  EXPECT_NE(stream->Err().find("carried over new table extra"), std::string::npos) << stream->Err();
  CatchUpAndVerify();
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  auto notes = pg->Exec("SELECT count(*) FILTER (WHERE note = 'none'), count(*) FILTER (WHERE note LIKE 'note %') FROM items");
  ASSERT_TRUE(notes.ok()) << notes.status().message();
  EXPECT_EQ(std::stoll(notes->Str(0, 0)), SqliteInt("SELECT count(*) FROM items WHERE note = 'none'"));
  EXPECT_EQ(std::stoll(notes->Str(0, 1)), SqliteInt("SELECT count(*) FROM items WHERE note LIKE 'note %'"));
  EXPECT_GT(std::stoll(notes->Str(0, 0)), 0);
  auto extra = pg->Exec("SELECT count(*), coalesce(sum(amount), 0) FROM extra");
  ASSERT_TRUE(extra.ok()) << extra.status().message();
  EXPECT_EQ(std::stoll(extra->Str(0, 0)), SqliteInt("SELECT count(*) FROM extra"));
  EXPECT_EQ(std::stoll(extra->Str(0, 1)), SqliteInt("SELECT coalesce(sum(amount), 0) FROM extra"));
  EXPECT_GT(std::stoll(extra->Str(0, 0)), 0);
}

// The same additions made while no stream runs, then the stream crashes in
// the first apply transaction, the one that copies the changed tables again
// (after carrying the schema over). The restarted stream must still copy them.
TEST_F(StreamTest, SchemaAdditionsSurviveACrashBeforeTheirCopy) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  RunResult caught = RunSlipway({"stream", "--source", db_, "--target", target_, "--until-caught-up"});
  ASSERT_EQ(caught.exit_code, 0) << caught.err;
  {
    auto app = Db::Open(db_, Db::Mode::kReadWrite);
    ASSERT_TRUE(app.ok());
    ASSERT_TRUE(app->Exec("ALTER TABLE items ADD COLUMN note TEXT DEFAULT 'none'").ok());
    ASSERT_TRUE(app->Exec("CREATE TABLE extra (id INTEGER PRIMARY KEY, label TEXT NOT NULL, amount INTEGER);"
                          "INSERT INTO extra VALUES (1, 'a', 10), (2, 'b', 20);")
                    .ok());
  }
  RunResult crashed = RunSlipway({"stream", "--source", db_, "--target", target_, "--until-caught-up"},
                                 {"SLIPWAY_FAILPOINTS=stream.before_commit=crash"});
  ASSERT_EQ(crashed.exit_code, kKilled) << crashed.err;
  CatchUpAndVerify();
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  auto n = pg->Exec("SELECT (SELECT count(*) FROM items WHERE note = 'none'), (SELECT count(*) FROM extra)");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(std::stoll(n->Str(0, 0)), SqliteInt("SELECT count(*) FROM items"));
  EXPECT_EQ(n->Str(0, 1), "2");
}

// A new column, carried over while the stream runs; then a new table created
// in the same transaction as a change to the widened table. No crash, no
// outage: the running stream alone must bring both over with their data.
TEST_F(StreamTest, NewTableAfterAColumnAdditionIsCopied) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream();
  auto app = Db::Open(db_, Db::Mode::kReadWrite);
  ASSERT_TRUE(app.ok());
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  auto wait_for = [&](const std::string& pg_query) {
    for (int i = 0; i < 100; ++i) {
      auto r = pg->Exec(pg_query);
      if (r.ok() && r->Str(0, 0) == "t") return true;
      Sleep(100);
    }
    return false;
  };
  // The stream applies a change to items (its statements are now prepared).
  ASSERT_TRUE(app->Exec("UPDATE items SET name = 'before' WHERE id = 1").ok());
  ASSERT_TRUE(wait_for("SELECT name = 'before' FROM items WHERE id = 1"));
  ASSERT_TRUE(app->Exec("ALTER TABLE items ADD COLUMN note TEXT DEFAULT 'none'").ok());
  ASSERT_TRUE(wait_for("SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note'"));
  Sleep(300);
  ASSERT_TRUE(app->Exec("BEGIN; CREATE TABLE extra (id INTEGER PRIMARY KEY, label TEXT NOT NULL, amount INTEGER);"
                        "INSERT INTO extra VALUES (1, 'a', 10), (2, 'b', 20);"
                        "UPDATE items SET name = 'after' WHERE id = 1; COMMIT")
                  .ok());
  EXPECT_TRUE(wait_for("SELECT name = 'after' FROM items WHERE id = 1"));
  Sleep(300);
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  const std::string log = stream->Err();
  EXPECT_EQ(log.find("bind message supplies"), std::string::npos)
      << "a statement prepared before the column was added was used after it:\n" << log;
  CatchUpAndVerify();
  auto extra = pg->Exec("SELECT count(*) FROM extra");
  ASSERT_TRUE(extra.ok()) << extra.status().message();
  EXPECT_EQ(extra->Str(0, 0), "2") << log;
}

// Until the cutover the target refuses writes from anyone but slipway (the
// guard installed by the snapshot). A table carried over online is as much
// a replicated table as the others: it must refuse them too.
TEST_F(StreamTest, CarriedOverTableIsGuardedLikeTheOthers) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  {
    auto app = Db::Open(db_, Db::Mode::kReadWrite);
    ASSERT_TRUE(app.ok());
    ASSERT_TRUE(app->Exec("CREATE TABLE extra (id INTEGER PRIMARY KEY, label TEXT NOT NULL, amount INTEGER);"
                          "INSERT INTO extra VALUES (1, 'a', 10);")
                    .ok());
  }
  RunResult caught = RunSlipway({"stream", "--source", db_, "--target", target_, "--until-caught-up"});
  ASSERT_EQ(caught.exit_code, 0) << caught.err;
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  EXPECT_FALSE(pg->Run("INSERT INTO items (id, code, qty) VALUES (999999, 'zz', 0)").ok())
      << "the snapshot's guard lets the app write to items";
  EXPECT_FALSE(pg->Run("INSERT INTO extra (id, label, amount) VALUES (999999, 'zz', 0)").ok())
      << "the table carried over online has no guard: the app can write to it before the cutover";
  RunResult v = RunSlipway({"verify", "--source", db_, "--target", target_});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// DROP TABLE cannot be carried over: the stream stops with exit code 9 and
// names the table.
TEST_F(StreamTest, DropTableStopsTheStream) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream();
  RunResult w = RunProgram(SLIPWAY_CHANGE_WRITER, WriterArgs(2, 7, {"--drop-table", "--drop-at", "30"}));
  ExpectWriterOk(w.exit_code, w.out, w.err);
  ASSERT_EQ(WriterSummary(w.out)["dropped"], "1") << w.out;
  EXPECT_EQ(stream->Wait(20000), kSchemaChangedExit) << stream->Err();
  EXPECT_NE(stream->Err().find("table tags was dropped"), std::string::npos) << stream->Err();
  // A restart refuses too, rather than dropping the table's data silently.
  RunResult again = RunSlipway({"stream", "--source", db_, "--target", target_, "--until-caught-up"});
  EXPECT_EQ(again.exit_code, kSchemaChangedExit) << again.err;
}

// The app holds the write lock (BEGIN IMMEDIATE) for 2 s while the stream
// runs: reads go on (WAL), pruning waits, nothing fails.
TEST_F(StreamTest, AppHoldingTheWriteLockDoesNotStopTheStream) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream();
  Proc writer(SLIPWAY_CHANGE_WRITER, WriterArgs(5, 8));
  Sleep(1000);
  {
    auto app = Db::Open(db_, Db::Mode::kReadWrite, 5000);
    ASSERT_TRUE(app.ok());
    ASSERT_TRUE(app->Exec("BEGIN IMMEDIATE").ok());
    ASSERT_TRUE(app->Exec("UPDATE counters SET n = n + 1 WHERE name = 'c0'").ok());
    const int64_t before = StatusJson().value("applied_seq", int64_t{-1});
    Sleep(2000);
    EXPECT_TRUE(stream->Running()) << stream->Err();
    // Everything committed before the lock was taken is applied meanwhile.
    EXPECT_GE(StatusJson().value("applied_seq", int64_t{-1}), before);
    EXPECT_EQ(StatusJson().value("lag_changes", int64_t{-1}), 0);
    ASSERT_TRUE(app->Exec("COMMIT").ok());
  }
  EXPECT_EQ(writer.Wait(60000), 0) << writer.Err();
  EXPECT_EQ(WriterSummary(writer.Out())["failed"], "0") << writer.Out();
  for (int i = 0; i < 100 && StatusJson().value("lag_changes", int64_t{-1}) != 0; ++i) Sleep(100);
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  CatchUpAndVerify();
  // Pruning resumed once the lock was released.
  EXPECT_LE(SqliteInt("SELECT count(*) FROM _slipway_changelog"), 2000);
}

// A schema addition meets the app holding the write lock (carrying it over
// installs capture, a write): the stream waits for the lock like pruning
// does, instead of giving up.
TEST_F(StreamTest, SchemaCarryOverWaitsForTheWriteLock) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  const std::string pause = dir_ + "/pause";
  { std::ofstream(pause) << "paused by the test\n"; }
  auto stream = StartStream({"--pause-file", pause});
  Sleep(500);
  auto app = Db::Open(db_, Db::Mode::kReadWrite, 5000);
  ASSERT_TRUE(app.ok());
  ASSERT_TRUE(app->Exec("ALTER TABLE items ADD COLUMN note TEXT DEFAULT 'none'").ok());
  ASSERT_TRUE(app->Exec("BEGIN IMMEDIATE").ok());
  ASSERT_TRUE(app->Exec("UPDATE counters SET n = n + 1 WHERE name = 'c1'").ok());
  std::filesystem::remove(pause);
  Sleep(1500);
  EXPECT_TRUE(stream->Running()) << "the stream gave up while the app held the write lock (exit " << stream->Wait(0) << "): " << stream->Err();
  ASSERT_TRUE(app->Exec("COMMIT").ok());
  if (stream->Running()) {
    for (int i = 0; i < 50 && StatusJson().value("lag_changes", int64_t{-1}) != 0; ++i) Sleep(100);
    ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  }
  CatchUpAndVerify();
}

// SIGTERM while the target is down and the stream waits to reconnect: a
// clean stop (exit 0), as at any other moment.
TEST_F(StreamTest, SigtermWhileTargetIsDownExitsCleanly) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartStream();
  Sleep(500);
  auto* cluster = PgEnvironment::cluster();
  ASSERT_TRUE(cluster->StopServer().ok());
  {
    auto app = Db::Open(db_, Db::Mode::kReadWrite);
    ASSERT_TRUE(app.ok());
    ASSERT_TRUE(app->Exec("UPDATE counters SET n = n + 1").ok());  // a round that fails: reconnecting
  }
  Sleep(700);
  EXPECT_TRUE(stream->Running()) << stream->Err();
  stream->Signal(SIGTERM);
  const int code = stream->Wait(15000);
  Status started = cluster->StartServer();
  ASSERT_TRUE(started.ok()) << started.message();
  EXPECT_EQ(code, 0) << stream->Err();
  CatchUpAndVerify();
}

// While the pause file exists nothing is applied and the lag grows; removing
// it resumes and catches up.
TEST_F(StreamTest, PauseFileStopsAndResumesApplying) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  const std::string pause = dir_ + "/pause";
  auto stream = StartStream({"--pause-file", pause});
  Proc writer(SLIPWAY_CHANGE_WRITER, WriterArgs(4, 9));
  Sleep(500);
  { std::ofstream(pause) << "paused by the test\n"; }
  Sleep(600);  // the round in flight finishes
  json a = StatusJson();
  Sleep(1000);
  json b = StatusJson();
  EXPECT_GT(a.value("lag_changes", int64_t{0}), 0) << a.dump();
  EXPECT_GT(b.value("lag_changes", int64_t{0}), a.value("lag_changes", int64_t{0})) << b.dump();
  EXPECT_EQ(b.value("applied_seq", int64_t{-1}), a.value("applied_seq", int64_t{-2})) << "applied while paused";
  std::filesystem::remove(pause);
  EXPECT_EQ(writer.Wait(60000), 0) << writer.Err();
  bool caught_up = false;
  for (int i = 0; i < 100 && !caught_up; ++i) {
    caught_up = StatusJson().value("lag_changes", int64_t{-1}) == 0;
    if (!caught_up) Sleep(100);
  }
  EXPECT_TRUE(caught_up) << "the stream did not resume: " << StatusJson().dump();
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  CatchUpAndVerify();
}

// The stream checkpoints the app's WAL (passive, past --wal-checkpoint-pages
// frames) so the app's commits need not: the -wal file, whose size is the
// largest frame count it ever held (it is reused from its start, never
// shrunk, while a connection is open), stays far below the 1000 frames at
// which the app's own autocheckpoint runs, which it reaches when the stream
// leaves checkpoints to the app. A bad value is a usage error.
TEST_F(StreamTest, StreamCheckpointsTheAppsWal) {
  for (const char* bad : {"-1", "lots"}) {
    RunResult r = RunSlipway({"stream", "--source", db_, "--target", target_, "--wal-checkpoint-pages", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
  }
  RunResult help = RunSlipway({"stream", "--help"});
  EXPECT_NE(help.out.find("--wal-checkpoint-pages"), std::string::npos) << help.out;

  // Frames in the WAL at its largest, with the stream running as given.
  auto max_wal_frames = [&](const std::vector<std::string>& stream_args, json* figures) -> int64_t {
    auto stream = StartStream(stream_args);
    RunResult w = RunProgram(SLIPWAY_CHANGE_WRITER, WriterArgs(3, 11, {"--pace-us", "1000"}));
    ExpectWriterOk(w.exit_code, w.out, w.err);
    for (int i = 0; i < 100 && StatusJson().value("lag_changes", int64_t{-1}) != 0; ++i) Sleep(100);
    Sleep(1200);  // a heartbeat with the latest figures
    *figures = StatusJson()["applier"]["figures"];
    std::error_code ec;
    const auto bytes = static_cast<int64_t>(std::filesystem::file_size(db_ + "-wal", ec));
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_NO_FATAL_FAILURE(StopStream(*stream));
    const int64_t page = SqliteInt("PRAGMA page_size");
    return ec ? -1 : (bytes - 32) / (page + 24);
  };

  // Without: the app's commits checkpoint at 1000 frames.
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  json without;
  const int64_t frames_without = max_wal_frames({"--wal-checkpoint-pages", "0"}, &without);
  EXPECT_GE(frames_without, 1000) << "the writer wrote too little for the app to checkpoint";
  EXPECT_EQ(without.value("checkpoints", int64_t{-1}), 0) << without.dump();
  CatchUpAndVerify();

  // With: the stream checkpoints past 64 frames and the log starts over.
  target_ = FreshDatabase();
  db_ = TempDir() + "/app.db";
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  json with;
  const int64_t frames_with = max_wal_frames({"--wal-checkpoint-pages", "64"}, &with);
  EXPECT_GT(with.value("checkpoints", int64_t{0}), 0) << with.dump();
  EXPECT_GT(with.value("frames_backfilled", int64_t{0}), 0) << with.dump();
  EXPECT_GT(frames_with, 0);
  if (std::getenv("SLIPWAY_TEST_VERBOSE") != nullptr) {
    std::fprintf(stderr, "WAL frames at most: %lld leaving checkpoints to the app, %lld with the stream's (%s)\n",
                 static_cast<long long>(frames_without), static_cast<long long>(frames_with), with.dump().c_str());
  }
  EXPECT_LT(frames_with, 500) << "the WAL grew as if nothing checkpointed it (without the stream's checkpoints: "
                              << frames_without << " frames); figures " << with.dump();
  CatchUpAndVerify();
}

// Tables of the app's own, for the VACUUM and refused-schema-change tests:
// `nokey` has no INTEGER PRIMARY KEY and no index, so VACUUM renumbers its
// rowids (the target keys it by rowid); `items` is keyed by its id.
class SourceSchemaTest : public StreamTest {
 protected:
  // Statements through the sqlite3 shell: a process of its own, like the app.
  RunResult Sqlite(const std::string& sql) { return RunProgram("/usr/bin/sqlite3", {"-cmd", ".timeout 10000", db_, sql}); }

  void CreateAndSnapshot() {
    std::string sql =
        "PRAGMA journal_mode=WAL; CREATE TABLE nokey (a INTEGER, b TEXT); "
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT, n INTEGER); "
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000) "
        "INSERT INTO nokey (a, b) SELECT i, 'row ' || i FROM c; "
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 50) "
        "INSERT INTO items (id, v, n) SELECT i, 'item ' || i, i FROM c;";
    RunResult r = Sqlite(sql);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    RunResult snap = RunSlipway({"snapshot", "--source", db_, "--target", target_});
    ASSERT_EQ(snap.exit_code, 0) << snap.out << snap.err;
  }

  RunResult CatchUp() { return RunSlipway({"stream", "--source", db_, "--target", target_, "--until-caught-up"}); }

  void ExpectEqual() {
    RunResult v = RunSlipway({"verify", "--source", db_, "--target", target_, "--json"});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    json j = json::parse(v.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << v.out;
    EXPECT_TRUE(j["equal"].get<bool>()) << v.out;
    for (const auto& t : j["tables"]) {
      EXPECT_EQ(t["mismatched"].get<int64_t>(), 0) << t.dump();
      EXPECT_EQ(t["source_rows"], t["target_rows"]) << t.dump();
    }
  }

  std::vector<std::string> TargetColumns(const std::string& table) {
    auto pg = PgConn::Connect(target_);
    EXPECT_TRUE(pg.ok()) << pg.status().message();
    if (!pg.ok()) return {};
    auto r = pg->ExecParams("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND "
                            "table_name = $1 ORDER BY ordinal_position",
                            {table});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? ColumnOf(*r, 0) : std::vector<std::string>{};
  }

  // The stream refuses the schema change made by `ddl`: exit 9, every part
  // of the change named, and the target's tables as before.
  void ExpectRefused(const std::string& ddl, const std::vector<std::string>& named) {
    ASSERT_NO_FATAL_FAILURE(CreateAndSnapshot());
    RunResult first = CatchUp();
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const auto items_before = TargetColumns("items");
    const auto nokey_before = TargetColumns("nokey");
    auto stream = StartStream();
    Sleep(500);
    // One transaction: the stream sees all of the change or none of it.
    RunResult r = Sqlite("UPDATE items SET n = n + 1 WHERE id = 3; BEGIN; " + ddl +
                         "; COMMIT; UPDATE nokey SET b = b || '!' WHERE a = 4;");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(stream->Wait(20000), kSchemaChangedExit) << stream->Err();
    for (const auto& n : named) EXPECT_NE(stream->Err().find(n), std::string::npos) << n << "\n" << stream->Err();
    EXPECT_EQ(stream->Err().find("carried over new"), std::string::npos) << stream->Err();
    EXPECT_EQ(TargetColumns("items"), items_before);
    EXPECT_EQ(TargetColumns("nokey"), nokey_before);
    // A restart refuses the same way, and still changes nothing.
    RunResult again = CatchUp();
    EXPECT_EQ(again.exit_code, kSchemaChangedExit) << again.err;
    for (const auto& n : named) EXPECT_NE(again.err.find(n), std::string::npos) << n << "\n" << again.err;
    EXPECT_EQ(TargetColumns("items"), items_before);
    EXPECT_EQ(TargetColumns("nokey"), nokey_before);
  }
};

// VACUUM renumbers the rowids of `nokey` while the stream runs and a writer
// keeps changing it: each time the stream copies the table whole in the
// apply transaction, so no change lands on the wrong row.
TEST_F(SourceSchemaTest, VacuumWhileStreamingKeepsRowidTablesEqual) {
  ASSERT_NO_FATAL_FAILURE(CreateAndSnapshot());
  auto stream = StartStream();
  std::string script;
  for (int k = 0; k < 5; ++k) {
    const std::string ks = std::to_string(k);
    script += "sqlite3 -cmd '.timeout 10000' " + db_ + " \"DELETE FROM nokey WHERE a % 5 = " + ks +
              " AND a % 2 = 0; UPDATE items SET n = n + 1 WHERE id = " + std::to_string(k + 1) +
              "\" || exit 1; sleep 0.3; "
              "sqlite3 -cmd '.timeout 10000' " + db_ + " 'VACUUM' || exit 2; "
              "sqlite3 -cmd '.timeout 10000' " + db_ + " \"UPDATE nokey SET b = 'changed " + ks +
              "' WHERE a IN (" + std::to_string(101 + k) + ", " + std::to_string(997 - k) +
              "); INSERT INTO nokey (a, b) VALUES (" + std::to_string(2000 + k) + ", 'new')\" || exit 3; sleep 0.3; ";
  }
  Proc writer("/usr/bin/sh", {"-c", script});
  EXPECT_EQ(writer.Wait(60000), 0) << writer.Err();
  Sleep(1000);
  EXPECT_TRUE(stream->Running()) << stream->Err();
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  EXPECT_NE(stream->Err().find("VACUUM renumbered rowids: table nokey copied whole"), std::string::npos)
      << stream->Err();
  // Tables with a key of their own are not copied again.
  EXPECT_EQ(stream->Err().find("table items copied whole"), std::string::npos) << stream->Err();
  RunResult caught = CatchUp();
  ASSERT_EQ(caught.exit_code, 0) << caught.err;
  ExpectEqual();
}

// VACUUM while no stream runs: the stream, started later, finds the moved
// schema_version against the one the target keeps, before it applies anything.
TEST_F(SourceSchemaTest, VacuumWhileStoppedIsFoundAtStart) {
  ASSERT_NO_FATAL_FAILURE(CreateAndSnapshot());
  ASSERT_EQ(Sqlite("DELETE FROM nokey WHERE a % 2 = 0").exit_code, 0);
  RunResult r1 = CatchUp();
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  ASSERT_EQ(Sqlite("VACUUM").exit_code, 0);
  ASSERT_EQ(Sqlite("UPDATE nokey SET b = 'one' WHERE a = 301; UPDATE nokey SET b = 'two' WHERE a = 999;").exit_code, 0);
  RunResult r2 = CatchUp();
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_NE(r2.err.find("VACUUM renumbered rowids: table nokey copied whole"), std::string::npos) << r2.err;
  ExpectEqual();
  // Nothing moved since: the next start copies nothing whole.
  RunResult r3 = CatchUp();
  ASSERT_EQ(r3.exit_code, 0) << r3.err;
  EXPECT_EQ(r3.err.find("copied whole"), std::string::npos) << r3.err;
}

// The cutover's catch-up (no stream running) finds a VACUUM the target has
// not seen and copies the rowid-keyed table whole before its verify: the app
// lands on PostgreSQL with every row where SQLite has it.
TEST_F(SourceSchemaTest, CutoverAfterVacuumCopiesRowidTablesWhole) {
  ASSERT_NO_FATAL_FAILURE(CreateAndSnapshot());
  ASSERT_EQ(Sqlite("DELETE FROM nokey WHERE a % 2 = 0").exit_code, 0);
  RunResult caught = CatchUp();
  ASSERT_EQ(caught.exit_code, 0) << caught.err;
  ASSERT_EQ(Sqlite("VACUUM").exit_code, 0);
  ASSERT_EQ(Sqlite("UPDATE nokey SET b = 'one' WHERE a = 301; UPDATE nokey SET b = 'two' WHERE a = 999;").exit_code, 0);
  const std::string env = dir_ + "/app.env";
  std::ofstream(env) << "DATABASE_URL=sqlite://" << db_ << "\n";
  RunResult r = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", env, "--flip-key",
                            "DATABASE_URL", "--verify", "full"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("VACUUM renumbered rowids: table nokey copied whole"), std::string::npos) << r.err;
  const std::string rows = "SELECT group_concat(a || ':' || b, ',') FROM (SELECT a, b FROM nokey ORDER BY a)";
  auto src = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(src.ok()) << src.status().message();
  auto want = src->QueryText(rows);
  ASSERT_TRUE(want.ok()) << want.status().message();
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok()) << pg.status().message();
  auto got = pg->Exec("SELECT string_agg(a || ':' || b, ',' ORDER BY a) FROM nokey");
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->Str(0, 0), want->value_or(""));
}

TEST_F(SourceSchemaTest, RenamedColumnIsRefusedWhole) {
  ExpectRefused("ALTER TABLE items RENAME COLUMN v TO v2",
                {"column items.v was dropped or renamed", "new column items.v2", "nothing of this change was applied"});
}

TEST_F(SourceSchemaTest, RenamedTableIsRefusedWhole) {
  ExpectRefused("ALTER TABLE items RENAME TO things", {"table items was dropped or renamed", "new table things"});
  EXPECT_TRUE(TargetColumns("things").empty());
}

TEST_F(SourceSchemaTest, DroppedColumnWithANewOneIsRefusedWhole) {
  ExpectRefused("ALTER TABLE items DROP COLUMN v; ALTER TABLE items ADD COLUMN w TEXT",
                {"column items.v was dropped or renamed", "new column items.w"});
}

TEST_F(SourceSchemaTest, SeveralChangesAtOnceAreRefusedWhole) {
  ExpectRefused("ALTER TABLE nokey ADD COLUMN c TEXT; CREATE TABLE extra (id INTEGER PRIMARY KEY); "
                "ALTER TABLE items DROP COLUMN n",
                {"column items.n was dropped or renamed", "new column nokey.c", "new table extra"});
  EXPECT_TRUE(TargetColumns("extra").empty());
}

}  // namespace
}  // namespace slipway::testing
