// The Applier in-process, round by round, on tables keyed by one integer:
// a rowid table without AUTOINCREMENT and an INTEGER PRIMARY KEY table (both
// hand out max+1 again after the largest key is deleted), each with a
// secondary UNIQUE. The applier skips the DELETE of touched keys above the
// largest key it knows the target holds; after every round the target must
// equal the source row for row, through the pipelined path and the COPY
// path, across failed rounds, whole-table copies and fresh appliers.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/forward_applier.h"
#include "replicator/capture.h"
#include "replicator/pg_state.h"
#include "replicator/session.h"
#include "schema/plan.h"
#include "tests/harness/sqlite_fixture.h"
#include "tests/harness/test_env.h"

namespace slipway::testing {
namespace {

constexpr const char* kSchema = R"sql(
PRAGMA journal_mode=WAL;
CREATE TABLE r (a TEXT UNIQUE, n INTEGER);
CREATE TABLE p (id INTEGER PRIMARY KEY, u INTEGER UNIQUE, v TEXT);
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 10)
INSERT INTO r (a, n) SELECT 'a' || i, i FROM k;
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 10)
INSERT INTO p (id, u, v) SELECT i, i, 'v' || i FROM k;
)sql";

// Pipeline limits: 0 sends every round through COPY, 1000 through the pipeline.
constexpr int64_t kCopyPath = 0;
constexpr int64_t kPipelinePath = 1000;

class ApplierTest : public TargetTest, public ::testing::WithParamInterface<int64_t> {
 protected:
  void Init(const std::string& sql = kSchema) {
    db_path_ = MakeSqlite(dir_, "app.db", sql);
    RunResult snap = RunSlipway({"snapshot", "--source", db_path_, "--target", target_});
    ASSERT_EQ(snap.exit_code, 0) << snap.out << snap.err;
    auto w = Db::Open(db_path_, Db::Mode::kReadWrite);
    ASSERT_TRUE(w.ok()) << w.status().message();
    writer_ = std::move(*w);
    auto rd = Db::Open(db_path_, Db::Mode::kReadOnly);
    ASSERT_TRUE(rd.ok()) << rd.status().message();
    reader_ = std::move(*rd);
    auto c = PgConn::Connect(target_);
    ASSERT_TRUE(c.ok()) << c.status().message();
    pg_ = std::move(*c);
    ASSERT_TRUE(replicator::SetupSession(pg_, replicator::SessionRole::kApplier).ok());
    auto c2 = PgConn::Connect(target_);
    ASSERT_TRUE(c2.ok()) << c2.status().message();
    admin_ = std::move(*c2);
    auto m = replicator::ReadMigration(pg_);
    ASSERT_TRUE(m.ok() && m->has_value());
    auto plan = schema::PlanFromJson((*m)->plan);
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    plan_ = std::move(*plan);
    auto start = pg_.Exec("SELECT coalesce(min(start_seq), 0) FROM slipway.tables");
    ASSERT_TRUE(start.ok());
    applied_ = std::max<int64_t>((*m)->applied_seq, std::stoll(start->Str(0, 0)));
    auto cap = replicator::ReadCapture(reader_);
    ASSERT_TRUE(cap.ok()) << cap.status().message();
    tids_ = cap->tids;
  }

  std::unique_ptr<replicator::ForwardApplier> NewApplier() {
    auto a = std::make_unique<replicator::ForwardApplier>(reader_, pg_, plan_, tids_);
    a->set_pipeline_max(GetParam());
    return a;
  }

  // Applies every change up to the newest in one round.
  Status Round(replicator::ForwardApplier& a) {
    RETURN_IF_ERROR(reader_.Exec("BEGIN"));
    auto newest = reader_.QueryInt("SELECT max(seq) FROM _slipway_changelog");
    if (!newest.ok()) {
      (void)reader_.Exec("COMMIT");
      return newest.status();
    }
    const int64_t to = std::max(applied_, newest->value_or(0));
    auto rs = a.ApplyRange(applied_, to);
    (void)reader_.Exec("COMMIT");
    if (!rs.ok()) return rs.status();
    applied_ = to;
    return Status::Ok();
  }

  void Write(const std::string& sql) {
    Status s = writer_.Exec(sql);
    ASSERT_TRUE(s.ok()) << sql << ": " << s.message();
  }

  // Every row of both tables, key first, in key order, one string per row.
  std::vector<std::string> SourceRows(const std::string& table) {
    std::vector<std::string> out;
    const std::string sql = table == "r" ? "SELECT rowid, a, n FROM r ORDER BY rowid" : "SELECT id, u, v FROM p ORDER BY id";
    auto st = reader_.Prepare(sql);
    EXPECT_TRUE(st.ok());
    if (!st.ok()) return out;
    while (true) {
      auto row = st->Step();
      EXPECT_TRUE(row.ok());
      if (!row.ok() || !*row) break;
      std::string line;
      for (int i = 0; i < 3; ++i) line += (i ? "|" : "") + st->OptText(i).value_or("<null>");
      out.push_back(line);
    }
    return out;
  }
  std::vector<std::string> TargetRows(const std::string& table) {
    std::vector<std::string> out;
    const std::string sql =
        table == "r" ? "SELECT _slipway_rowid, a, n FROM r ORDER BY 1" : "SELECT id, u, v FROM p ORDER BY id";
    auto r = admin_.Exec(sql);
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return out;
    for (int i = 0; i < r->Rows(); ++i) {
      std::string line;
      for (int c = 0; c < 3; ++c) line += (c ? "|" : "") + r->Opt(i, c).value_or("<null>");
      out.push_back(line);
    }
    return out;
  }
  void ExpectSame(const std::string& when) {
    for (const char* t : {"r", "p"}) {
      EXPECT_EQ(SourceRows(t), TargetRows(t)) << "table " << t << " " << when;
    }
  }
  void ApplyAndCheck(replicator::ForwardApplier& a, const std::string& when) {
    Status s = Round(a);
    ASSERT_TRUE(s.ok()) << when << ": " << s.message();
    ExpectSame(when);
  }

  std::string db_path_;
  Db writer_, reader_;
  PgConn pg_, admin_;
  schema::Plan plan_;
  std::map<std::string, int> tids_;
  int64_t applied_ = 0;
};

TEST_P(ApplierTest, NewKeysAboveTheLargestAreUpdatedInLaterRounds) {
  ASSERT_NO_FATAL_FAILURE(Init());
  auto a = NewApplier();
  // New keys above every key the target holds, then changes to them: a bound
  // not raised after the first round would insert them twice.
  Write("INSERT INTO r (a, n) VALUES ('new1', 1), ('new2', 2); INSERT INTO p (u, v) VALUES (100, 'x'), (101, 'y')");
  ApplyAndCheck(*a, "after inserts above the largest key");
  Write("UPDATE r SET n = n + 10 WHERE a LIKE 'new%'; UPDATE p SET v = v || '!' WHERE u >= 100");
  ApplyAndCheck(*a, "after updating them");
  // A key moved far above the largest, then changed again.
  Write("UPDATE p SET id = 5000 WHERE id = 3");
  ApplyAndCheck(*a, "after a key update above the largest");
  Write("UPDATE p SET v = 'moved' WHERE id = 5000");
  ApplyAndCheck(*a, "after changing the moved row");
  // Explicit keys far below and above, negative ones too.
  Write("INSERT INTO r (rowid, a, n) VALUES (-7, 'neg', 0), (900, 'high', 0); INSERT INTO p (id, u, v) VALUES (-3, -3, 'n')");
  ApplyAndCheck(*a, "after explicit keys");
  Write("UPDATE r SET n = 1 WHERE rowid IN (-7, 900); UPDATE p SET v = 'm' WHERE id = -3");
  ApplyAndCheck(*a, "after changing them");
}

TEST_P(ApplierTest, DeletedLargestKeyIsHandedOutAgain) {
  ASSERT_NO_FATAL_FAILURE(Init());
  auto a = NewApplier();
  Write("UPDATE r SET n = n WHERE rowid = 1; UPDATE p SET v = v WHERE id = 1");
  ApplyAndCheck(*a, "after a first round");
  // SQLite without AUTOINCREMENT hands out max(rowid)+1: the deleted largest
  // key comes back with another row.
  Write("DELETE FROM r WHERE rowid = 10; DELETE FROM p WHERE id = 10");
  ApplyAndCheck(*a, "after deleting the largest keys");
  Write("INSERT INTO r (a, n) VALUES ('again10', 99); INSERT INTO p (u, v) VALUES (210, 'again10')");
  ASSERT_EQ(SourceRows("r").back().substr(0, 3), "10|");
  ASSERT_EQ(SourceRows("p").back().substr(0, 3), "10|");
  ApplyAndCheck(*a, "after the largest keys came back");
  Write("UPDATE r SET n = 100 WHERE rowid = 10; UPDATE p SET v = 'changed' WHERE id = 10");
  ApplyAndCheck(*a, "after changing the rows that came back");
  // Deleted and handed out again in one round, each key taking the unique
  // value the other one had.
  Write("DELETE FROM r WHERE rowid IN (10, 9); INSERT INTO r (a, n) VALUES ('again10', 1), ('a9', 2);"
        "DELETE FROM p WHERE id IN (10, 9); INSERT INTO p (id, u, v) VALUES (9, 210, 'w'), (10, 9, 'w');");
  ASSERT_EQ(SourceRows("r").back(), "10|a9|2");
  ApplyAndCheck(*a, "after delete and re-insert in one round");
  // A fresh applier reads the bound from the target (now 10); delete the
  // largest again, and let yet another applier read the lower bound before
  // the key comes back.
  a = NewApplier();
  Write("DELETE FROM r WHERE rowid = 10; DELETE FROM p WHERE id = 10");
  ApplyAndCheck(*a, "after deleting the largest keys (fresh applier)");
  a = NewApplier();
  Write("INSERT INTO r (a, n) VALUES ('third10', 3); INSERT INTO p (u, v) VALUES (310, 'third10')");
  ApplyAndCheck(*a, "after the largest keys came back (fresh applier)");
  Write("UPDATE r SET n = 4 WHERE rowid = 10; UPDATE p SET v = 'again' WHERE id = 10");
  ApplyAndCheck(*a, "after changing them (fresh applier)");
}

TEST_P(ApplierTest, KeysBelowTheLargestComeBack) {
  ASSERT_NO_FATAL_FAILURE(Init());
  auto a = NewApplier();
  Write("DELETE FROM r WHERE rowid IN (3, 4); DELETE FROM p WHERE id IN (3, 4)");
  ApplyAndCheck(*a, "after deleting keys below the largest");
  Write("INSERT INTO r (rowid, a, n) VALUES (3, 'back3', 3); INSERT INTO p (id, u, v) VALUES (3, 3, 'back3')");
  ApplyAndCheck(*a, "after re-inserting one");
  // REPLACE through the secondary UNIQUE: the row holding the value goes,
  // the new row has a key above the largest.
  Write("INSERT OR REPLACE INTO r (a, n) VALUES ('a5', 55); INSERT OR REPLACE INTO p (u, v) VALUES (6, 'replaced')");
  ApplyAndCheck(*a, "after REPLACE through the unique index");
  // Unique values swapped between an existing row and a new one.
  Write("UPDATE p SET u = 1000 WHERE id = 1; INSERT INTO p (u, v) VALUES (1, 'took u=1');"
        "UPDATE r SET a = 'gone' WHERE rowid = 1; INSERT INTO r (a, n) VALUES ('a1', 0)");
  ApplyAndCheck(*a, "after a swap with a new row");
}

TEST_P(ApplierTest, EmptyTargetTable) {
  ASSERT_NO_FATAL_FAILURE(Init(R"sql(
PRAGMA journal_mode=WAL;
CREATE TABLE r (a TEXT UNIQUE, n INTEGER);
CREATE TABLE p (id INTEGER PRIMARY KEY, u INTEGER UNIQUE, v TEXT);
)sql"));
  auto a = NewApplier();
  Write("INSERT INTO r (a, n) VALUES ('one', 1); INSERT INTO p (u, v) VALUES (1, 'one')");
  ApplyAndCheck(*a, "after the first rows");
  Write("UPDATE r SET n = 2; UPDATE p SET v = 'two'");
  ApplyAndCheck(*a, "after changing them");
}

TEST_P(ApplierTest, FailedRoundRollsBackAndIsAppliedAgain) {
  ASSERT_NO_FATAL_FAILURE(Init());
  // A target-side trigger that fires even for the applier's session refuses
  // one value, so a round fails after some of its statements ran.
  ASSERT_TRUE(admin_
                  .Run("CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$BEGIN RAISE EXCEPTION 'refused'; END$$;"
                       "CREATE TRIGGER refuse BEFORE INSERT ON public.p FOR EACH ROW WHEN (NEW.v = 'boom') "
                       "EXECUTE FUNCTION public.refuse(); ALTER TABLE public.p ENABLE ALWAYS TRIGGER refuse")
                  .ok());
  auto a = NewApplier();
  Write("INSERT INTO p (u, v) VALUES (100, 'x'), (101, 'boom'), (102, 'y'); UPDATE p SET v = 'z' WHERE id = 2;"
        "INSERT INTO r (a, n) VALUES ('new', 1)");
  const int64_t before = applied_;
  Status s = Round(*a);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("refused"), std::string::npos) << s.message();
  EXPECT_EQ(applied_, before);
  auto pos = admin_.Exec("SELECT applied_seq FROM slipway.migration");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(std::stoll(pos->Str(0, 0)), before) << "the failed round must not have moved the position";
  auto n = admin_.Exec("SELECT count(*) FROM public.p WHERE u >= 100");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->Str(0, 0), "0") << "the failed round must have been rolled back";
  // The same applier carries on.
  Write("UPDATE p SET v = 'fine' WHERE v = 'boom'");
  ApplyAndCheck(*a, "after the failed round was applied again");
  Write("UPDATE p SET v = v || '+' WHERE u >= 100; UPDATE r SET n = 2 WHERE a = 'new'");
  ApplyAndCheck(*a, "after changing the rows of the failed round");
}

TEST_P(ApplierTest, WholeTableCopyForgetsTheBound) {
  ASSERT_NO_FATAL_FAILURE(Init());
  auto a = NewApplier();
  Write("UPDATE p SET v = 'w' WHERE id = 1; UPDATE r SET n = 0 WHERE rowid = 1");
  ApplyAndCheck(*a, "after a first round");
  // Rows above the bound arrive through a whole-table copy (their changelog
  // entries are in the copied round); later changes to them must delete
  // before inserting.
  Write("INSERT INTO p (u, v) VALUES (100, 'c1'), (101, 'c2'); INSERT INTO r (a, n) VALUES ('c1', 1)");
  a->Resync({tids_.at("p"), tids_.at("r")});
  ApplyAndCheck(*a, "after the whole-table copy");
  Write("UPDATE p SET v = 'changed' WHERE u >= 100; UPDATE r SET n = 2 WHERE a = 'c1'");
  ApplyAndCheck(*a, "after changing rows the copy brought");
}

TEST_P(ApplierTest, NoDeleteForNewKeysAboveTheLargest) {
  ASSERT_NO_FATAL_FAILURE(Init());
  // Counts the DELETE statements the applier runs on p.
  ASSERT_TRUE(admin_
                  .Run("CREATE TABLE public.deletes (n int); INSERT INTO public.deletes VALUES (0);"
                       "CREATE FUNCTION public.count_delete() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$BEGIN UPDATE public.deletes SET n = n + 1; RETURN NULL; END$$;"
                       "CREATE TRIGGER count_delete AFTER DELETE ON public.p FOR EACH STATEMENT "
                       "EXECUTE FUNCTION public.count_delete(); ALTER TABLE public.p ENABLE ALWAYS TRIGGER count_delete")
                  .ok());
  auto deletes = [&] {
    auto r = admin_.Exec("SELECT n FROM public.deletes");
    EXPECT_TRUE(r.ok());
    return r.ok() ? std::stoll(r->Str(0, 0)) : -1;
  };
  auto a = NewApplier();
  Write("INSERT INTO p (u, v) VALUES (100, 'a'), (101, 'b'), (102, 'c')");
  ApplyAndCheck(*a, "after inserts above the largest key");
  EXPECT_EQ(deletes(), 0) << "keys above the largest were deleted first";
  Write("UPDATE p SET v = 'd' WHERE u = 100");
  ApplyAndCheck(*a, "after an update");
  EXPECT_EQ(deletes(), 1);
}

TEST_P(ApplierTest, RandomChangesRoundByRound) {
  ASSERT_NO_FATAL_FAILURE(Init());
  std::mt19937_64 rng(GetParam() + 17);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  auto a = NewApplier();
  for (int round = 0; round < 60; ++round) {
    const int64_t ops = pick(1, 40);
    Write("BEGIN");
    for (int64_t i = 0; i < ops; ++i) {
      const std::string k = std::to_string(pick(-2, 30));
      const std::string u = std::to_string(pick(0, 40));
      switch (pick(0, 9)) {
        case 0: case 1:
          Write("INSERT OR IGNORE INTO p (u, v) VALUES (" + u + ", 'i')");
          Write("INSERT OR IGNORE INTO r (a, n) VALUES ('a" + u + "', 0)");
          break;
        case 2:
          Write("INSERT OR REPLACE INTO p (id, u, v) VALUES (" + k + ", " + u + ", 'rep')");
          Write("INSERT OR REPLACE INTO r (rowid, a, n) VALUES (" + k + ", 'a" + u + "', 1)");
          break;
        case 3:
          // The largest key, deleted: SQLite hands it out again.
          Write("DELETE FROM p WHERE id = (SELECT max(id) FROM p)");
          Write("DELETE FROM r WHERE rowid = (SELECT max(rowid) FROM r)");
          break;
        case 4:
          Write("DELETE FROM p WHERE id = " + k);
          Write("DELETE FROM r WHERE rowid = " + k);
          break;
        case 5:
          Write("UPDATE OR IGNORE p SET id = id + 7 WHERE id = " + k);
          Write("UPDATE OR IGNORE r SET rowid = rowid + 7 WHERE rowid = " + k);
          break;
        case 6:
          Write("UPDATE OR REPLACE p SET u = " + u + " WHERE id = " + k);
          Write("UPDATE OR REPLACE r SET a = 'a" + u + "' WHERE rowid = " + k);
          break;
        default:
          Write("UPDATE p SET v = v || 'u' WHERE id = " + k);
          Write("UPDATE r SET n = n + 1 WHERE rowid = " + k);
          break;
      }
    }
    Write("COMMIT");
    // Now and then a fresh applier (bound read again) or a whole copy.
    if (pick(0, 9) == 0) a = NewApplier();
    if (pick(0, 14) == 0) a->Resync({tids_.at(pick(0, 1) ? "p" : "r")});
    ApplyAndCheck(*a, "round " + std::to_string(round));
    if (HasFailure()) break;
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, ApplierTest, ::testing::Values(kCopyPath, kPipelinePath),
                         [](const ::testing::TestParamInfo<int64_t>& info) {
                           return info.param == kCopyPath ? std::string("Copy") : std::string("Pipeline");
                         });

}  // namespace
}  // namespace slipway::testing
