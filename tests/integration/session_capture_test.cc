// Session capture end to end: the app's connections load slipway's SQLite
// extension (replicator/capture_extension/slipway_capture.h) and call
// slipway_capture() before COMMIT; other connections and autocommit writes
// are captured by the triggers. Real SQLite files, writer processes, a real
// PostgreSQL.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <thread>

#include "tests/harness/sqlite_fixture.h"
#include "tests/integration/stream_fixture.h"

namespace slipway::testing {
namespace {

// An app connection: the system's SQLite, with or without the extension.
class AppConn {
 public:
  AppConn(const std::string& path, bool session) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 5000);
    if (session) {
      sqlite3_enable_load_extension(db_, 1);
      char* err = nullptr;
      EXPECT_EQ(sqlite3_load_extension(db_, SLIPWAY_CAPTURE_EXTENSION, nullptr, &err), SQLITE_OK)
          << (err != nullptr ? err : "");
      sqlite3_free(err);
    }
  }
  ~AppConn() { sqlite3_close_v2(db_); }
  // sqlite3_close(), which fails while any statement of the connection is
  // unfinalized; the connection is gone when it succeeds.
  int Close() {
    const int rc = sqlite3_close(db_);
    if (rc == SQLITE_OK) db_ = nullptr;
    return rc;
  }
  sqlite3* get() { return db_; }
  AppConn(const AppConn&) = delete;
  AppConn& operator=(const AppConn&) = delete;

  // The result code of running `sql` (extended codes).
  int Exec(const std::string& sql) {
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) last_error_ = sqlite3_errmsg(db_);
    return rc;
  }
  // Runs `sql`; a failure fails the test.
  void Must(const std::string& sql) { ASSERT_EQ(Exec(sql), SQLITE_OK) << sql << ": " << last_error_; }
  int64_t Int(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
  }
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
  const std::string& last_error() const { return last_error_; }

 private:
  sqlite3* db_ = nullptr;
  std::string last_error_;
};

constexpr const char* kSchema = R"sql(
  PRAGMA journal_mode=WAL;
  CREATE TABLE acct (id INTEGER PRIMARY KEY, owner TEXT NOT NULL UNIQUE, bal INTEGER NOT NULL);
  CREATE TABLE pairs (v TEXT, b TEXT NOT NULL, a INTEGER NOT NULL, PRIMARY KEY (a, b)) WITHOUT ROWID;
  CREATE TABLE nokey (txt TEXT);
  CREATE TABLE gen (id INTEGER PRIMARY KEY, x INTEGER, y INTEGER GENERATED ALWAYS AS (x * 2) VIRTUAL);
  CREATE TABLE tk (k TEXT PRIMARY KEY, v TEXT);
  INSERT INTO acct (id, owner, bal) VALUES (1, 'ann', 100), (2, 'bob', 100), (3, 'cy', 100), (4, 'dee', 100);
  INSERT INTO pairs VALUES ('p', 'x', 1), ('q', 'y', 2);
  INSERT INTO nokey VALUES ('a');
  INSERT INTO gen (id, x) VALUES (1, 1);
  INSERT INTO tk VALUES ('a', 'one');
)sql";

class SessionCaptureTest : public TargetTest {
 protected:
  void Snapshot(const std::string& schema, const std::string& mode) {
    db_ = MakeSqlite(dir_, "app.db", schema);
    RunResult snap = RunSlipway({"snapshot", "--source", db_, "--target", target_, "--capture", mode});
    ASSERT_EQ(snap.exit_code, 0) << snap.out << snap.err;
    EXPECT_NE(snap.out.find("capture by " + mode), std::string::npos) << snap.out;
  }
  int64_t Tid(const std::string& table) {
    auto d = Db::Open(db_, Db::Mode::kReadOnly);
    EXPECT_TRUE(d.ok());
    auto st = d->Prepare("SELECT tid FROM _slipway_tables WHERE name = ?1");
    EXPECT_TRUE(st.ok());
    st->Bind(1, std::string_view(table));
    EXPECT_TRUE(*st->Step());
    return st->Int(0);
  }
  int64_t Changelog(const std::string& where) {
    auto d = Db::Open(db_, Db::Mode::kReadOnly);
    EXPECT_TRUE(d.ok());
    auto n = d->QueryInt("SELECT count(*) FROM _slipway_changelog WHERE " + where);
    EXPECT_TRUE(n.ok()) << n.status().message();
    return n.ok() ? n->value_or(-1) : -1;
  }
  void CatchUpAndVerify() { CatchUpAndVerifyEqual(db_, target_); }
  // The one text value `sql` reads in the target.
  std::string TargetText(const std::string& sql) {
    auto pg = PgConn::Connect(target_);
    EXPECT_TRUE(pg.ok());
    if (!pg.ok()) return "";
    auto r = pg->Exec(sql);
    EXPECT_TRUE(r.ok()) << sql;
    return r.ok() ? r->Str(0, 0) : "";
  }
  std::string db_;
};

// What the extension records, what it refuses, and what it leaves to the
// triggers; then the stream carries all of it.
TEST_F(SessionCaptureTest, RecordsTransactionsRefusesUncapturedCommitsAndLeavesOtherWritesToTriggers) {
  Snapshot(kSchema, "session");
  RunResult st = RunSlipway({"status", "--source", db_, "--target", target_, "--json"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_EQ(json::parse(st.out)["capture"], "session") << st.out;
  const int64_t acct = Tid("acct"), nokey = Tid("nokey"), gen = Tid("gen");

  AppConn app(db_, /*session=*/true);
  // A connection opened on a file in session mode records its
  // transactions as changesets from its first write on.
  app.Must("BEGIN; UPDATE acct SET bal = bal - 10 WHERE id = 1; UPDATE acct SET bal = bal + 10 WHERE id = 2;"
           "INSERT INTO pairs VALUES ('r', 'z', 3); UPDATE pairs SET v = 'pp' WHERE a = 1;"
           "INSERT INTO nokey VALUES ('b'); INSERT INTO gen (id, x) VALUES (2, 5); UPDATE gen SET x = 7 WHERE id = 1;"
           "SELECT slipway_capture(); COMMIT");
  EXPECT_EQ(Changelog("tid = 0"), 1) << "one changeset for the transaction";
  EXPECT_EQ(Changelog("tid = " + std::to_string(acct)), 0) << "the session's rows are not the triggers'";
  EXPECT_EQ(Changelog("tid = " + std::to_string(nokey)), 1) << "a table without a primary key is the triggers'";
  EXPECT_EQ(Changelog("tid = " + std::to_string(gen)), 2) << "a table with generated columns is the triggers'";

  // A COMMIT without slipway_capture() after a write is refused and rolls back.
  app.Must("BEGIN; UPDATE acct SET bal = 0 WHERE id = 3");
  EXPECT_EQ(app.Exec("COMMIT"), SQLITE_CONSTRAINT_COMMITHOOK);
  EXPECT_FALSE(app.InTransaction());
  EXPECT_EQ(app.Int("SELECT bal FROM acct WHERE id = 3"), 100) << "the refused transaction's write is undone";
  // So is one that wrote again after its capture.
  app.Must("BEGIN; UPDATE acct SET bal = 1 WHERE id = 3; SELECT slipway_capture(); UPDATE acct SET bal = 2 WHERE id = 4");
  EXPECT_EQ(app.Exec("COMMIT"), SQLITE_CONSTRAINT_COMMITHOOK);
  EXPECT_EQ(app.Int("SELECT bal FROM acct WHERE id = 3"), 100);
  EXPECT_EQ(Changelog("tid = 0"), 1) << "the changeset of a rolled-back transaction rolled back with it";

  // Key change (a delete and an insert in the changeset), REPLACE deleting
  // another row through the UNIQUE owner, a delete.
  app.Must("BEGIN; UPDATE acct SET id = 10 WHERE id = 1; INSERT OR REPLACE INTO acct (id, owner, bal) VALUES (11, 'bob', 7);"
           "DELETE FROM pairs WHERE a = 2; SELECT slipway_capture(); COMMIT");
  EXPECT_EQ(Changelog("tid = 0"), 2);
  const int64_t key_rows = Changelog("tid = " + std::to_string(acct));

  // Autocommit writes and writes from a connection without the extension:
  // the triggers record them.
  app.Must("UPDATE acct SET bal = bal + 1 WHERE id = 3");
  EXPECT_EQ(Changelog("tid = " + std::to_string(acct)), key_rows + 1);
  AppConn plain(db_, /*session=*/false);
  plain.Must("BEGIN; UPDATE acct SET bal = bal + 1 WHERE id = 4; INSERT INTO acct (id, owner, bal) VALUES (12, 'eve', 3); COMMIT");
  EXPECT_EQ(Changelog("tid = " + std::to_string(acct)), key_rows + 3);
  EXPECT_EQ(Changelog("tid = 0"), 2);
  app.Must("BEGIN; INSERT INTO tk VALUES ('b', 'two'); SELECT slipway_capture(); COMMIT");

  // A transaction that changes no session-mode table needs no capture.
  app.Must("BEGIN; INSERT INTO nokey VALUES ('c'); COMMIT");

  CatchUpAndVerify();
  EXPECT_EQ(TargetText("SELECT string_agg(id || ':' || owner || ':' || bal, ' ' ORDER BY id) FROM acct"),
            "3:cy:101 4:dee:101 10:ann:90 11:bob:7 12:eve:3");
}

// The README's examples (deploy/examples): each records its transfer as one
// changeset, and the stream carries both.
TEST_F(SessionCaptureTest, ExamplesRecordOneChangesetEach) {
  Snapshot("PRAGMA journal_mode=WAL; CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);"
           "INSERT INTO accounts VALUES (1, 100), (2, 100);",
           "session");
  RunResult c = RunProgram(SLIPWAY_SESSION_EXAMPLE_C, {db_});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(Changelog("tid = 0"), 1);
  RunResult py = RunProgram("/usr/bin/python3", {std::string(SLIPWAY_SOURCE_DIR) + "/deploy/examples/session_capture.py", db_},
                            {std::string("SLIPWAY_CAPTURE_LIBRARY=") + SLIPWAY_CAPTURE_EXTENSION});
  EXPECT_EQ(py.exit_code, 0) << py.err;
  EXPECT_EQ(Changelog("tid = 0"), 2);
  EXPECT_EQ(Changelog("tid <> 0"), 0) << "nothing went through the triggers";
  CatchUpAndVerify();
  EXPECT_EQ(TargetText("SELECT string_agg(id || ':' || balance, ' ' ORDER BY id) FROM accounts"), "1:80 2:120");
}

// A move switched from triggers to session and back while the stream runs
// and the app writes: nothing is lost, and the switch costs no whole-table
// copy (the target follows the schema stamp the switch made).
TEST_F(SessionCaptureTest, SwitchesModesWhileTheStreamRuns) {
  Snapshot(kSchema, "triggers");
  Proc stream(SLIPWAY_BINARY, {"stream", "--source", db_, "--target", target_});
  auto transfer = [&](AppConn& c, bool session) {
    c.Must(std::string("BEGIN IMMEDIATE; UPDATE acct SET bal = bal - 1 WHERE id = 1; UPDATE acct SET bal = bal + 1 WHERE id = 2;"
                       "INSERT INTO nokey VALUES ('t');") +
           (session ? "SELECT slipway_capture();" : "") + "COMMIT");
  };
  {
    AppConn plain(db_, /*session=*/false);
    for (int i = 0; i < 20; ++i) transfer(plain, false);
  }
  RunResult to_session = RunSlipway({"snapshot", "--source", db_, "--target", target_, "--capture", "session"});
  ASSERT_EQ(to_session.exit_code, 0) << to_session.err;
  {
    AppConn app(db_, /*session=*/true);
    for (int i = 0; i < 20; ++i) transfer(app, true);
  }
  EXPECT_GE(Changelog("tid = 0"), 1);
  RunResult back = RunSlipway({"snapshot", "--source", db_, "--target", target_, "--capture", "triggers"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  {
    // The extension in a triggers-mode file: the triggers record, the
    // session stays out of the way and no COMMIT is refused.
    AppConn app(db_, /*session=*/true);
    for (int i = 0; i < 20; ++i) transfer(app, false);
  }
  Sleep(1000);
  stream.Signal(SIGTERM);
  EXPECT_EQ(stream.Wait(30000), 0) << stream.Err();
  EXPECT_EQ(stream.Err().find("copied whole"), std::string::npos) << stream.Err();
  EXPECT_EQ(stream.Err().find("renumber"), std::string::npos) << stream.Err();
  CatchUpAndVerify();
  EXPECT_EQ(TargetText("SELECT (SELECT bal FROM acct WHERE id = 1) || ' ' || (SELECT bal FROM acct WHERE id = 2) || ' ' || "
                       "(SELECT count(*) FROM nokey)"),
            "40 160 61");
}

// A row with a NULL key, which the session skips, is recorded by the
// trigger (and then stops the stream as in trigger mode: the target's key
// cannot hold it).
TEST_F(SessionCaptureTest, NullKeyRowsAreRecordedByTheTriggers) {
  Snapshot(kSchema, "session");
  const int64_t tk = Tid("tk");
  AppConn app(db_, /*session=*/true);
  app.Must("BEGIN; INSERT INTO tk VALUES ('b', 'two'); INSERT INTO tk VALUES ('c', 'three'); SELECT slipway_capture(); COMMIT");
  app.Must("BEGIN; INSERT INTO tk VALUES (NULL, 'none'); UPDATE tk SET v = 'x' WHERE k IS NULL; SELECT slipway_capture(); COMMIT");
  EXPECT_EQ(Changelog("tid = " + std::to_string(tk) + " AND k1 IS NULL"), 2);
  EXPECT_EQ(Changelog("tid = 0"), 1) << "the first transaction was the session's";
}

// The patchsets of one connection's transactions, newer than `after`, in
// commit order.
std::vector<std::string> Patchsets(const std::string& path, int64_t after) {
  std::vector<std::string> out;
  auto d = Db::Open(path, Db::Mode::kReadOnly);
  EXPECT_TRUE(d.ok());
  auto st = d->Prepare("SELECT k1 FROM _slipway_changelog WHERE tid = 0 AND seq > ?1 ORDER BY seq");
  EXPECT_TRUE(st.ok());
  st->Bind(1, after);
  while (*st->Step()) out.emplace_back(st->BlobView(0));
  return out;
}

int64_t NewestSeq(const std::string& path) {
  auto d = Db::Open(path, Db::Mode::kReadOnly);
  EXPECT_TRUE(d.ok());
  auto n = d->QueryInt("SELECT coalesce(max(seq), 0) FROM _slipway_changelog");
  EXPECT_TRUE(n.ok());
  return n.ok() ? n->value_or(0) : 0;
}

// Every row of `table`, in order, each value with its storage class.
std::string Dump(sqlite3* db, const std::string& table) {
  sqlite3_stmt* st = nullptr;
  std::string out;
  EXPECT_EQ(sqlite3_prepare_v2(db, ("SELECT * FROM \"" + table + "\"").c_str(), -1, &st, nullptr), SQLITE_OK);
  std::string order;
  for (int i = 1; i <= sqlite3_column_count(st); ++i) order += (i > 1 ? ", " : "") + std::to_string(i);
  sqlite3_finalize(st);
  EXPECT_EQ(sqlite3_prepare_v2(db, ("SELECT * FROM \"" + table + "\" ORDER BY " + order).c_str(), -1, &st, nullptr),
            SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      sqlite3_value* v = sqlite3_column_value(st, i);
      out += std::to_string(sqlite3_value_type(v)) + ":";
      if (sqlite3_value_type(v) == SQLITE_FLOAT) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%a", sqlite3_value_double(v));
        out += buf;
      } else if (sqlite3_value_type(v) != SQLITE_NULL) {
        const auto* bytes = static_cast<const char*>(sqlite3_value_blob(v));
        if (bytes != nullptr) out.append(bytes, static_cast<size_t>(sqlite3_value_bytes(v)));
      }
      out += "|";
    }
    out += "\n";
  }
  sqlite3_finalize(st);
  return out;
}

constexpr const char* kValuesSchema = R"sql(
  PRAGMA journal_mode=WAL;
  CREATE TABLE acct (id INTEGER PRIMARY KEY, owner TEXT NOT NULL UNIQUE, bal INTEGER NOT NULL);
  CREATE TABLE pairs (v TEXT, b TEXT NOT NULL, a INTEGER NOT NULL, PRIMARY KEY (a, b)) WITHOUT ROWID;
  CREATE TABLE tk (k TEXT PRIMARY KEY, v TEXT);
  CREATE TABLE ik (id INT PRIMARY KEY, v BLOB, w REAL);
  CREATE TABLE vals (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC, a);
  INSERT INTO acct (id, owner, bal) VALUES (1, 'ann', 100), (2, 'bob', 100);
  INSERT INTO pairs VALUES ('p', 'x', 1), ('q', 'y', 2);
  INSERT INTO tk VALUES ('a', 'one');
  INSERT INTO ik VALUES (5, x'01', 1.5);
  INSERT INTO vals VALUES (1, 1, 1.25, 'one', x'00', 1, 'a');
)sql";

const std::vector<std::string> kValuesTables = {"acct", "pairs", "tk", "ik", "vals"};

// What the extension writes is a patchset, as SQLite's session extension
// writes it: byte for byte for single-row transactions (for an update, one
// that changes every column but the key), and, applied with
// sqlite3changeset_apply() to a copy taken before, it turns that copy into
// the file the app's transactions made.
TEST_F(SessionCaptureTest, PatchsetsMatchTheSessionExtensionAndReplayTheTransactions) {
  Snapshot(kValuesSchema, "session");
  const std::string before = dir_ + "/before.db", twin = dir_ + "/twin.db";
  {
    AppConn plain(db_, /*session=*/false);
    plain.Must("VACUUM INTO '" + before + "'");
    plain.Must("VACUUM INTO '" + twin + "'");
  }
  const int64_t start = NewestSeq(db_);
  AppConn app(db_, /*session=*/true);
  AppConn other(twin, /*session=*/false);
  other.Must("PRAGMA journal_mode=WAL");

  // Single-row transactions: the same statement on the twin file, recorded
  // there by a session object.
  const std::vector<std::string> single = {
      "INSERT INTO acct VALUES (3, 'cy', -7)",
      "INSERT INTO vals VALUES (2, 9223372036854775807, -0.5, 'h\xC3\xA9llo', x'00ff10', 12.5, NULL)",
      "INSERT INTO vals VALUES (3, -9223372036854775808, 1e300, '', x'', 8, '')",
      "INSERT INTO vals VALUES (4, 0, 3, NULL, NULL, 7, 'four')",
      "INSERT INTO pairs VALUES (NULL, 'zz', 300)",
      "INSERT INTO tk VALUES ('b', 'two')",
      "INSERT INTO ik VALUES (-1, x'abcd', 2)",
      "UPDATE vals SET i = i - 1, r = 2.75, t = 'changed', b = x'01', n = 3, a = 'x' WHERE id = 1",
      "UPDATE acct SET owner = 'anne', bal = 1 WHERE id = 1",
      "UPDATE pairs SET v = 'pp' WHERE a = 1 AND b = 'x'",
      "DELETE FROM vals WHERE id = 3",
      "DELETE FROM pairs WHERE a = 2",
      "DELETE FROM tk WHERE k = 'a'",
      "DELETE FROM ik WHERE id = 5",
      "DELETE FROM acct WHERE id = 2",
  };
  for (const std::string& sql : single) {
    const int64_t seq = NewestSeq(db_);
    app.Must("BEGIN; " + sql + "; SELECT slipway_capture(); COMMIT");
    std::vector<std::string> ours = Patchsets(db_, seq);
    ASSERT_EQ(ours.size(), 1u) << sql;

    sqlite3_session* session = nullptr;
    ASSERT_EQ(sqlite3session_create(other.get(), "main", &session), SQLITE_OK);
    sqlite3session_table_filter(
        session, [](void*, const char* name) { return std::strncmp(name, "_slipway_", 9) == 0 ? 0 : 1; }, nullptr);
    ASSERT_EQ(sqlite3session_attach(session, nullptr), SQLITE_OK);
    other.Must(sql);
    int n = 0;
    void* theirs = nullptr;
    ASSERT_EQ(sqlite3session_patchset(session, &n, &theirs), SQLITE_OK);
    const std::string expected(static_cast<const char*>(theirs), static_cast<size_t>(n));
    sqlite3_free(theirs);
    sqlite3session_delete(session);
    EXPECT_EQ(ours[0], expected) << sql;
  }

  // Multi-row transactions of every kind, at random: applied in order to
  // the copy taken before, they make the same file.
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  int next_id = 100;
  for (int tx = 0; tx < 150; ++tx) {
    std::string sql = "BEGIN;";
    const int writes = 1 + pick(8);
    for (int w = 0; w < writes; ++w) {
      const int id = next_id++;
      const std::string sid = std::to_string(id), other_id = std::to_string(100 + pick(id - 99));
      switch (pick(13)) {
        case 0: sql += "INSERT INTO acct VALUES (" + sid + ", 'o" + sid + "', " + std::to_string(pick(1000)) + ");"; break;
        case 1: sql += "UPDATE acct SET bal = bal + 1 WHERE id % 7 = " + std::to_string(pick(7)) + ";"; break;
        case 2: sql += "UPDATE acct SET id = " + sid + " WHERE id = (SELECT max(id) FROM acct WHERE id < " + sid + ");"; break;
        case 3: sql += "INSERT OR REPLACE INTO acct VALUES (" + sid + ", 'o" + other_id + "', 1);"; break;
        case 4: sql += "DELETE FROM acct WHERE id = " + other_id + ";"; break;
        case 5: sql += "INSERT INTO pairs VALUES ('v', 'b" + std::to_string(pick(5)) + "', " + std::to_string(pick(20)) +
                       ") ON CONFLICT (a, b) DO UPDATE SET v = coalesce(v, '') || '+';"; break;
        case 6: sql += "UPDATE OR REPLACE pairs SET a = a + 1000 WHERE a = " + std::to_string(pick(20)) + ";"; break;
        case 7: sql += "INSERT OR REPLACE INTO tk VALUES ('k" + std::to_string(pick(30)) + "', hex(randomblob(3)));"; break;
        case 8: sql += "UPDATE OR REPLACE tk SET k = k || 'x' WHERE k = 'k" + std::to_string(pick(30)) + "';"; break;
        case 9: sql += "INSERT OR IGNORE INTO ik VALUES (" + std::to_string(pick(50)) + ", randomblob(2), " +
                       std::to_string(pick(9)) + ");"; break;
        case 10: sql += "INSERT INTO vals VALUES (" + sid + ", " + std::to_string(pick(1 << 30) - (1 << 29)) + ", " +
                        std::to_string(pick(100)) + " / 8.0, 't', randomblob(4), '" + std::to_string(pick(9)) + ".5', 'a" +
                        std::to_string(pick(3)) + "');"; break;
        case 11: sql += "INSERT OR REPLACE INTO vals VALUES ((SELECT max(id) FROM vals), 7, 0.5, 'replaced', NULL, 1, 'r');";
          break;
        default: sql += "UPDATE vals SET r = r * 2, a = NULL WHERE id % 5 = " + std::to_string(pick(5)) + ";"; break;
      }
    }
    app.Must(sql + "SELECT slipway_capture(); COMMIT");
  }
  std::vector<std::string> sets = Patchsets(db_, start);
  ASSERT_GT(sets.size(), 100u);
  AppConn replay(before, /*session=*/false);
  for (size_t i = 0; i < sets.size(); ++i) {
    int conflicts = 0;
    const int rc = sqlite3changeset_apply(
        replay.get(), static_cast<int>(sets[i].size()), sets[i].data(), nullptr,
        [](void* ctx, int, sqlite3_changeset_iter*) {
          ++*static_cast<int*>(ctx);
          return SQLITE_CHANGESET_ABORT;
        },
        &conflicts);
    ASSERT_EQ(rc, SQLITE_OK) << "patchset " << i << ": " << sqlite3_errmsg(replay.get());
    ASSERT_EQ(conflicts, 0) << "patchset " << i;
  }
  for (const std::string& t : kValuesTables) EXPECT_EQ(Dump(replay.get(), t), Dump(app.get(), t)) << t;

  // The statement the extension keeps prepared does not keep the connection
  // from closing.
  EXPECT_EQ(app.Close(), SQLITE_OK);
  CatchUpAndVerify();
}

// An app that sets its own preupdate, commit or rollback hook after the
// extension loaded takes them from the extension: the next session-mode
// trigger finds that, takes them back and records its row itself.
TEST_F(SessionCaptureTest, HooksTakenByTheAppAreTakenBackAndNoRowIsLost) {
  Snapshot(kSchema, "session");
  const int64_t acct = Tid("acct");
  AppConn app(db_, /*session=*/true);
  app.Must("BEGIN; UPDATE acct SET bal = bal + 1 WHERE id = 1; SELECT slipway_capture(); COMMIT");
  EXPECT_EQ(Changelog("tid = 0"), 1);
  sqlite3_preupdate_hook(
      app.get(), [](void*, sqlite3*, int, const char*, const char*, sqlite3_int64, sqlite3_int64) {}, nullptr);
  app.Must("BEGIN; UPDATE acct SET bal = bal + 1 WHERE id = 2; UPDATE acct SET bal = bal + 1 WHERE id = 3;"
           "SELECT slipway_capture(); COMMIT");
  EXPECT_EQ(Changelog("tid = " + std::to_string(acct)), 1) << "the row after the hook was taken: the trigger's";
  EXPECT_EQ(Changelog("tid = 0"), 2) << "the next row: the extension's again";
  sqlite3_commit_hook(app.get(), nullptr, nullptr);
  app.Must("BEGIN; UPDATE acct SET bal = bal + 1 WHERE id = 4; SELECT slipway_capture(); COMMIT");
  EXPECT_EQ(Changelog("tid = " + std::to_string(acct)), 2);
  app.Must("BEGIN; UPDATE acct SET bal = bal + 1 WHERE id = 4");
  EXPECT_EQ(app.Exec("COMMIT"), SQLITE_CONSTRAINT_COMMITHOOK) << "the commit hook is the extension's again";

  // The commit hook taken inside a transaction (the extension does not see
  // it end), then the preupdate hook before the next: its first row is
  // still the trigger's.
  app.Must("BEGIN; UPDATE acct SET bal = bal + 1 WHERE id = 1");
  sqlite3_commit_hook(app.get(), [](void*) { return 0; }, nullptr);
  app.Must("SELECT slipway_capture(); COMMIT");
  sqlite3_preupdate_hook(
      app.get(), [](void*, sqlite3*, int, const char*, const char*, sqlite3_int64, sqlite3_int64) {}, nullptr);
  const int64_t before = Changelog("tid = " + std::to_string(acct));
  app.Must("BEGIN; UPDATE acct SET bal = bal + 1 WHERE id = 1; SELECT slipway_capture(); COMMIT");
  EXPECT_EQ(Changelog("tid = " + std::to_string(acct)), before + 1) << "the row after the hooks were taken";
  CatchUpAndVerify();
}

// A column added inside a transaction that already wrote the table: the
// records before and after cannot share one table header, so the capture
// fails and the COMMIT is refused; the same change in its own transaction is
// recorded with the new column.
TEST_F(SessionCaptureTest, AColumnAddedAfterAWriteInTheSameTransactionRefusesItsCommit) {
  Snapshot(kSchema, "session");
  AppConn app(db_, /*session=*/true);
  app.Must("BEGIN; UPDATE acct SET bal = bal + 1 WHERE id = 1; ALTER TABLE acct ADD COLUMN note TEXT;"
           "UPDATE acct SET bal = bal + 1 WHERE id = 2");
  EXPECT_NE(app.Exec("SELECT slipway_capture()"), SQLITE_OK);
  EXPECT_EQ(app.Exec("COMMIT"), SQLITE_CONSTRAINT_COMMITHOOK);
  EXPECT_EQ(app.Int("SELECT bal FROM acct WHERE id = 1"), 100);
  EXPECT_EQ(app.Int("SELECT count(*) FROM pragma_table_info('acct') WHERE name = 'note'"), 0);

  const int64_t seq = NewestSeq(db_);
  app.Must("ALTER TABLE acct ADD COLUMN note TEXT");
  app.Must("BEGIN; UPDATE acct SET note = 'n', bal = bal + 1 WHERE id = 1; SELECT slipway_capture(); COMMIT");
  std::vector<std::string> sets = Patchsets(db_, seq);
  ASSERT_EQ(sets.size(), 1u);
  sqlite3_changeset_iter* it = nullptr;
  ASSERT_EQ(sqlite3changeset_start(&it, static_cast<int>(sets[0].size()), sets[0].data()), SQLITE_OK);
  ASSERT_EQ(sqlite3changeset_next(it), SQLITE_ROW);
  const char* table = nullptr;
  int ncol = 0, op = 0, indirect = 0;
  ASSERT_EQ(sqlite3changeset_op(it, &table, &ncol, &op, &indirect), SQLITE_OK);
  EXPECT_STREQ(table, "acct");
  EXPECT_EQ(ncol, 4);
  EXPECT_EQ(op, SQLITE_UPDATE);
  sqlite3changeset_finalize(it);
}

// The extension keeps what it learnt of each table for the connection. A
// table rebuilt with a primary key and the same number of columns (as slipway
// re-arms it, its triggers now leave its rows to the extension) is still
// "without a key" to a connection that wrote it before: its session-mode
// trigger finds that the extension did not record the row, records it
// itself, and the extension reads the table again for the next row.
TEST_F(SessionCaptureTest, ARowTheExtensionDidNotRecordIsTheTriggers) {
  Snapshot(kSchema, "session");
  const int64_t nokey = Tid("nokey");
  AppConn app(db_, /*session=*/true);
  app.Must("BEGIN; INSERT INTO nokey VALUES ('before'); SELECT slipway_capture(); COMMIT");
  EXPECT_EQ(Changelog("tid = " + std::to_string(nokey)), 1) << "a table without a key is the triggers'";

  std::string id;
  {
    AppConn plain(db_, /*session=*/false);
    auto d = Db::Open(db_, Db::Mode::kReadOnly);
    ASSERT_TRUE(d.ok());
    auto v = d->QueryText("SELECT value FROM _slipway_meta WHERE key = 'migration_id'");
    ASSERT_TRUE(v.ok() && v->has_value());
    id = **v;
    plain.Must("BEGIN; CREATE TABLE nokey_new (txt TEXT PRIMARY KEY); INSERT INTO nokey_new SELECT txt FROM nokey;"
               "DROP TABLE nokey; ALTER TABLE nokey_new RENAME TO nokey;"
               "CREATE TRIGGER _slipway_test_ins AFTER INSERT ON nokey WHEN NEW.txt IS NULL OR NOT "
               "sqlite_compileoption_used('slipway-session:" + id + ":nokey') BEGIN INSERT INTO _slipway_changelog "
               "(tid, k1) VALUES (" + std::to_string(nokey) + ", NEW.txt); END; COMMIT");
  }
  app.Must("BEGIN; INSERT INTO nokey VALUES ('after'); SELECT slipway_capture(); COMMIT");
  EXPECT_EQ(Changelog("tid = " + std::to_string(nokey) + " AND k1 = 'after'"), 1)
      << "the extension did not record the row: its trigger did";
  const int64_t seq = NewestSeq(db_);
  app.Must("BEGIN; INSERT INTO nokey VALUES ('later'); SELECT slipway_capture(); COMMIT");
  EXPECT_EQ(Changelog("tid = " + std::to_string(nokey) + " AND k1 = 'later'"), 0);
  EXPECT_EQ(Patchsets(db_, seq).size(), 1u) << "the table read again: the extension records its rows";
}

// The same writer as the trigger-mode tests, through the extension, while
// the stream runs and a connection without the extension writes beside it;
// the writer is killed mid-transaction and the stream is killed, and both
// start again: everything arrives exactly once.
class SessionStreamTest : public StreamTest {};

TEST_F(SessionStreamTest, EveryKindOfChangeArrivesExactlyOnceThroughKillsOfTheAppAndTheStream) {
  RunResult init = RunProgram(SLIPWAY_CHANGE_WRITER, {"--db", db_, "--init", "--seed", "1"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  RunResult snap = RunSlipway({"snapshot", "--source", db_, "--target", target_, "--chunk-rows", "100", "--capture",
                               "session"});
  ASSERT_EQ(snap.exit_code, 0) << snap.out << snap.err;

  std::atomic<bool> stop{false};
  std::atomic<int64_t> plain_writes{0};
  // A connection without the extension (a cron job, the sqlite3 shell).
  std::thread plain([&] {
    AppConn c(db_, /*session=*/false);
    for (int i = 0; !stop; ++i) {
      const int rc = i % 2 == 0 ? c.Exec("UPDATE counters SET n = n + 1 WHERE name = 'c0'")
                                : c.Exec("BEGIN IMMEDIATE; UPDATE counters SET n = n + 1 WHERE name = 'c1'; COMMIT");
      if (rc == SQLITE_OK) {
        ++plain_writes;
      } else if (c.InTransaction()) {
        c.Exec("ROLLBACK");
      }
      Sleep(15);
    }
  });

  auto stream = StartStream();
  const std::vector<std::string> session = {"--session-extension", SLIPWAY_CAPTURE_EXTENSION};
  {
    Proc w(SLIPWAY_CHANGE_WRITER, WriterArgs(4, 2, session));
    Sleep(1500);
    stream->Signal(SIGKILL);
    EXPECT_EQ(stream->Wait(10000), kKilled);
    stream = StartStream();
    const int code = w.Wait(60000);
    ExpectWriterOk(code, w.Out(), w.Err());
  }
  // The app killed at random instants, mid-transaction as often as not.
  std::mt19937 rng(7);
  for (int i = 0; i < 6; ++i) {
    Proc w(SLIPWAY_CHANGE_WRITER, WriterArgs(30, 10 + static_cast<uint64_t>(i), session));
    Sleep(250 + static_cast<int>(rng() % 500));
    w.Signal(SIGKILL);
    EXPECT_EQ(w.Wait(10000), kKilled);
  }
  {
    Proc w(SLIPWAY_CHANGE_WRITER, WriterArgs(2, 20, session));
    const int code = w.Wait(60000);
    ExpectWriterOk(code, w.Out(), w.Err());
  }
  stop = true;
  plain.join();
  EXPECT_GT(plain_writes.load(), 20);
  Sleep(500);
  StopStream(*stream);
  EXPECT_NE(stream->Out().find("app transactions as changesets"), std::string::npos) << stream->Out();
  std::smatch m;
  const std::string out = stream->Out();
  ASSERT_TRUE(std::regex_search(out, m, std::regex("lag -?[0-9,]+ changes, ([0-9,]+) app transactions as changesets")))
      << out;
  std::string n = m[1];
  std::erase(n, ',');
  EXPECT_GT(std::stoll(n), 100) << "the writer's transactions arrived as changesets";
  CatchUpAndVerify();
}

// A reader of PostgreSQL never sees a state no source transaction produced:
// an app moves amounts between rows (and opens and closes accounts) in
// multi-row transactions, and every sum the reader sees is the total. In
// both capture modes: a round applies the keys touched up to its end with
// their rows read in the same SQLite snapshot, which is the state after
// whole transactions.
class WholeTransactionsTest : public SessionCaptureTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(WholeTransactionsTest, ReadersNeverSeeASumNoTransactionProduced) {
  const std::string mode = GetParam();
  std::string schema = "PRAGMA journal_mode=WAL; CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL);"
                       "CREATE TABLE tick (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO tick VALUES (1, 0);";
  for (int i = 1; i <= 50; ++i) schema += "INSERT INTO acct VALUES (" + std::to_string(i) + ", 1000);";
  Snapshot(schema, mode);
  constexpr int64_t kTotal = 50 * 1000;
  auto stream = std::make_unique<Proc>(SLIPWAY_BINARY, std::vector<std::string>{"stream", "--source", db_, "--target", target_});

  std::atomic<bool> stop{false};
  std::atomic<int64_t> committed{0};
  std::thread app([&] {
    AppConn c(db_, mode == "session");
    std::mt19937 rng(3);
    int64_t next_id = 1000;
    while (!stop) {
      std::string tx = "BEGIN IMMEDIATE;";
      const int moves = 2 + static_cast<int>(rng() % 5);
      for (int i = 0; i < moves; ++i) {
        const int amount = 1 + static_cast<int>(rng() % 50);
        tx += "UPDATE acct SET bal = bal - " + std::to_string(amount) + " WHERE id = (SELECT id FROM acct ORDER BY "
              "(id * " + std::to_string(rng() % 997 + 1) + ") % 101 LIMIT 1);";
        tx += "UPDATE acct SET bal = bal + " + std::to_string(amount) + " WHERE id = (SELECT id FROM acct ORDER BY "
              "(id * " + std::to_string(rng() % 991 + 1) + ") % 103 LIMIT 1);";
      }
      if (rng() % 4 == 0) {
        // An account opened with money taken from another; one closed into another.
        const std::string id = std::to_string(next_id++);
        tx += "INSERT INTO acct VALUES (" + id + ", 0);";
        tx += "UPDATE acct SET bal = bal + 5 WHERE id = " + id + ";";
        tx += "UPDATE acct SET bal = bal - 5 WHERE id = (SELECT min(id) FROM acct);";
        tx += "UPDATE acct SET bal = bal + (SELECT bal FROM acct WHERE id = (SELECT max(id) FROM acct WHERE id < " + id +
              ")) WHERE id = (SELECT min(id) FROM acct);";
        tx += "DELETE FROM acct WHERE id = (SELECT max(id) FROM acct WHERE id < " + id + ");";
      }
      tx += "UPDATE tick SET n = n + 1;";
      if (mode == "session") tx += "SELECT slipway_capture();";
      tx += "COMMIT";
      if (c.Exec(tx) == SQLITE_OK) {
        ++committed;
      } else {
        ADD_FAILURE() << c.last_error();
        if (c.InTransaction()) c.Exec("ROLLBACK");
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });

  auto pg = PgConn::Connect(target_);
  ASSERT_TRUE(pg.ok());
  int64_t reads = 0, wrong = 0;
  std::set<int64_t> ticks;
  std::string first_wrong;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < until) {
    auto r = pg->Exec("SELECT (SELECT sum(bal) FROM acct), (SELECT n FROM tick)");
    ASSERT_TRUE(r.ok()) << r.status().message();
    ++reads;
    ticks.insert(std::stoll(r->Str(0, 1)));
    if (std::stoll(r->Str(0, 0)) != kTotal) {
      if (++wrong == 1) first_wrong = r->Str(0, 0) + " at tick " + r->Str(0, 1);
    }
  }
  stop = true;
  app.join();
  stream->Signal(SIGTERM);
  EXPECT_EQ(stream->Wait(30000), 0) << stream->Err();
  EXPECT_EQ(wrong, 0) << "sums seen that no transaction produced, first: " << first_wrong;
  EXPECT_GT(reads, 200);
  EXPECT_GT(committed.load(), 500);
  EXPECT_GT(ticks.size(), 20u) << "the reader saw the stream apply many rounds";
  CatchUpAndVerify();
}

INSTANTIATE_TEST_SUITE_P(Modes, WholeTransactionsTest, ::testing::Values("session", "triggers"));

}  // namespace
}  // namespace slipway::testing
