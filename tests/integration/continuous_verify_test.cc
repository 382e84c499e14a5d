// The stream's background verifier (cutover/continuous_verifier.h) end to
// end: a real `slipway stream` with --verify-rate over the change writer's
// database, values planted behind the stream's back (in PostgreSQL with
// session_replication_role = replica, in SQLite with triggers off), `slipway
// status`, the stream's /status and /metrics, and `slipway cutover` reading
// what the verifier recorded.
#include <sys/stat.h>

#include "tests/integration/stream_fixture.h"

namespace slipway::testing {
namespace {

constexpr int kMismatchExit = 1;

class ContinuousVerifyTest : public StreamTest {
 protected:
  std::unique_ptr<Proc> StartVerifyingStream(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a = {"--verify-rate", "200000", "--verify-chunk-rows", "50"};
    a.insert(a.end(), extra.begin(), extra.end());
    return StartStream(a);
  }


  PgConn Target() {
    auto pg = PgConn::Connect(target_);
    EXPECT_TRUE(pg.ok()) << pg.status().message();
    return std::move(*pg);
  }

  // A write the stream does not see: the applier's own role turns the
  // guard's triggers off.
  void PlantInTarget(const std::string& sql, const std::vector<PgParam>& params = {}) {
    PgConn pg = Target();
    Status s = pg.Run("SET session_replication_role = replica");
    ASSERT_TRUE(s.ok()) << s.message();
    s = pg.ExecParams(sql, params).status();
    ASSERT_TRUE(s.ok()) << s.message();
  }

  // A write capture does not see when `triggers` is false.
  void WriteSource(const std::string& sql, const std::vector<std::string>& params, bool triggers) {
    auto db = Db::Open(db_, Db::Mode::kReadWrite);
    ASSERT_TRUE(db.ok()) << db.status().message();
    if (!triggers) {
      int on = 1;
      ASSERT_EQ(sqlite3_db_config(db->get(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &on), SQLITE_OK);
      ASSERT_EQ(on, 0);
    }
    auto st = db->Prepare(sql);
    ASSERT_TRUE(st.ok()) << st.status().message();
    for (size_t i = 0; i < params.size(); ++i) st->Bind(static_cast<int>(i + 1), std::string_view(params[i]));
    Status s = st->Run();
    ASSERT_TRUE(s.ok()) << s.message();
  }

  json Verify() {
    json st = StatusJson();
    return st.contains("verify") ? st["verify"] : json();
  }

  // True once `table` has an open mismatch naming `key`; polls status.
  bool WaitForMismatch(const std::string& table, const std::string& key, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 200) {
      json v = Verify();
      if (v.is_object()) {
        for (const auto& m : v["open_mismatches"]) {
          if (m["table"] == table && m["key"] == key) return true;
        }
      }
      Sleep(200);
    }
    return false;
  }

  // Every table of the plan has a complete pass under the current stamp
  // that began after `after_pass` (per table; 0: any).
  bool WaitForCompletePasses(int timeout_ms, std::map<std::string, int64_t>* passes = nullptr) {
    for (int waited = 0; waited < timeout_ms; waited += 200) {
      json v = Verify();
      bool all = v.is_object() && v["tables"].size() >= 6;
      if (all) {
        for (const auto& t : v["tables"]) {
          const auto& c = t["last_complete_pass"];
          int64_t need = passes != nullptr && passes->count(t["table"]) ? (*passes)[t["table"]] + 1 : 1;
          all = all && c.is_object() && c["current"].get<bool>() && c["pass"].get<int64_t>() >= need;
        }
      }
      if (all) {
        if (passes != nullptr) {
          for (const auto& t : v["tables"]) (*passes)[t["table"]] = t["last_complete_pass"]["pass"].get<int64_t>();
        }
        return true;
      }
      Sleep(200);
    }
    return false;
  }

  std::string Http(int port, const std::string& path) {
    RunResult r = RunProgram("/usr/bin/curl", {"-s", "http://127.0.0.1:" + std::to_string(port) + path});
    return r.out;
  }
};

// A value planted in PostgreSQL is found within the next pass and named in
// `slipway status`, /status and /metrics; a cutover refuses while it is open;
// put right, it is cleared. The same for a row changed in SQLite with
// triggers off (a table keyed by text, walked by lookups) and a row only
// PostgreSQL holds (found by the walk over the target's keys).
TEST_F(ContinuousVerifyTest, FindsPlantedValuesNamesTheKeyAndBlocksTheCutover) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  const int port = 20000 + ::getpid() % 20000;
  auto stream = StartVerifyingStream({"--http", "127.0.0.1:" + std::to_string(port)});
  std::map<std::string, int64_t> passes;
  ASSERT_TRUE(WaitForCompletePasses(30000, &passes)) << Verify().dump() << stream->Err();
  EXPECT_TRUE(Verify()["open_mismatches"].empty()) << Verify().dump();

  const int64_t id = SqliteInt("SELECT min(id) FROM items");
  ASSERT_NO_FATAL_FAILURE(PlantInTarget("UPDATE items SET name = 'planted' WHERE id = $1", {std::to_string(id)}));
  const std::string key = "id=" + std::to_string(id);
  EXPECT_TRUE(WaitForMismatch("items", key, 20000)) << Verify().dump() << stream->Err();

  RunResult text = RunSlipway({"status", "--source", db_, "--target", target_});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("MISMATCH    table items " + key + ": column name"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("'planted'"), std::string::npos) << text.out;
  const std::string status = Http(port, "/status");
  EXPECT_NE(status.find("\"open_mismatches\":[{"), std::string::npos) << status;
  EXPECT_NE(status.find(key), std::string::npos) << status;
  const std::string metrics = Http(port, "/metrics");
  EXPECT_NE(metrics.find("slipway_verify_open_mismatches 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("slipway_verify_mismatch{table=\"items\",key=\"" + key + "\"} 1"), std::string::npos)
      << metrics;

  // The cutover refuses before taking anything over.
  const std::string flip = dir_ + "/app.env";
  { std::ofstream(flip) << "DATABASE_URL=sqlite:///app.db\n"; }
  RunResult cut = RunSlipway({"cutover", "--source", db_, "--target", target_, "--flip-file", flip, "--flip-key",
                              "DATABASE_URL", "--max-freeze", "5s"});
  EXPECT_EQ(cut.exit_code, kMismatchExit) << cut.out << cut.err;
  EXPECT_NE(cut.err.find("open mismatch, first table items " + key), std::string::npos) << cut.err;
  EXPECT_EQ(ReadFile(flip), "DATABASE_URL=sqlite:///app.db\n");
  EXPECT_TRUE(stream->Running()) << stream->Err();

  // Put right behind the stream's back: cleared by the re-check.
  auto src = Db::Open(db_, Db::Mode::kReadOnly);
  ASSERT_TRUE(src.ok());
  auto name = src->Prepare("SELECT name FROM items WHERE id = ?1");
  ASSERT_TRUE(name.ok());
  name->Bind(1, id);
  auto found = name->Step();
  ASSERT_TRUE(found.ok() && *found);
  ASSERT_NO_FATAL_FAILURE(PlantInTarget("UPDATE items SET name = $1 WHERE id = $2", {name->Text(0), std::to_string(id)}));
  bool cleared = false;
  for (int i = 0; i < 50 && !cleared; ++i) {
    cleared = Verify()["open_mismatches"].empty();
    if (!cleared) Sleep(200);
  }
  EXPECT_TRUE(cleared) << Verify().dump();

  // SQLite changed with triggers off, in a table keyed by (text, integer).
  auto grp = src->QueryText("SELECT grp FROM pairs ORDER BY grp, n LIMIT 1 OFFSET 17");
  auto n = src->QueryInt("SELECT n FROM pairs ORDER BY grp, n LIMIT 1 OFFSET 17");
  ASSERT_TRUE(grp.ok() && grp->has_value() && n.ok() && n->has_value());
  ASSERT_NO_FATAL_FAILURE(WriteSource("UPDATE pairs SET val = 'planted in sqlite' WHERE grp = ?1 AND n = ?2",
                                      {**grp, std::to_string(**n)}, /*triggers=*/false));
  const std::string pair_key = "grp='" + **grp + "', n=" + std::to_string(**n);
  EXPECT_TRUE(WaitForMismatch("pairs", pair_key, 20000)) << Verify().dump() << stream->Err();

  // A row only PostgreSQL holds, in the same table: the walk over the
  // target's keys finds it.
  ASSERT_NO_FATAL_FAILURE(PlantInTarget("INSERT INTO pairs (grp, n, val) VALUES ('zz-only-in-target', 1, 'x')"));
  EXPECT_TRUE(WaitForMismatch("pairs", "grp='zz-only-in-target', n=1", 20000)) << Verify().dump() << stream->Err();
  bool extra_named = false;
  const json open = Verify()["open_mismatches"];
  for (const auto& m : open) extra_named = extra_named || m["what"] == "extra in target";
  EXPECT_TRUE(extra_named) << Verify().dump();

  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  // What the verifier recorded outlives the stream.
  EXPECT_GE(Verify()["open_mismatches"].size(), 2u) << Verify().dump();
}

// With a clean complete pass of every table, the cutover skips its full
// verify and says so; inside the freeze it still compares every key touched
// since the pass read its chunks, and refuses when one of them differs.
TEST_F(ContinuousVerifyTest, CutoverAfterACleanPassSkipsTheFullVerifyButChecksTouchedKeys) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartVerifyingStream();
  Proc writer(SLIPWAY_CHANGE_WRITER, WriterArgs(2, 21));
  std::map<std::string, int64_t> passes;
  ASSERT_TRUE(WaitForCompletePasses(30000, &passes)) << Verify().dump() << stream->Err();
  EXPECT_EQ(writer.Wait(60000), 0) << writer.Err();
  // Passes that began after the writer stopped.
  ASSERT_TRUE(WaitForCompletePasses(30000, &passes)) << Verify().dump() << stream->Err();
  ASSERT_TRUE(Verify()["open_mismatches"].empty()) << Verify().dump();

  // A dry run: the full verify is skipped, the freeze verifies touched keys.
  RunResult dry = RunSlipway({"cutover", "--source", db_, "--target", target_, "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  json report = json::parse(dry.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << dry.out;
  EXPECT_EQ(report["outcome"], "dry run");
  bool skipped = false;
  for (const auto& note : report["notes"]) {
    skipped = skipped || note.get<std::string>().rfind("full verify before the freeze skipped: ", 0) == 0;
  }
  EXPECT_TRUE(skipped) << dry.out;

  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  // --verify-max-age 0: never skipped.
  RunResult never = RunSlipway({"cutover", "--source", db_, "--target", target_, "--dry-run", "--json",
                                "--verify-max-age", "0"});
  ASSERT_EQ(never.exit_code, 0) << never.out << never.err;
  EXPECT_EQ(never.out.find("skipped"), std::string::npos) << never.out;

  // A key the app touches now, then a value planted in PostgreSQL for it
  // while the cutover is postponed (after its decision to skip): a
  // touched-key check finds it.
  const int64_t id = SqliteInt("SELECT max(id) FROM items");
  ASSERT_NO_FATAL_FAILURE(WriteSource("UPDATE items SET qty = qty + 1 WHERE id = ?1", {std::to_string(id)},
                                      /*triggers=*/true));
  const std::string flip = dir_ + "/app.env";
  { std::ofstream(flip) << "DATABASE_URL=sqlite:///app.db\n"; }
  const std::string hold = dir_ + "/postpone";
  Proc cut(SLIPWAY_BINARY, {"cutover", "--source", db_, "--target", target_, "--flip-file", flip, "--flip-key",
                            "DATABASE_URL", "--postpone", "--postpone-file", hold, "--attempts", "1"});
  bool postponed = false;
  for (int i = 0; i < 150 && !postponed; ++i) {
    postponed = cut.Err().find("postponed") != std::string::npos;
    if (!postponed) Sleep(100);
  }
  ASSERT_TRUE(postponed) << cut.Err();
  EXPECT_NE(cut.Err().find("full verify before the freeze skipped"), std::string::npos) << cut.Err();
  ASSERT_NO_FATAL_FAILURE(PlantInTarget("UPDATE items SET qty = -7 WHERE id = $1", {std::to_string(id)}));
  std::remove(hold.c_str());
  EXPECT_EQ(cut.Wait(60000), kMismatchExit) << cut.Err();
  // `items` holds TEXT: a postponed cutover verifies it whole again at its
  // release, then the keys touched so far before each freeze attempt, then
  // the rest inside the freeze; each check names the key.
  const bool in_freeze =
      cut.Err().find("verification inside the freeze: table items id=" + std::to_string(id) + " different") !=
      std::string::npos;
  const bool at_release =
      cut.Err().find("verification at the release found 1 differing keys in table items (e.g. id=" +
                     std::to_string(id) + ")") != std::string::npos;
  const bool before_freeze = cut.Err().find("verification of the keys touched before the freeze: table items id=" +
                                            std::to_string(id) + " different") != std::string::npos;
  EXPECT_TRUE(in_freeze || at_release || before_freeze) << cut.Err();
  EXPECT_EQ(ReadFile(flip), "DATABASE_URL=sqlite:///app.db\n");
}

// The background verify pauses with the stream: while the pause file exists
// it reads nothing, and it goes on once the file is gone.
TEST_F(ContinuousVerifyTest, PausesWithTheStream) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  const std::string pause = dir_ + "/pause";
  { std::ofstream(pause) << ""; }
  auto stream = StartVerifyingStream({"--pause-file", pause});
  Sleep(2000);
  json v = Verify();
  ASSERT_TRUE(v.is_object()) << StatusJson().dump();
  for (const auto& t : v["tables"]) {
    EXPECT_EQ(t["pass_rows"].get<int64_t>(), 0) << t.dump();
    EXPECT_TRUE(t["last_complete_pass"].is_null()) << t.dump();
  }
  std::remove(pause.c_str());
  EXPECT_TRUE(WaitForCompletePasses(30000)) << Verify().dump() << stream->Err();
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
}

// A pass that began before a schema change the stream carried over proves
// nothing about the tables as they are now: the cutover runs its full verify
// and says why.
TEST_F(ContinuousVerifyTest, PassesBeforeASchemaChangeDoNotCount) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  auto stream = StartVerifyingStream();
  ASSERT_TRUE(WaitForCompletePasses(30000)) << Verify().dump() << stream->Err();
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  RunResult before = RunSlipway({"cutover", "--source", db_, "--target", target_, "--dry-run", "--json"});
  ASSERT_EQ(before.exit_code, 0) << before.out << before.err;
  EXPECT_NE(before.out.find("full verify before the freeze skipped"), std::string::npos) << before.out;

  ASSERT_NO_FATAL_FAILURE(WriteSource("ALTER TABLE tags ADD COLUMN note TEXT", {}, /*triggers=*/true));
  RunResult carried = RunSlipway({"stream", "--source", db_, "--target", target_, "--until-caught-up"});
  ASSERT_EQ(carried.exit_code, 0) << carried.out << carried.err;
  const json tables = Verify()["tables"];
  for (const auto& t : tables) EXPECT_FALSE(t["last_complete_pass"]["current"].get<bool>()) << t.dump();
  RunResult after = RunSlipway({"cutover", "--source", db_, "--target", target_, "--dry-run", "--json"});
  ASSERT_EQ(after.exit_code, 0) << after.out << after.err;
  EXPECT_EQ(after.out.find("skipped"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("predates a schema change or a cutover"), std::string::npos) << after.out;
}

// Under a writer making every kind of change, the background verifier
// completes passes and never reports a mismatch: keys changed after a
// chunk's reads are pending and re-checked, not differences.
TEST_F(ContinuousVerifyTest, NoFalseMismatchesUnderAConcurrentWriter) {
  ASSERT_NO_FATAL_FAILURE(InitAndSnapshot());
  // Passes of a second or more: longer than the stream's once-a-second prune.
  auto stream = StartStream({"--verify-rate", "3000", "--verify-chunk-rows", "50"});
  std::map<std::string, int64_t> passes;
  ASSERT_TRUE(WaitForCompletePasses(30000, &passes)) << Verify().dump() << stream->Err();
  Proc writer(SLIPWAY_CHANGE_WRITER, WriterArgs(8, 22, {"--big-rows", "3000", "--big-at", "40"}));
  int polls = 0;
  while (writer.Running()) {
    json v = Verify();
    ASSERT_TRUE(v.is_object());
    EXPECT_TRUE(v["open_mismatches"].empty()) << v.dump() << stream->Err();
    ++polls;
    Sleep(300);
  }
  EXPECT_GT(polls, 5);
  // Every table had a complete pass while the writer wrote.
  const json tables = Verify()["tables"];
  for (const auto& t : tables) {
    EXPECT_GT(t["last_complete_pass"]["pass"].get<int64_t>(), passes[t["table"]]) << t.dump();
  }
  ExpectWriterOk(writer.Wait(1000), writer.Out(), writer.Err());
  // The changelog still holds every change after the oldest position the
  // complete passes (read while the writer wrote) began at: what a cutover
  // would check from.
  int64_t from = INT64_MAX;
  const json done = Verify()["tables"];
  for (const auto& t : done) from = std::min(from, t["last_complete_pass"]["from_seq"].get<int64_t>());
  EXPECT_LT(from, SqliteInt("SELECT max(seq) FROM _slipway_changelog"));
  EXPECT_LE(SqliteInt("SELECT min(seq) FROM _slipway_changelog"), from + 1);
  ASSERT_TRUE(WaitForCompletePasses(30000, &passes)) << Verify().dump() << stream->Err();
  EXPECT_TRUE(Verify()["open_mismatches"].empty()) << Verify().dump();
  // Passes that began after the last change let the stream prune it all.
  ASSERT_TRUE(WaitForCompletePasses(30000, &passes)) << Verify().dump() << stream->Err();
  ASSERT_TRUE(WaitForCompletePasses(30000, &passes)) << Verify().dump() << stream->Err();
  int64_t left = -1;
  for (int i = 0; i < 30 && left != 1; ++i) {
    left = SqliteInt("SELECT count(*) FROM _slipway_changelog");
    if (left != 1) Sleep(200);
  }
  EXPECT_EQ(left, 1) << "the newest changelog row is kept, every other one pruned";
  ASSERT_NO_FATAL_FAILURE(StopStream(*stream));
  EXPECT_EQ(stream->Err().find("mismatch:"), std::string::npos) << stream->Err();
  CatchUpAndVerify();
}

}  // namespace
}  // namespace slipway::testing
