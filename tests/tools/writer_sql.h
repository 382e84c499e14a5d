#pragma once
// The change writer's SQLite connection: prepared statements cached by their
// text, values bound from Val, and every error thrown as SqlError so that a
// transaction body can be abandoned at any statement and retried whole.
// Thread-safety: one Sql per thread.

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace slipway::testing {

// An SQLite error that ends the transaction: BUSY ones are retried.
struct SqlError {
  int rc = SQLITE_OK;
  std::string message;
  bool busy() const { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }
};

// A bound value for Sql::Run.
struct Val {
  enum class T { kNull, kInt, kReal, kText, kBlob } t = T::kNull;
  int64_t i = 0;
  double d = 0;
  std::string s;
  static Val Null() { return {}; }
  static Val Int(int64_t v) { return {T::kInt, v, 0, {}}; }
  static Val Real(double v) { return {T::kReal, 0, v, {}}; }
  static Val Text(std::string v) { return {T::kText, 0, 0, std::move(v)}; }
  static Val Blob(std::string v) { return {T::kBlob, 0, 0, std::move(v)}; }
};
using Row = std::vector<Val>;

// The writer's connection. Errors throw SqlError, caught per transaction.
class Sql {
 public:
  Sql(const std::string& path, int busy_timeout_ms) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (rc != SQLITE_OK) throw SqlError{rc, "open " + path + ": " + sqlite3_errmsg(db_)};
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
  }
  ~Sql() {
    for (auto& [sql, st] : cache_) sqlite3_finalize(st);
    sqlite3_close_v2(db_);
  }
  Sql(const Sql&) = delete;
  Sql& operator=(const Sql&) = delete;

  sqlite3* get() const { return db_; }

  void Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      SqlError e{rc, sql + ": " + (err ? err : sqlite3_errstr(rc))};
      sqlite3_free(err);
      throw e;
    }
  }

  // Runs one statement; returns its rows.
  std::vector<Row> Run(const std::string& sql, const std::vector<Val>& params = {}) {
    sqlite3_stmt* st = Prepared(sql);
    for (size_t i = 0; i < params.size(); ++i) {
      const Val& v = params[i];
      int idx = static_cast<int>(i + 1);
      switch (v.t) {
        case Val::T::kNull: sqlite3_bind_null(st, idx); break;
        case Val::T::kInt: sqlite3_bind_int64(st, idx, v.i); break;
        case Val::T::kReal: sqlite3_bind_double(st, idx, v.d); break;
        case Val::T::kText: sqlite3_bind_text(st, idx, v.s.data(), static_cast<int>(v.s.size()), SQLITE_TRANSIENT); break;
        case Val::T::kBlob: sqlite3_bind_blob(st, idx, v.s.data(), static_cast<int>(v.s.size()), SQLITE_TRANSIENT); break;
      }
    }
    std::vector<Row> rows;
    while (true) {
      int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        SqlError e{rc, sql + ": " + sqlite3_errmsg(db_)};
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        throw e;
      }
      Row r;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        switch (sqlite3_column_type(st, c)) {
          case SQLITE_NULL: r.push_back(Val::Null()); break;
          case SQLITE_INTEGER: r.push_back(Val::Int(sqlite3_column_int64(st, c))); break;
          case SQLITE_FLOAT: r.push_back(Val::Real(sqlite3_column_double(st, c))); break;
          case SQLITE_TEXT:
            r.push_back(Val::Text(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, c)),
                                              static_cast<size_t>(sqlite3_column_bytes(st, c)))));
            break;
          default: {
            const void* b = sqlite3_column_blob(st, c);
            r.push_back(Val::Blob(std::string(static_cast<const char*>(b), static_cast<size_t>(sqlite3_column_bytes(st, c)))));
          }
        }
      }
      rows.push_back(std::move(r));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rows;
  }

  std::optional<int64_t> Int(const std::string& sql, const std::vector<Val>& params = {}) {
    auto rows = Run(sql, params);
    if (rows.empty() || rows[0].empty() || rows[0][0].t != Val::T::kInt) return std::nullopt;
    return rows[0][0].i;
  }

  int64_t Changes() const { return sqlite3_changes64(db_); }
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
  // Schema changes invalidate nothing we cache (sqlite3_prepare_v3 re-prepares).

 private:
  sqlite3_stmt* Prepared(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return it->second;
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) throw SqlError{rc, "prepare " + sql + ": " + sqlite3_errmsg(db_)};
    cache_.emplace(sql, st);
    return st;
  }

  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace slipway::testing
