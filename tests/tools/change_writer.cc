// change_writer: an app-like writer that makes every kind of change SQLite
// allows, so the stream can be tested against all of them while it runs.
//
//   change_writer --db FILE --init [--seed N]
//       creates the schema below (WAL) with a little data; run it before
//       `slipway snapshot`.
//   change_writer --db FILE (--seconds S | --iterations N) [--seed N]
//       [--big-rows N] [--big-at I] [--schema-change] [--schema-at I]
//       [--drop-table] [--drop-at I] [--phase-iterations N] [--pace-us U]
//       [--session-extension PATH]
//       writes until the time or the iteration count is reached (or SIGTERM),
//       then prints a summary line and a line of per-kind counts.
//
// The schema covers every key kind the stream handles:
//   items     rowid table, INTEGER PRIMARY KEY, secondary UNIQUE (code)
//   logs      no primary key (the target keys it by _slipway_rowid)
//   pairs     WITHOUT ROWID, composite (TEXT, INTEGER) key
//   blobs     BLOB primary key (a rowid table: the key is not the rowid)
//   counters  a counter column, only ever incremented
//   tags      a small table emptied with DELETE without WHERE and refilled
// With --schema-change: items gains a column `note` (DEFAULT 'none', so
// existing rows change without any trigger firing) and a table `extra` is
// created and written. With --drop-table: `tags` is dropped.
//
// With --session-extension the connection loads slipway's capture extension
// and calls slipway_capture() before every COMMIT, as an app in session
// capture mode does.
//
// One connection, WAL, busy_timeout 5000, otherwise SQLite's defaults as an
// app would have them, except recursive_triggers: Debian builds SQLite with
// it ON by default, which makes REPLACE's implicit deletes fire DELETE
// triggers. The writer alternates phases of --phase-iterations with it OFF
// (first) and ON, so both behaviours are exercised.
//
// Deterministic for a seed and an iteration count: iteration i draws from its
// own generator seeded by (seed, i), so a transaction retried after
// SQLITE_BUSY makes the same changes, and rows are picked by key order from a
// random pivot, never by SQLite's random().
//
// Output (stdout), for tests to parse:
//   change_writer: iterations=N committed=N rolled_back=N failed=N busy_retries=N
//     counter_increments=N recursive_on=N big_rows=N schema_changed=0|1 dropped=0|1 seconds=X
//   change_writer ops: kind=N kind=N ...
// counter_increments counts only committed increments of counters.n.

#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/tools/writer_sql.h"

namespace {

// prefix followed by n. Not `"c" + std::to_string(n)`: GCC 12 at -O2 and
// above warns about that expression (-Wrestrict, a false positive), which
// -Werror turns into a failed build.
std::string Numbered(const char* prefix, long long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

using slipway::testing::Row;
using slipway::testing::Sql;
using slipway::testing::SqlError;
using slipway::testing::Val;

using Clock = std::chrono::steady_clock;

constexpr int kBusyTimeoutMs = 5000;
constexpr int kMaxAttempts = 20;  // per transaction, on SQLITE_BUSY
constexpr int kGroups = 8;        // pairs.grp values g0..g7
constexpr int kTags = 10;
constexpr int kCounters = 5;

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

struct Options {
  std::string db;
  bool init = false;
  double seconds = 0;
  int64_t iterations = 0;
  uint64_t seed = 1;
  int64_t big_rows = 100000;
  int64_t big_at = 100;
  bool schema_change = false;
  int64_t schema_at = 150;
  bool drop_table = false;
  int64_t drop_at = 250;
  int64_t phase_iterations = 200;
  int64_t pace_us = 500;
  std::string session_extension;
};

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  int64_t Range(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen_); }
  bool Chance(int percent) { return Range(0, 99) < percent; }

 private:
  std::mt19937_64 gen_;
};

constexpr const char* kSchema = R"sql(
CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT, qty INTEGER NOT NULL DEFAULT 0,
                    price REAL, data BLOB);
CREATE TABLE logs (at INTEGER, msg TEXT, level INTEGER);
CREATE TABLE pairs (grp TEXT NOT NULL, n INTEGER NOT NULL, val TEXT, PRIMARY KEY (grp, n)) WITHOUT ROWID;
CREATE TABLE blobs (k BLOB NOT NULL PRIMARY KEY, v TEXT);
CREATE TABLE counters (name TEXT NOT NULL PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0);
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
)sql";

class Writer {
 public:
  explicit Writer(const Options& o) : o_(o), db_(o.db, kBusyTimeoutMs) {
    auto mode = db_.Run("PRAGMA journal_mode=WAL");
    if (mode.empty() || mode[0][0].s != "wal") throw SqlError{SQLITE_ERROR, o.db + ": cannot switch to WAL"};
    db_.Exec("PRAGMA recursive_triggers=OFF");
    if (!o.session_extension.empty()) {
      sqlite3_enable_load_extension(db_.get(), 1);
      char* err = nullptr;
      int rc = sqlite3_load_extension(db_.get(), o.session_extension.c_str(), nullptr, &err);
      if (rc != SQLITE_OK) {
        SqlError e{rc, "load " + o.session_extension + ": " + (err ? err : sqlite3_errstr(rc))};
        sqlite3_free(err);
        throw e;
      }
    }
  }

  // COMMIT, after slipway_capture() when the connection captures by session.
  void CommitTx() {
    if (!o_.session_extension.empty()) db_.Exec("SELECT slipway_capture()");
    db_.Exec("COMMIT");
  }

  void Init() {
    Rng r(o_.seed);
    db_.Exec("BEGIN IMMEDIATE");
    db_.Exec(kSchema);
    for (int i = 0; i < 300; ++i) InsertItem(r);
    for (int i = 0; i < 200; ++i) InsertLog(r, "init");
    for (int i = 0; i < 200; ++i) InsertPair(r);
    for (int i = 0; i < 100; ++i) InsertBlob(r);
    for (int i = 0; i < kCounters; ++i) {
      db_.Run("INSERT INTO counters (name, n) VALUES (?1, ?2)", {Val::Text(Numbered("c", i)), Val::Int(i * 10)});
    }
    Refill(r, 1);
    db_.Exec("COMMIT");
  }

  int Run() {
    LoadState();
    const auto start = Clock::now();
    for (int64_t i = 0;; ++i) {
      if (g_stop) break;
      if (o_.iterations > 0 && i >= o_.iterations) break;
      if (o_.seconds > 0 && std::chrono::duration<double>(Clock::now() - start).count() >= o_.seconds) break;
      if (o_.iterations <= 0 && o_.seconds <= 0) break;
      SetPhase(i);
      Iteration(i);
      ++iterations_;
      if (o_.pace_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(o_.pace_us));
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf(
        "change_writer: iterations=%lld committed=%lld rolled_back=%lld failed=%lld busy_retries=%lld "
        "counter_increments=%lld recursive_on=%lld big_rows=%lld schema_changed=%d dropped=%d seconds=%.2f\n",
        static_cast<long long>(iterations_), static_cast<long long>(committed_), static_cast<long long>(rolled_back_),
        static_cast<long long>(failed_), static_cast<long long>(busy_retries_),
        static_cast<long long>(counter_increments_), static_cast<long long>(recursive_on_),
        static_cast<long long>(big_rows_done_), schema_changed_ ? 1 : 0, dropped_ ? 1 : 0, secs);
    std::printf("change_writer ops:");
    for (const auto& [k, n] : op_counts_) std::printf(" %s=%lld", k.c_str(), static_cast<long long>(n));
    std::printf("\n");
    std::fflush(stdout);
    return failed_ == 0 ? 0 : 1;
  }

 private:
  using Body = std::function<void(Rng&)>;

  struct Kind {
    const char* name;
    int weight;
    Body body;
    std::function<bool()> enabled;
  };

  // Recovers the counters that keep new keys unique across runs.
  void LoadState() {
    next_item_ = db_.Int("SELECT coalesce(max(id), 0) + 1 FROM items").value_or(1);
    next_code_ = db_.Int("SELECT coalesce(max(CAST(substr(code, 2) AS INTEGER)), 0) + 1 FROM items").value_or(1);
    next_pair_ = db_.Int("SELECT coalesce(max(n), 0) + 1 FROM pairs").value_or(1);
    next_blob_ = db_.Int("SELECT count(*) FROM blobs").value_or(0) + 1000000 * static_cast<int64_t>(o_.seed % 1000);
    next_tag_ = 1;
    if (db_.Int("SELECT count(*) FROM sqlite_schema WHERE name = 'tags'").value_or(0) == 0) dropped_ = true;
    if (db_.Int("SELECT count(*) FROM pragma_table_info('items') WHERE name = 'note'").value_or(0) > 0) {
      has_note_ = true;
    }
    if (db_.Int("SELECT count(*) FROM sqlite_schema WHERE name = 'extra'").value_or(0) > 0) {
      has_extra_ = true;
      next_extra_ = db_.Int("SELECT coalesce(max(id), 0) + 1 FROM extra").value_or(1);
    }
    next_tag_ = db_.Int(dropped_ ? "SELECT 1" : "SELECT coalesce(max(id), 0) + 1 FROM tags").value_or(1);
    BuildKinds();
  }

  void SetPhase(int64_t i) {
    const bool on = o_.phase_iterations > 0 && (i / o_.phase_iterations) % 2 == 1;
    if (on != recursive_) {
      db_.Exec(on ? "PRAGMA recursive_triggers=ON" : "PRAGMA recursive_triggers=OFF");
      recursive_ = on;
    }
  }

  // Special events at fixed iterations, then one kind drawn by weight.
  void Iteration(int64_t i) {
    Rng r(o_.seed * 1000003ULL + static_cast<uint64_t>(i));
    if (o_.big_rows > 0 && i == o_.big_at) return Commit("big_insert", r, [&](Rng& g) { BigInsert(g); });
    if (o_.big_rows > 0 && i == o_.big_at + 100) {
      return Commit("big_update", r, [&](Rng&) {
        db_.Run("UPDATE logs SET level = level + 1, msg = msg || '+' WHERE msg LIKE 'bulk%'");
      });
    }
    if (o_.big_rows > 0 && i == o_.big_at + 200) {
      return Commit("big_delete", r, [&](Rng&) { db_.Run("DELETE FROM logs WHERE msg LIKE 'bulk%' AND rowid % 2 = 0"); });
    }
    if (o_.schema_change && !has_note_ && i >= o_.schema_at) {
      Commit("add_column", r, [&](Rng&) { db_.Exec("ALTER TABLE items ADD COLUMN note TEXT DEFAULT 'none'"); });
      has_note_ = true;
      schema_changed_ = true;
      return;
    }
    if (o_.schema_change && has_note_ && !has_extra_ && i >= o_.schema_at + 20) {
      Commit("create_table", r, [&](Rng& g) {
        db_.Exec("CREATE TABLE extra (id INTEGER PRIMARY KEY, label TEXT NOT NULL, amount INTEGER)");
        next_extra_ = 1;
        for (int k = 0; k < 20; ++k) InsertExtra(g);
      });
      has_extra_ = true;
      return;
    }
    if (o_.drop_table && !dropped_ && i >= o_.drop_at) {
      Commit("drop_table", r, [&](Rng&) { db_.Exec("DROP TABLE tags"); });
      dropped_ = true;
      return;
    }
    const Kind& k = Pick(r);
    Commit(k.name, r, k.body);
  }

  const Kind& Pick(Rng& r) {
    int total = 0;
    for (const auto& k : kinds_) total += k.enabled() ? k.weight : 0;
    int x = static_cast<int>(r.Range(0, total - 1));
    for (const auto& k : kinds_) {
      if (!k.enabled()) continue;
      if (x < k.weight) return k;
      x -= k.weight;
    }
    return kinds_.front();
  }

  // Runs `body` in one write transaction, retrying it whole on SQLITE_BUSY
  // with the same random draws.
  void Commit(const std::string& name, const Rng& r, const Body& body) {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      Rng g = r;
      pending_increments_ = 0;
      rolled_back_here_ = false;
      try {
        db_.Exec("BEGIN IMMEDIATE");
        body(g);
        if (rolled_back_here_) {
          ++rolled_back_;
        } else {
          CommitTx();
          ++committed_;
          counter_increments_ += pending_increments_;
          if (recursive_) ++recursive_on_;
        }
        ++op_counts_[name];
        // Keys handed out inside a transaction that did not commit are simply
        // skipped: they stay unique.
        return;
      } catch (const SqlError& e) {
        if (db_.InTransaction()) {
          try {
            db_.Exec("ROLLBACK");
          } catch (const SqlError&) {
          }
        }
        if (e.busy()) {
          ++busy_retries_;
          continue;
        }
        ++failed_;
        if (failed_ <= 10) std::fprintf(stderr, "change_writer: %s failed: %s\n", name.c_str(), e.message.c_str());
        return;
      }
    }
    ++failed_;
    std::fprintf(stderr, "change_writer: %s still busy after %d attempts\n", name.c_str(), kMaxAttempts);
  }

  // ---- rows ---------------------------------------------------------------

  std::string NewCode() { return Numbered("c", next_code_++); }

  static std::string Bytes(Rng& r, int n) {
    std::string b;
    for (int i = 0; i < n; ++i) b.push_back(static_cast<char>(r.Range(0, 255)));
    return b;
  }

  void InsertItem(Rng& r) {
    Val data = r.Chance(30) ? Val::Null() : Val::Blob(Bytes(r, static_cast<int>(r.Range(0, 24))));
    db_.Run("INSERT INTO items (id, code, name, qty, price, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            {Val::Int(next_item_++), Val::Text(NewCode()), Val::Text(Numbered("item ", r.Range(0, 1 << 20))),
             Val::Int(r.Range(0, 1000)), Val::Real(static_cast<double>(r.Range(0, 100000)) / 100.0), data});
  }

  // The first existing row at or after a random pivot, wrapping around.
  std::optional<Row> PickItem(Rng& r) {
    auto rows = db_.Run("SELECT id, code FROM items WHERE id >= ?1 ORDER BY id LIMIT 1", {Val::Int(r.Range(1, next_item_))});
    if (rows.empty()) rows = db_.Run("SELECT id, code FROM items ORDER BY id LIMIT 1");
    if (rows.empty()) return std::nullopt;
    return rows[0];
  }

  // Two different existing items, or nothing.
  std::optional<std::pair<Row, Row>> PickTwoItems(Rng& r) {
    auto a = PickItem(r);
    if (!a) return std::nullopt;
    auto rows = db_.Run("SELECT id, code FROM items WHERE id > ?1 ORDER BY id LIMIT 1", {Val::Int(a->at(0).i)});
    if (rows.empty()) rows = db_.Run("SELECT id, code FROM items WHERE id < ?1 ORDER BY id LIMIT 1", {Val::Int(a->at(0).i)});
    if (rows.empty()) return std::nullopt;
    return std::make_pair(*a, rows[0]);
  }

  void InsertLog(Rng& r, const std::string& what) {
    db_.Run("INSERT INTO logs (at, msg, level) VALUES (?1, ?2, ?3)",
            {Val::Int(r.Range(0, 1 << 30)), Val::Text(what + Numbered(" ", r.Range(0, 999))), Val::Int(r.Range(0, 5))});
  }

  std::optional<int64_t> PickLog(Rng& r) {
    auto hi = db_.Int("SELECT max(rowid) FROM logs");
    if (!hi) return std::nullopt;
    auto id = db_.Int("SELECT rowid FROM logs WHERE rowid >= ?1 ORDER BY rowid LIMIT 1", {Val::Int(r.Range(1, *hi))});
    return id ? id : db_.Int("SELECT min(rowid) FROM logs");
  }

  std::string Group(Rng& r) { return Numbered("g", r.Range(0, kGroups - 1)); }

  void InsertPair(Rng& r) {
    db_.Run("INSERT INTO pairs (grp, n, val) VALUES (?1, ?2, ?3)",
            {Val::Text(Group(r)), Val::Int(next_pair_++), Val::Text(Numbered("v", r.Range(0, 99999)))});
  }

  std::optional<Row> PickPair(Rng& r) {
    auto rows = db_.Run("SELECT grp, n FROM pairs WHERE (grp, n) >= (?1, ?2) ORDER BY grp, n LIMIT 1",
                        {Val::Text(Group(r)), Val::Int(r.Range(0, next_pair_))});
    if (rows.empty()) rows = db_.Run("SELECT grp, n FROM pairs ORDER BY grp, n LIMIT 1");
    if (rows.empty()) return std::nullopt;
    return rows[0];
  }

  // 4 bytes of a per-run counter (zero bytes included) and 4 random bytes.
  std::string NewBlobKey(Rng& r) {
    int64_t n = next_blob_++;
    std::string k;
    for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    return k + Bytes(r, 4);
  }

  void InsertBlob(Rng& r) {
    db_.Run("INSERT INTO blobs (k, v) VALUES (?1, ?2)", {Val::Blob(NewBlobKey(r)), Val::Text(Numbered("b", r.Range(0, 9999)))});
  }

  std::optional<std::string> PickBlob(Rng& r) {
    auto rows = db_.Run("SELECT k FROM blobs WHERE k >= ?1 ORDER BY k LIMIT 1", {Val::Blob(Bytes(r, 4))});
    if (rows.empty()) rows = db_.Run("SELECT k FROM blobs ORDER BY k LIMIT 1");
    if (rows.empty()) return std::nullopt;
    return rows[0][0].s;
  }

  void Increment(Rng& r) {
    db_.Run("UPDATE counters SET n = n + 1 WHERE name = ?1", {Val::Text(Numbered("c", r.Range(0, kCounters - 1)))});
    pending_increments_ += db_.Changes();
  }

  void IncrementAll() {
    db_.Run("UPDATE counters SET n = n + 1");
    pending_increments_ += db_.Changes();
  }

  // Fills the empty tags table: the same ids as before, or new ones.
  void Refill(Rng& r, int64_t first) {
    for (int i = 0; i < kTags; ++i) {
      db_.Run("INSERT INTO tags (id, name) VALUES (?1, ?2)",
              {Val::Int(first + i), Val::Text(Numbered("tag", r.Range(0, 999)))});
    }
  }

  void InsertExtra(Rng& r) {
    db_.Run("INSERT INTO extra (id, label, amount) VALUES (?1, ?2, ?3)",
            {Val::Int(next_extra_++), Val::Text(Numbered("x", r.Range(0, 999))), Val::Int(r.Range(-100, 100))});
  }

  void BigInsert(Rng& r) {
    for (int64_t i = 0; i < o_.big_rows; ++i) {
      db_.Run("INSERT INTO logs (at, msg, level) VALUES (?1, ?2, ?3)",
              {Val::Int(i), Val::Text(Numbered("bulk ", i)), Val::Int(r.Range(0, 5))});
    }
    IncrementAll();
    big_rows_done_ += o_.big_rows;
  }

  // A few simple changes, for multi-statement, rolled-back and savepoint
  // transactions.
  void SimpleChange(Rng& r) {
    switch (r.Range(0, 5)) {
      case 0: InsertItem(r); break;
      case 1:
        if (auto a = PickItem(r)) db_.Run("UPDATE items SET qty = qty + 1 WHERE id = ?1", {Val::Int(a->at(0).i)});
        break;
      case 2:
        if (auto a = PickItem(r)) db_.Run("DELETE FROM items WHERE id = ?1", {Val::Int(a->at(0).i)});
        break;
      case 3: InsertPair(r); break;
      case 4: InsertLog(r, "multi"); break;
      default: Increment(r); break;
    }
  }

  void BuildKinds() {
    auto always = [] { return true; };
    auto tags = [this] { return !dropped_; };
    auto note = [this] { return has_note_; };
    auto extra = [this] { return has_extra_; };
    kinds_ = {
        {"item_insert", 8, [this](Rng& r) { InsertItem(r); }, always},
        {"item_update", 10,
         [this](Rng& r) {
           if (auto a = PickItem(r)) {
             db_.Run("UPDATE items SET name = ?2, qty = qty + 1, price = ?3 WHERE id = ?1",
                     {Val::Int(a->at(0).i), Val::Text(Numbered("renamed ", r.Range(0, 999))),
                      r.Chance(20) ? Val::Null() : Val::Real(static_cast<double>(r.Range(0, 99999)) / 100.0)});
           }
         },
         always},
        {"item_update_pk", 3,
         [this](Rng& r) {
           if (auto a = PickItem(r)) db_.Run("UPDATE items SET id = ?2 WHERE id = ?1", {Val::Int(a->at(0).i), Val::Int(next_item_++)});
         },
         always},
        {"item_delete", 4,
         [this](Rng& r) {
           if (auto a = PickItem(r)) db_.Run("DELETE FROM items WHERE id = ?1", {Val::Int(a->at(0).i)});
         },
         always},
        {"item_upsert", 5,
         [this](Rng& r) {
           // Half on an existing id (the DO UPDATE path), half on a new one.
           int64_t id = next_item_;
           if (r.Chance(50)) {
             if (auto a = PickItem(r)) id = a->at(0).i;
           }
           if (id == next_item_) ++next_item_;
           db_.Run("INSERT INTO items (id, code, name, qty) VALUES (?1, ?2, ?3, 1) ON CONFLICT(id) DO UPDATE SET "
                   "name = excluded.name, qty = items.qty + 1, code = excluded.code",
                   {Val::Int(id), Val::Text(NewCode()), Val::Text(Numbered("upserted ", r.Range(0, 999)))});
         },
         always},
        {"item_replace_same_key", 3,
         [this](Rng& r) {
           if (auto a = PickItem(r)) {
             // Same id, same code: the old row is deleted and the new one inserted.
             db_.Run("INSERT OR REPLACE INTO items (id, code, name, qty) VALUES (?1, ?2, ?3, ?4)",
                     {a->at(0), a->at(1), Val::Text("replaced"), Val::Int(r.Range(0, 50))});
           }
         },
         always},
        {"item_replace_other_row", 3,
         [this](Rng& r) {
           // A new id with another row's code: REPLACE deletes that other row
           // through the UNIQUE index on code.
           if (auto a = PickItem(r)) {
             db_.Run("INSERT OR REPLACE INTO items (id, code, name, qty) VALUES (?1, ?2, ?3, 0)",
                     {Val::Int(next_item_++), a->at(1), Val::Text("took code")});
           }
         },
         always},
        {"item_replace_two_rows", 1,
         [this](Rng& r) {
           // Existing id A with B's code: both A and B are deleted, A inserted.
           if (auto ab = PickTwoItems(r)) {
             db_.Run("INSERT OR REPLACE INTO items (id, code, name, qty) VALUES (?1, ?2, ?3, 7)",
                     {ab->first.at(0), ab->second.at(1), Val::Text("took both")});
           }
         },
         always},
        {"item_update_or_replace_code", 2,
         [this](Rng& r) {
           if (auto ab = PickTwoItems(r)) {
             db_.Run("UPDATE OR REPLACE items SET code = ?2 WHERE id = ?1", {ab->first.at(0), ab->second.at(1)});
           }
         },
         always},
        {"item_update_or_replace_pk", 2,
         [this](Rng& r) {
           if (auto ab = PickTwoItems(r)) {
             db_.Run("UPDATE OR REPLACE items SET id = ?2 WHERE id = ?1", {ab->first.at(0), ab->second.at(0)});
           }
         },
         always},
        {"log_insert", 4, [this](Rng& r) { InsertLog(r, "log"); }, always},
        {"log_update", 3,
         [this](Rng& r) {
           if (auto id = PickLog(r)) db_.Run("UPDATE logs SET level = level + 1, msg = msg || '!' WHERE rowid = ?1", {Val::Int(*id)});
         },
         always},
        {"log_delete", 2,
         [this](Rng& r) {
           if (auto id = PickLog(r)) db_.Run("DELETE FROM logs WHERE rowid = ?1", {Val::Int(*id)});
         },
         always},
        {"log_update_rowid", 1,
         [this](Rng& r) {
           if (auto id = PickLog(r)) {
             db_.Run("UPDATE logs SET rowid = (SELECT max(rowid) + 1000 FROM logs) WHERE rowid = ?1", {Val::Int(*id)});
           }
         },
         always},
        {"pair_insert", 4, [this](Rng& r) { InsertPair(r); }, always},
        {"pair_update", 3,
         [this](Rng& r) {
           if (auto p = PickPair(r)) {
             db_.Run("UPDATE pairs SET val = ?3 WHERE grp = ?1 AND n = ?2",
                     {p->at(0), p->at(1), Val::Text(Numbered("u", r.Range(0, 9999)))});
           }
         },
         always},
        {"pair_update_pk", 2,
         [this](Rng& r) {
           if (auto p = PickPair(r)) {
             db_.Run("UPDATE pairs SET grp = ?3, n = ?4 WHERE grp = ?1 AND n = ?2",
                     {p->at(0), p->at(1), Val::Text(Group(r)), Val::Int(next_pair_++)});
           }
         },
         always},
        {"pair_delete", 2,
         [this](Rng& r) {
           if (auto p = PickPair(r)) db_.Run("DELETE FROM pairs WHERE grp = ?1 AND n = ?2", {p->at(0), p->at(1)});
         },
         always},
        {"pair_replace", 1,
         [this](Rng& r) {
           if (auto p = PickPair(r)) {
             db_.Run("INSERT OR REPLACE INTO pairs (grp, n, val) VALUES (?1, ?2, 'replaced')", {p->at(0), p->at(1)});
           }
         },
         always},
        {"blob_insert", 3, [this](Rng& r) { InsertBlob(r); }, always},
        {"blob_update", 2,
         [this](Rng& r) {
           if (auto k = PickBlob(r)) {
             db_.Run("UPDATE blobs SET v = ?2 WHERE k = ?1", {Val::Blob(*k), Val::Text(Numbered("w", r.Range(0, 999)))});
           }
         },
         always},
        {"blob_update_pk", 1,
         [this](Rng& r) {
           if (auto k = PickBlob(r)) db_.Run("UPDATE blobs SET k = ?2 WHERE k = ?1", {Val::Blob(*k), Val::Blob(NewBlobKey(r))});
         },
         always},
        {"blob_delete", 2,
         [this](Rng& r) {
           if (auto k = PickBlob(r)) db_.Run("DELETE FROM blobs WHERE k = ?1", {Val::Blob(*k)});
         },
         always},
        {"blob_replace", 1,
         [this](Rng& r) {
           if (auto k = PickBlob(r)) db_.Run("INSERT OR REPLACE INTO blobs (k, v) VALUES (?1, 'replaced')", {Val::Blob(*k)});
         },
         always},
        {"counter_increment", 6, [this](Rng& r) { Increment(r); }, always},
        {"counter_increment_all", 2, [this](Rng&) { IncrementAll(); }, always},
        {"tags_delete_all_refill", 1,
         [this](Rng& r) {
           db_.Run("DELETE FROM tags");
           // Refill with the same ids, or with new ones.
           int64_t first = r.Chance(50) ? 1 : next_tag_;
           if (first == next_tag_) next_tag_ += kTags;
           Refill(r, first);
         },
         tags},
        {"tags_delete_all_commit_then_refill", 1,
         [this](Rng& r) {
           // The table is empty for one committed transaction.
           db_.Run("DELETE FROM tags");
           CommitTx();
           db_.Exec("BEGIN IMMEDIATE");
           Refill(r, next_tag_);
           next_tag_ += kTags;
         },
         tags},
        {"rolled_back_tx", 2,
         [this](Rng& r) {
           for (int64_t n = r.Range(2, 8); n > 0; --n) SimpleChange(r);
           db_.Exec("ROLLBACK");
           rolled_back_here_ = true;
         },
         always},
        {"savepoint_rolled_back", 2,
         [this](Rng& r) {
           SimpleChange(r);
           const int64_t before = pending_increments_;
           db_.Exec("SAVEPOINT sp");
           for (int64_t n = r.Range(1, 5); n > 0; --n) SimpleChange(r);
           Increment(r);
           db_.Exec("ROLLBACK TO sp");
           db_.Exec("RELEASE sp");
           pending_increments_ = before;
           SimpleChange(r);
         },
         always},
        {"multi_statement_tx", 3,
         [this](Rng& r) {
           for (int64_t n = r.Range(2, 6); n > 0; --n) SimpleChange(r);
         },
         always},
        {"note_update", 2,
         [this](Rng& r) {
           if (auto a = PickItem(r)) {
             db_.Run("UPDATE items SET note = ?2 WHERE id = ?1", {Val::Int(a->at(0).i), Val::Text(Numbered("note ", r.Range(0, 99)))});
           }
         },
         note},
        {"extra_insert", 3, [this](Rng& r) { InsertExtra(r); }, extra},
        {"extra_update", 2,
         [this](Rng& r) {
           db_.Run("UPDATE extra SET amount = amount + 1 WHERE id = (SELECT id FROM extra WHERE id >= ?1 ORDER BY id LIMIT 1)",
                   {Val::Int(r.Range(1, next_extra_))});
         },
         extra},
        {"extra_delete", 1,
         [this](Rng& r) {
           db_.Run("DELETE FROM extra WHERE id = (SELECT id FROM extra WHERE id >= ?1 ORDER BY id LIMIT 1)",
                   {Val::Int(r.Range(1, next_extra_))});
         },
         extra},
    };
  }

  const Options& o_;
  Sql db_;
  std::vector<Kind> kinds_;
  bool recursive_ = false;
  bool dropped_ = false;
  bool has_note_ = false;
  bool has_extra_ = false;
  bool schema_changed_ = false;
  bool rolled_back_here_ = false;
  int64_t next_item_ = 1, next_code_ = 1, next_pair_ = 1, next_blob_ = 0, next_tag_ = 1, next_extra_ = 1;
  int64_t pending_increments_ = 0;
  int64_t iterations_ = 0, committed_ = 0, rolled_back_ = 0, failed_ = 0, busy_retries_ = 0;
  int64_t counter_increments_ = 0, recursive_on_ = 0, big_rows_done_ = 0;
  std::map<std::string, int64_t> op_counts_;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "change_writer: %s\nusage: change_writer --db FILE [--init] [--seconds S | --iterations N] [--seed N]\n"
               "  [--big-rows N] [--big-at I] [--schema-change] [--schema-at I] [--drop-table] [--drop-at I]\n"
               "  [--phase-iterations N] [--pace-us U] [--session-extension PATH]\n",
               why.c_str());
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage("missing value for " + a);
      return argv[++i];
    };
    auto number = [&]() -> int64_t {
      std::string v = value();
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0') Usage("bad number for " + a + ": " + v);
      return n;
    };
    if (a == "--db") {
      o.db = value();
    } else if (a == "--init") {
      o.init = true;
    } else if (a == "--seconds") {
      o.seconds = std::atof(value().c_str());
    } else if (a == "--iterations") {
      o.iterations = number();
    } else if (a == "--seed") {
      o.seed = static_cast<uint64_t>(number());
    } else if (a == "--big-rows") {
      o.big_rows = number();
    } else if (a == "--big-at") {
      o.big_at = number();
    } else if (a == "--schema-change") {
      o.schema_change = true;
    } else if (a == "--schema-at") {
      o.schema_at = number();
    } else if (a == "--drop-table") {
      o.drop_table = true;
    } else if (a == "--drop-at") {
      o.drop_at = number();
    } else if (a == "--phase-iterations") {
      o.phase_iterations = number();
    } else if (a == "--pace-us") {
      o.pace_us = number();
    } else if (a == "--session-extension") {
      o.session_extension = value();
    } else {
      Usage("unknown option " + a);
    }
  }
  if (o.db.empty()) Usage("--db is required");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  try {
    Writer w(o);
    if (o.init) w.Init();
    if (o.seconds > 0 || o.iterations > 0) return w.Run();
    return 0;
  } catch (const SqlError& e) {
    std::fprintf(stderr, "change_writer: %s\n", e.message.c_str());
    return 1;
  }
}
