// Reverse replication and `slipway rollback` end to end: real SQLite files,
// writer processes that follow the app's config file, a real PostgreSQL,
// crashes at every named failpoint of the rollback.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
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

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr const char* kCountersSchema = R"sql(
    PRAGMA journal_mode=WAL;
    CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
    CREATE TABLE events_log (id INTEGER PRIMARY KEY AUTOINCREMENT, writer INTEGER NOT NULL, seq INTEGER NOT NULL,
                             at TEXT NOT NULL);
    INSERT INTO counters VALUES (1, 0), (2, 0), (3, 0), (99, 0);
    CREATE TABLE notes (txt TEXT);
    INSERT INTO notes VALUES ('a'), ('b');
  )sql";

bool SqliteAcceptsWrites(const std::string& db) {
  auto d = Db::Open(db, Db::Mode::kReadWrite);
  if (!d.ok()) return false;
  return d->Exec("UPDATE counters SET n = n WHERE id = 99").ok();
}

bool PgAcceptsWrites(const std::string& uri) {
  auto c = PgConn::Connect(uri);
  if (!c.ok()) return false;
  return c->Run("UPDATE counters SET n = n WHERE id = 99").ok();
}

// The value of KEY in a .env file.
std::string EnvValue(const std::string& path, const std::string& key) {
  std::istringstream in(ReadText(path));
  std::string line, value;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) value = line.substr(key.size() + 1);
  }
  return value;
}

class RollbackTest : public TargetTest {
 protected:
  void SetUp() override {
    TargetTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    db_ = MakeSqlite(dir_, "app.db", kCountersSchema);
    ASSERT_EQ(RunSlipway({"snapshot", "--source", db_, "--target", target_, "--capture", capture_}).exit_code, 0);
    env_ = dir_ + "/app.env";
    std::ofstream(env_) << "# app settings\nDATABASE_URL=sqlite://" << db_ << "\nOTHER=1\n";
  }
  std::vector<std::string> MoveArgs(const std::string& command, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {command, "--source", db_, "--target", target_, "--flip-file", env_,
                                  "--flip-key", "DATABASE_URL", "--json"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // Writers on SQLite -> cutover -> the writers go on in PostgreSQL, with a
  // transaction that commits out of order -> rollback -> the writers go on
  // in SQLite -> cutover -> rollback again. Every acknowledged write is in
  // SQLite exactly once at the end, the counters are exact, the writers end
  // on SQLite, and PostgreSQL equals SQLite once the forward stream caught
  // up.
  void TwoCyclesUnderLoad(const std::vector<std::string>& writer_extra);

  std::string capture_ = "triggers";
  std::string db_, env_;
};

// The same, the app capturing by session (slipway's SQLite extension).
class SessionRollbackTest : public RollbackTest {
 protected:
  void SetUp() override {
    capture_ = "session";
    RollbackTest::SetUp();
  }
};

TEST_F(RollbackTest, TwoCyclesUnderLoad) { TwoCyclesUnderLoad({}); }

// A rollback leaves the move capturing as it did: the app's transactions
// arrive as changesets again after each rollback.
TEST_F(SessionRollbackTest, TwoCyclesUnderLoad) {
  TwoCyclesUnderLoad({"--session-extension", SLIPWAY_CAPTURE_EXTENSION});
  if (HasFatalFailure()) return;
  // The running stream's summary line, from its output file.
  std::string last;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    if (e.path().extension() != ".out") continue;
    const std::string text = ReadText(e.path());
    if (text.find("stream stopped:") != std::string::npos) last = text;
  }
  RunResult st = RunSlipway({"status", "--source", db_, "--target", target_, "--json"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_EQ(nlohmann::json::parse(st.out)["capture"], "session") << st.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(last, m, std::regex("([0-9,]+) app transactions as changesets"))) << last;
  std::string n = m[1];
  std::erase(n, ',');
  EXPECT_GT(std::stoll(n), 50) << last;
}

void RollbackTest::TwoCyclesUnderLoad(const std::vector<std::string>& writer_extra) {
  int stream = StartProgram(SLIPWAY_BINARY, {"stream", "--source", db_, "--target", target_}, dir_);
  std::vector<int> writers;
  for (int id = 1; id <= 3; ++id) {
    std::vector<std::string> args = {"--config", env_, "--key", "DATABASE_URL", "--id", std::to_string(id), "--rate",
                                     "120", "--seconds", "0", "--ack-log", dir_ + "/acks" + std::to_string(id) + ".log"};
    args.insert(args.end(), writer_extra.begin(), writer_extra.end());
    writers.push_back(StartProgram(SLIPWAY_APP_FOLLOWER, args, dir_));
  }
  std::vector<double> freezes;
  for (int cycle = 0; cycle < 2; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    RunResult c = RunSlipway(MoveArgs("cutover"));
    ASSERT_EQ(c.exit_code, 0) << c.err;
    EXPECT_EQ(nlohmann::json::parse(c.out)["outcome"], "cut over");
    EXPECT_EQ(EnvValue(env_, "DATABASE_URL"), target_);
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    if (cycle == 0) {
      // A transaction that began before others and commits after several
      // apply rounds: its row arrives all the same.
      auto slow = PgConn::Connect(target_);
      ASSERT_TRUE(slow.ok());
      auto s = Db::Open(db_, Db::Mode::kReadOnly);
      ASSERT_TRUE(s.ok());
      ASSERT_TRUE(slow->Run("BEGIN").ok());
      ASSERT_TRUE(slow->Run("INSERT INTO events_log (writer, seq, at) VALUES (99, 1, 'slow')").ok());
      ASSERT_TRUE(slow->Run("UPDATE counters SET n = n + 1 WHERE id = 99").ok());
      auto before = s->QueryInt("SELECT count(*) FROM events_log");
      ASSERT_TRUE(before.ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      // Meanwhile the others' later commits reached SQLite, round after round.
      auto during = s->QueryInt("SELECT count(*) FROM events_log");
      ASSERT_TRUE(during.ok());
      EXPECT_GT(during->value_or(0), before->value_or(0) + 20);
      ASSERT_TRUE(slow->Run("COMMIT").ok());
      bool arrived = false;
      for (int i = 0; i < 50 && !arrived; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto n = s->QueryInt("SELECT count(*) FROM events_log WHERE writer = 99");
        arrived = n.ok() && n->value_or(0) == 1;
      }
      EXPECT_TRUE(arrived) << "the out-of-order transaction's row reached SQLite";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    RunResult r = RunSlipway(MoveArgs("rollback"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["outcome"], "rolled back");
    freezes.push_back(j["freeze_ms"].get<double>());
    EXPECT_LT(j["freeze_ms"].get<double>(), 1000.0);
    // The keys the app touched in PostgreSQL during the full verify were
    // compared before the freeze; the freeze compared only those touched
    // after.
    bool before = false;
    for (const auto& note : j["notes"]) {
      before = before || note.get<std::string>().find(" verified before the freeze in ") != std::string::npos;
    }
    EXPECT_TRUE(before) << r.out;
    EXPECT_EQ(EnvValue(env_, "DATABASE_URL"), "sqlite://" + db_) << "the config holds what it held before the cutover";
    EXPECT_NE(ReadText(env_).find("OTHER=1"), std::string::npos);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  for (int w : writers) ::kill(w, SIGTERM);
  for (int w : writers) EXPECT_EQ(WaitProgram(w), 0);
  ::kill(stream, SIGTERM);
  EXPECT_EQ(WaitProgram(stream), 0);
  EXPECT_TRUE(SqliteAcceptsWrites(db_));
  EXPECT_FALSE(PgAcceptsWrites(target_)) << "never two writable databases";

  auto s = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(s.ok());
  for (int id = 1; id <= 3; ++id) {
    SCOPED_TRACE("writer " + std::to_string(id));
    std::ifstream acks(dir_ + "/acks" + std::to_string(id) + ".log");
    std::string line, last_db;
    int64_t n = 0, pg_acks = 0;
    while (std::getline(acks, line)) {
      std::istringstream ls(line);
      std::string seq, counter, ms, where;
      ls >> seq >> counter >> ms >> where;
      ++n;
      EXPECT_EQ(std::stoll(seq), n) << "acknowledged sequence without gaps";
      if (where == "pg") ++pg_acks;
      last_db = where;
    }
    ASSERT_GT(n, 100);
    EXPECT_GT(pg_acks, 20) << "the writer wrote to PostgreSQL in between";
    EXPECT_EQ(last_db, "sqlite") << "the writer ended on SQLite";
    auto st = s->Prepare("SELECT count(*), count(DISTINCT seq), max(seq) FROM events_log WHERE writer = ?");
    ASSERT_TRUE(st.ok());
    st->Bind(1, static_cast<int64_t>(id));
    ASSERT_TRUE(*st->Step());
    EXPECT_EQ(st->Int(0), n) << "every acknowledged write once";
    EXPECT_EQ(st->Int(1), n);
    EXPECT_EQ(st->Int(2), n);
    auto counter = s->Prepare("SELECT n FROM counters WHERE id = ?");
    ASSERT_TRUE(counter.ok());
    counter->Bind(1, static_cast<int64_t>(id));
    ASSERT_TRUE(*counter->Step());
    EXPECT_EQ(counter->Int(0), n) << "the counter equals the acknowledged increments";
  }
  auto slow_row = s->QueryInt("SELECT count(*) FROM events_log WHERE writer = 99");
  ASSERT_TRUE(slow_row.ok());
  EXPECT_EQ(slow_row->value_or(0), 1);
  auto slow_counter = s->QueryInt("SELECT n FROM counters WHERE id = 99");
  EXPECT_EQ(slow_counter->value_or(0), 1);
  // AUTOINCREMENT stays past every id PostgreSQL handed out.
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  auto pg_max = pg->Exec("SELECT last_value FROM " + pg->Exec("SELECT pg_get_serial_sequence('public.events_log', 'id')")->Str(0, 0));
  ASSERT_TRUE(pg_max.ok());
  auto seq = s->QueryInt("SELECT seq FROM sqlite_sequence WHERE name = 'events_log'");
  EXPECT_GE(seq->value_or(0), std::stoll(pg_max->Str(0, 0)));
  // The forward stream takes what SQLite took since; then both are equal.
  RunResult fwd = RunSlipway({"stream", "--source", db_, "--target", target_, "--until-caught-up"});
  ASSERT_EQ(fwd.exit_code, 0) << fwd.err;
  RunResult v = RunSlipway({"verify", "--source", db_, "--target", target_});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  std::printf("rollback freezes: %.1f ms, %.1f ms\n", freezes.size() > 0 ? freezes[0] : 0.0,
              freezes.size() > 1 ? freezes[1] : 0.0);
}

// Without a running stream the rollback catches up by itself.
TEST_F(RollbackTest, WorksWithoutAStream) {
  ASSERT_EQ(RunSlipway(MoveArgs("cutover")).exit_code, 0);
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  ASSERT_TRUE(pg->Run("UPDATE counters SET n = 7 WHERE id = 1; "
                      "INSERT INTO events_log (writer, seq, at) VALUES (1, 1, 'x'), (1, 2, 'y'); "
                      "DELETE FROM counters WHERE id = 3; "
                      "INSERT INTO notes (txt) VALUES ('c')")
                  .ok())
      << "the app inserts into a table keyed by rowid without naming one";
  RunResult r = RunSlipway(MoveArgs("rollback"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->QueryInt("SELECT n FROM counters WHERE id = 1")->value_or(-1), 7);
  EXPECT_EQ(s->QueryInt("SELECT count(*) FROM counters WHERE id = 3")->value_or(-1), 0);
  EXPECT_EQ(s->QueryInt("SELECT count(*) FROM events_log")->value_or(-1), 2);
  EXPECT_EQ(s->QueryText("SELECT txt FROM notes WHERE rowid = 3")->value_or(""), "c")
      << "the row PostgreSQL numbered comes back under SQLite's next rowid";
  EXPECT_TRUE(SqliteAcceptsWrites(db_));
  EXPECT_FALSE(PgAcceptsWrites(target_));
  // Running it again is safe.
  RunResult again = RunSlipway(MoveArgs("rollback"));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["outcome"], "already rolled back");
  // Nothing to roll back before a cutover.
  std::string other = FreshDatabase();
  std::string db2 = MakeSqlite(dir_, "b.db", kCountersSchema);
  ASSERT_EQ(RunSlipway({"snapshot", "--source", db2, "--target", other}).exit_code, 0);
  RunResult none = RunSlipway({"rollback", "--source", db2, "--target", other, "--flip-file", env_, "--flip-key",
                               "DATABASE_URL", "--app-url", "sqlite://x"});
  EXPECT_EQ(none.exit_code, 8) << none.err;
  EXPECT_NE(none.err.find("nothing to roll back"), std::string::npos) << none.err;
}

// A value changed in SQLite behind slipway's back after the rollback's full
// verify, for a key the app touched in PostgreSQL: the check of touched keys
// before the freeze attempt finds it (the key was touched before that check's
// position and not after), names table, key and both values, and the
// rollback refuses with the app still on PostgreSQL.
TEST_F(RollbackTest, AValuePlantedInSqliteAfterTheFullVerifyIsFound) {
  ASSERT_EQ(RunSlipway(MoveArgs("cutover")).exit_code, 0);
  const std::string flag = dir_ + "/hold-rollback";
  const std::string out = dir_ + "/rollback";
  std::filesystem::create_directories(out);
  const int pid = StartProgram(SLIPWAY_BINARY, MoveArgs("rollback", {"--postpone", "--postpone-file", flag}), out);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(flag) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(std::filesystem::exists(flag)) << "the rollback did not reach its postponed wait";

  // The app touches the key in PostgreSQL; the waiting rollback carries it
  // to SQLite (it catches up while postponed).
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  ASSERT_TRUE(pg->Run("UPDATE counters SET n = 5 WHERE id = 2").ok());
  auto s = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(s.ok());
  bool arrived = false;
  for (int i = 0; i < 100 && !arrived; ++i) {
    auto n = s->QueryInt("SELECT n FROM counters WHERE id = 2");
    arrived = n.ok() && n->value_or(0) == 5;
    if (!arrived) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(arrived) << "the app's update reached SQLite";
  {
    // Behind slipway's back: the fence's triggers off on this connection.
    auto w = Db::Open(db_, Db::Mode::kReadWrite);
    ASSERT_TRUE(w.ok());
    int on = 1;
    ASSERT_EQ(sqlite3_db_config(w->get(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &on), SQLITE_OK);
    ASSERT_EQ(on, 0);
    ASSERT_TRUE(w->Exec("UPDATE counters SET n = 777 WHERE id = 2").ok());
  }
  std::filesystem::remove(flag);
  EXPECT_EQ(WaitProgram(pid), 1) << "the verify code: the databases differ";
  std::string err;
  for (const auto& f : std::filesystem::directory_iterator(out)) {
    if (f.path().extension() == ".err") err += ReadText(f.path().string());
  }
  EXPECT_NE(err.find("verification of the keys touched before the freeze: table counters id=2 column n: "
                     "PostgreSQL 5, SQLite 777"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("the app's database stays live"), std::string::npos) << err;
  auto phase = pg->Exec("SELECT phase FROM slipway.migration");
  ASSERT_TRUE(phase.ok());
  EXPECT_EQ(phase->Str(0, 0), "cut_over");
  EXPECT_TRUE(PgAcceptsWrites(target_)) << "the app stays on PostgreSQL";
  EXPECT_FALSE(SqliteAcceptsWrites(db_));
  EXPECT_EQ(EnvValue(env_, "DATABASE_URL"), target_);
}

// TRUNCATE cannot be carried back key by key: PostgreSQL refuses it after
// the cutover rather than let it be missed.
TEST_F(RollbackTest, TruncateIsRefusedAfterTheCutover) {
  ASSERT_EQ(RunSlipway(MoveArgs("cutover")).exit_code, 0);
  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  Status t = pg->Run("TRUNCATE events_log");
  EXPECT_FALSE(t.ok());
  EXPECT_NE(t.message().find("TRUNCATE"), std::string::npos) << t.message();
}

// A value written in PostgreSQL that SQLite's recorded form cannot hold stops
// the reverse stream naming table, key, column and value; SQLite keeps the
// row as it was.
TEST(ReverseValues, UnrepresentableValueStopsTheStream) {
  REQUIRE_PG();
  std::string dir = TempDir();
  std::string target = FreshDatabase();
  std::string db = MakeSqlite(dir, "app.db", R"sql(
    PRAGMA journal_mode=WAL;
    CREATE TABLE visits (id INTEGER PRIMARY KEY, at TEXT NOT NULL);
    INSERT INTO visits VALUES (1, '2024-01-02 03:04:05'), (2, '2024-05-06 07:08:09');
  )sql");
  ASSERT_EQ(RunSlipway({"snapshot", "--source", db, "--target", target}).exit_code, 0);
  std::string env = dir + "/app.env";
  std::ofstream(env) << "DATABASE_URL=sqlite://" << db << "\n";
  ASSERT_EQ(RunSlipway({"cutover", "--source", db, "--target", target, "--flip-file", env, "--flip-key",
                        "DATABASE_URL"}).exit_code, 0);
  auto pg = PgConn::Connect(target);
  ASSERT_TRUE(pg.ok());
  auto type = pg->Exec("SELECT data_type FROM information_schema.columns WHERE table_name = 'visits' AND column_name = 'at'");
  ASSERT_TRUE(type.ok());
  ASSERT_EQ(type->Str(0, 0), "timestamp without time zone") << "the plan maps the date text to a timestamp";
  ASSERT_TRUE(pg->Run("UPDATE visits SET at = '2024-01-02 03:04:05.25' WHERE id = 1").ok());
  RunResult r = RunSlipway({"stream", "--source", db, "--target", target, "--until-caught-up"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("table visits"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("id=1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("column at"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("03:04:05.25"), std::string::npos) << r.err;
  auto s = Db::Open(db, Db::Mode::kReadOnly);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->QueryText("SELECT at FROM visits WHERE id = 1")->value_or(""), "2024-01-02 03:04:05");
}

// SQLite -> PostgreSQL -> SQLite gives back byte-identical values, for every
// representation the plan records: rows rewritten in PostgreSQL (every
// column set to itself) come back as they were, and rows copied in
// PostgreSQL come back as the same copy made in SQLite would be.
TEST(ReverseValues, RoundTripIsByteIdentical) {
  REQUIRE_PG();
  std::string dir = TempDir();
  std::string target = FreshDatabase();
  const std::string schema = R"sql(
    CREATE TABLE kinds (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      day TEXT, stamp TEXT, stamp_ms TEXT, stamp_tz TEXT, flag INTEGER, token TEXT, price REAL,
      amount NUMERIC, payload BLOB, note TEXT, raw TEXT, doc TEXT, epoch INTEGER);
    CREATE TABLE pairs (a TEXT NOT NULL, b INTEGER NOT NULL, v BLOB, PRIMARY KEY (a, b)) WITHOUT ROWID;
    CREATE TABLE blobkey (k BLOB PRIMARY KEY, v TEXT);
    CREATE TABLE nokey (a TEXT, b INTEGER);
  )sql";
  std::string rows;
  for (int i = 1; i <= 40; ++i) {
    const std::string n = std::to_string(i);
    rows += "INSERT INTO kinds (day, stamp, stamp_ms, stamp_tz, flag, token, price, amount, payload, note, raw, doc, epoch) VALUES ("
            "'2024-01-" + std::string(i < 10 ? "0" : "") + n + "', '2024-02-03 04:05:" + std::string(i < 10 ? "0" : "") + n +
            "', '2024-02-03T04:05:06." + std::string(i < 10 ? "00" : "0") + n + "', '2024-02-03T04:05:06+02:00', " +
            std::to_string(i % 2) + ", 'A1B2C3D4-0000-4000-8000-0000000000" + std::string(i < 10 ? "0" : "") + n + "', " +
            n + ".125, " + n + ".5, randomblob(" + std::to_string(i * 100) + "), 'line\nwith\ttabs ' || char(233) || '" + n +
            "', CAST(x'ff00fe' || x'" + std::string(i < 16 ? "0" : "") + [&] { char b[8]; std::snprintf(b, sizeof b, "%x", i); return std::string(b); }() +
            "' AS TEXT), '{\"a\": " + n + ", \"b\": [1, 2]}', " + std::to_string(1700000000 + i) + ");\n";
    rows += "INSERT INTO pairs VALUES ('k" + n + "', " + n + ", x'00ff" + std::string(i < 16 ? "0" : "") +
            [&] { char b[8]; std::snprintf(b, sizeof b, "%x", i); return std::string(b); }() + "');\n";
    rows += "INSERT INTO blobkey VALUES (x'" + std::string(i < 16 ? "0" : "") +
            [&] { char b[8]; std::snprintf(b, sizeof b, "%x", i); return std::string(b); }() + "ab', 'v" + n + "');\n";
    rows += "INSERT INTO nokey VALUES ('r" + n + "', " + n + ");\n";
  }
  // Burned AUTOINCREMENT ids: the largest rows deleted.
  rows += "DELETE FROM kinds WHERE id > 36;\n";
  std::string db = MakeSqlite(dir, "app.db", "PRAGMA journal_mode=WAL;\n" + schema + rows);
  std::string twin = MakeSqlite(dir, "twin.db", schema + rows);
  std::filesystem::copy_file(db, twin, std::filesystem::copy_options::overwrite_existing);
  RunResult plan = RunSlipway({"plan", "--source", db, "--target", target, "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  ASSERT_EQ(RunSlipway({"snapshot", "--source", db, "--target", target}).exit_code, 0);
  std::string env = dir + "/app.env";
  std::ofstream(env) << "DATABASE_URL=sqlite://" << db << "\n";
  ASSERT_EQ(RunSlipway({"cutover", "--source", db, "--target", target, "--flip-file", env, "--flip-key",
                        "DATABASE_URL"}).exit_code, 0);
  auto pg = PgConn::Connect(target);
  ASSERT_TRUE(pg.ok());
  // Every row rewritten with its own values, in PostgreSQL.
  for (const char* t : {"kinds", "pairs", "blobkey", "nokey"}) {
    auto cols = pg->ExecParams("SELECT string_agg(quote_ident(column_name) || ' = ' || quote_ident(column_name), ', ') "
                               "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 "
                               "AND column_name <> 'id' AND column_name <> '_slipway_rowid'",
                               {t});
    ASSERT_TRUE(cols.ok());
    ASSERT_TRUE(pg->Run(std::string("UPDATE ") + t + " SET " + cols->Str(0, 0)).ok()) << t;
  }
  // Copies and deletes, the same in both.
  const std::vector<std::string> writes = {
      "INSERT INTO pairs (a, b, v) SELECT a || 'x', b + 100, v FROM pairs WHERE b <= 5",
      "DELETE FROM pairs WHERE b BETWEEN 6 AND 8",
      "UPDATE pairs SET b = b + 1000 WHERE b BETWEEN 9 AND 10",
      "DELETE FROM blobkey WHERE v = 'v3'",
      "UPDATE nokey SET a = 'changed' WHERE b = 4",
      "DELETE FROM nokey WHERE b = 5",
      "DELETE FROM kinds WHERE id = 2",
  };
  for (const auto& w : writes) ASSERT_TRUE(pg->Run(w).ok()) << w;
  {
    auto t = Db::Open(twin, Db::Mode::kReadWrite);
    ASSERT_TRUE(t.ok());
    for (const auto& w : writes) ASSERT_TRUE(t->Exec(w).ok()) << w;
  }
  RunResult r = RunSlipway({"rollback", "--source", db, "--target", target, "--flip-file", env, "--flip-key",
                            "DATABASE_URL", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* t : {"kinds", "pairs", "blobkey", "nokey"}) {
    SCOPED_TRACE(t);
    RunResult a = RunProgram("/usr/bin/sqlite3", {db, std::string(".dump ") + t});
    RunResult b = RunProgram("/usr/bin/sqlite3", {twin, std::string(".dump ") + t});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(a.out, b.out) << "the app table differs from what the same writes made in SQLite";
  }
  // Burned AUTOINCREMENT ids stay burned.
  auto s = Db::Open(db, Db::Mode::kReadOnly);
  EXPECT_GE(s->QueryInt("SELECT seq FROM sqlite_sequence WHERE name = 'kinds'")->value_or(0), 40);
}

// Every corpus database that moves comes back byte for byte: snapshot,
// cutover, every row of every table rewritten in PostgreSQL with its own
// values (so every row is carried back), rollback; the `.dump` of each app
// table equals the one taken before the move.
TEST(ReverseValues, EveryCorpusDatabaseComesBackByteIdentical) {
  REQUIRE_PG();
  namespace fs = std::filesystem;
  int moved = 0;
  for (const auto& e : fs::recursive_directory_iterator(CorpusPath(""))) {
    if (!e.is_regular_file() || (e.path().extension() != ".db" && e.path().extension() != ".sqlite")) continue;
    SCOPED_TRACE(e.path().string());
    std::string dir = TempDir();
    std::string db = CopyFile(e.path().string(), dir);
    std::string target = FreshDatabase();
    if (RunSlipway({"plan", "--source", db, "--target", target}).exit_code != 0) continue;
    std::vector<std::string> tables;
    std::map<std::string, std::string> before;
    {
      auto d = Db::Open(db, Db::Mode::kReadOnly);
      ASSERT_TRUE(d.ok());
      // The app's tables: not SQLite's own, not virtual tables and their
      // shadow tables (a full-text index is kept logically equal, not
      // byte for byte: reverse_apply_test checks it).
      auto st = d->Prepare(
          "SELECT name FROM sqlite_schema t WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
          "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' AND NOT EXISTS (SELECT 1 FROM sqlite_schema v WHERE v.sql LIKE "
          "'CREATE VIRTUAL TABLE%' AND t.name LIKE v.name || '\\_%' ESCAPE '\\')");
      ASSERT_TRUE(st.ok());
      while (*st->Step()) tables.push_back(st->Text(0));
    }
    for (const auto& t : tables) before[t] = RunProgram("/usr/bin/sqlite3", {db, ".dump '" + t + "'"}).out;
    RunResult snap = RunSlipway({"snapshot", "--source", db, "--target", target, "--set-wal"});
    ASSERT_EQ(snap.exit_code, 0) << snap.err;
    std::string env = dir + "/app.env";
    std::ofstream(env) << "DATABASE_URL=sqlite://" << db << "\n";
    RunResult cut = RunSlipway({"cutover", "--source", db, "--target", target, "--flip-file", env, "--flip-key",
                                "DATABASE_URL"});
    ASSERT_EQ(cut.exit_code, 0) << cut.err;
    auto pg = PgConn::Connect(target);
    ASSERT_TRUE(pg.ok());
    auto moved_tables = pg->Exec(
        "SELECT c.relname, string_agg(quote_ident(a.attname) || ' = ' || quote_ident(a.attname), ', ') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
        "AND a.attname <> '_slipway_rowid' GROUP BY c.relname");
    ASSERT_TRUE(moved_tables.ok());
    ASSERT_TRUE(pg->Run("BEGIN; SET CONSTRAINTS ALL DEFERRED").ok());
    for (int i = 0; i < moved_tables->Rows(); ++i) {
      Status up = pg->Run("UPDATE " + QuotePgIdent(moved_tables->Str(i, 0)) + " SET " + moved_tables->Str(i, 1));
      ASSERT_TRUE(up.ok()) << up.message();
    }
    ASSERT_TRUE(pg->Run("COMMIT").ok());
    RunResult back = RunSlipway({"rollback", "--source", db, "--target", target, "--flip-file", env, "--flip-key",
                                 "DATABASE_URL"});
    ASSERT_EQ(back.exit_code, 0) << back.err;
    for (const auto& t : tables) {
      EXPECT_EQ(RunProgram("/usr/bin/sqlite3", {db, ".dump '" + t + "'"}).out, before[t]) << "table " << t;
    }
    ++moved;
  }
  EXPECT_GE(moved, 25);
}

// A crash at each named point of the rollback leaves one writable database
// at most, and --resume (or --abort) ends in a clean state.
TEST_F(RollbackTest, KilledAtEveryFailpoint) {
  struct Case {
    std::string point;
    bool pg_fenced;      // PostgreSQL refuses writes after the crash
    bool sqlite_open;    // SQLite accepts writes after the crash
  };
  const std::vector<Case> cases = {
      {"rollback.after_lock", false, false},         {"rollback.after_drain", false, false},
      {"rollback.before_fence_commit", false, false}, {"rollback.after_fence_commit", true, false},
      {"rollback.after_flip", true, false},          {"rollback.after_unfence", true, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE(c.point);
    if (i > 0) {
      target_ = FreshDatabase();
      std::filesystem::remove(db_);
      std::filesystem::remove(db_ + "-wal");
      std::filesystem::remove(db_ + "-shm");
      db_ = MakeSqlite(dir_, "app" + std::to_string(i) + ".db", kCountersSchema);
      ASSERT_EQ(RunSlipway({"snapshot", "--source", db_, "--target", target_}).exit_code, 0);
      std::ofstream(env_) << "DATABASE_URL=sqlite://" << db_ << "\n";
      std::filesystem::remove(env_ + ".slipway-backup");
    }
    RunResult cut = RunSlipway(MoveArgs("cutover"));
    ASSERT_EQ(cut.exit_code, 0) << cut.err;
    auto pg = PgConn::Connect(target_);
    ASSERT_TRUE(pg.ok());
    ASSERT_TRUE(pg->Run("UPDATE counters SET n = n + 5 WHERE id = 1; "
                        "INSERT INTO events_log (writer, seq, at) VALUES (1, 1, 'x')")
                    .ok());
    RunResult crashed = RunSlipway(MoveArgs("rollback"), {"SLIPWAY_FAILPOINTS=" + c.point + "=crash"});
    ASSERT_EQ(crashed.exit_code, 128 + SIGKILL) << crashed.err;
    const bool sqlite_writable = SqliteAcceptsWrites(db_);
    const bool pg_writable = PgAcceptsWrites(target_);
    EXPECT_FALSE(sqlite_writable && pg_writable) << "two writable databases";
    EXPECT_EQ(pg_writable, !c.pg_fenced);
    EXPECT_EQ(sqlite_writable, c.sqlite_open);
    if (!c.pg_fenced) {
      // As if nothing happened: the app is on PostgreSQL; a new rollback goes through.
      EXPECT_EQ(EnvValue(env_, "DATABASE_URL"), target_);
      RunResult again = RunSlipway(MoveArgs("rollback"));
      ASSERT_EQ(again.exit_code, 0) << again.err;
    } else if (i % 2 == 1 && !c.sqlite_open) {
      RunResult abort = RunSlipway(MoveArgs("rollback", {"--abort"}));
      ASSERT_EQ(abort.exit_code, 0) << abort.err;
      EXPECT_TRUE(PgAcceptsWrites(target_));
      EXPECT_FALSE(SqliteAcceptsWrites(db_));
      EXPECT_EQ(EnvValue(env_, "DATABASE_URL"), target_);
      RunResult again = RunSlipway(MoveArgs("rollback"));
      ASSERT_EQ(again.exit_code, 0) << again.err;
    } else {
      // Alternately --resume, and the same command run again (as a service
      // restarting it would): both finish the move.
      RunResult resume = RunSlipway(MoveArgs("rollback", i % 2 == 0 ? std::vector<std::string>{"--resume"}
                                                                     : std::vector<std::string>{}));
      ASSERT_EQ(resume.exit_code, 0) << resume.err;
      EXPECT_EQ(nlohmann::json::parse(resume.out)["outcome"], "resumed");
    }
    EXPECT_TRUE(SqliteAcceptsWrites(db_));
    EXPECT_FALSE(PgAcceptsWrites(target_));
    EXPECT_EQ(EnvValue(env_, "DATABASE_URL"), "sqlite://" + db_);
    auto s = Db::Open(db_, Db::Mode::kReadOnly);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->QueryInt("SELECT n FROM counters WHERE id = 1")->value_or(-1), 5) << "the PostgreSQL write came back once";
    EXPECT_EQ(s->QueryInt("SELECT count(*) FROM events_log")->value_or(-1), 1);
    RunResult fwd = RunSlipway({"stream", "--source", db_, "--target", target_, "--until-caught-up"});
    ASSERT_EQ(fwd.exit_code, 0) << fwd.err;
    RunResult v = RunSlipway({"verify", "--source", db_, "--target", target_});
    EXPECT_EQ(v.exit_code, 0) << v.out;
  }
}

}  // namespace
}  // namespace slipway::testing
