// `slipway stream` end to end: an app-like writer (tests/tools/change_writer)
// makes every kind of change while the stream applies them; the stream is
// crashed at its failpoints, killed at random moments, cut off from a
// restarting PostgreSQL, paused, blocked by the app's write lock, and handed
// schema changes. Each test ends with `stream --until-caught-up`, `verify`
// (equal, nothing pending), and an exactly-once check: every target table
// has a primary key with no key twice, and the counters (only ever
// incremented) are equal on both sides.
#include "tests/integration/stream_fixture.h"

namespace slipway::testing {
namespace {

TEST_F(StreamTest, EveryKindOfChangeArrivesExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  // No background verify: it would keep the changelog back to where its
  // passes began (ContinuousVerifyTest checks that), and this test checks
  // that applied rows are pruned.
  auto stream = StartStream({"--verify-rate", "0"});
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

}  // namespace
}  // namespace slipway::testing
