#pragma once
// Thin RAII wrappers over the SQLite C API: Db owns a connection, Stmt owns a
// prepared statement. Every call returns a Status/Result classified by code so
// callers can tell a missing file from a non-database from a busy lock.
// Thread-safety: one Db/Stmt per thread; SQLite is built threadsafe, but a
// connection is not shared between threads in this project.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace slipway {

// Maps an SQLite result code (and the connection's message) to a Status.
Status SqliteStatus(int rc, sqlite3* db, std::string_view what);

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  Stmt(Stmt&&) noexcept = default;
  Stmt& operator=(Stmt&&) noexcept = default;

  // Steps once. Returns true when a row is available, false when done.
  Result<bool> Step();
  Status Reset();
  Status Run();  // steps to completion, ignoring rows

  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, double v);
  Stmt& Bind(int i, std::string_view text);
  Stmt& BindBlob(int i, const void* data, int size);
  Stmt& BindNull(int i);
  Stmt& BindValue(int i, const sqlite3_value* v);

  int ColumnCount() const { return sqlite3_column_count(stmt_.get()); }
  int Type(int i) const { return sqlite3_column_type(stmt_.get(), i); }
  bool IsNull(int i) const { return Type(i) == SQLITE_NULL; }
  int64_t Int(int i) const { return sqlite3_column_int64(stmt_.get(), i); }
  double Real(int i) const { return sqlite3_column_double(stmt_.get(), i); }
  std::string Text(int i) const;
  std::string_view TextView(int i) const;
  std::string_view BlobView(int i) const;
  std::optional<std::string> OptText(int i) const;
  std::string ColumnName(int i) const { return sqlite3_column_name(stmt_.get(), i); }
  sqlite3_stmt* get() const { return stmt_.get(); }

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  sqlite3* db_ = nullptr;
};

class Db {
 public:
  enum class Mode { kReadOnly, kReadWrite };

  // Opens an existing database file. Never creates one. For kReadOnly no
  // write of any kind reaches the file. The open is validated by reading the
  // schema, so a file that is not a database fails here with kNotSqlite.
  static Result<Db> Open(const std::string& path, Mode mode, int busy_timeout_ms = 5000);
  // Opens or creates (tests, tools).
  static Result<Db> OpenOrCreate(const std::string& path);

  Db() = default;
  Db(Db&&) noexcept = default;
  Db& operator=(Db&&) noexcept = default;

  Result<Stmt> Prepare(std::string_view sql);
  Status Exec(std::string_view sql);  // may hold several statements
  // Runs a query returning one integer (or nullopt when no row / NULL).
  // Both compile each SQL text once per connection (Cached()).
  Result<std::optional<int64_t>> QueryInt(std::string_view sql);
  Result<std::optional<std::string>> QueryText(std::string_view sql);

  // A statement compiled once per connection and SQL text, for the queries a
  // loop runs again and again: lent to the returned handle and reset when
  // the handle goes (so it holds no read between uses). While it is lent,
  // another asker gets a statement of its own.
  class Lent {
   public:
    Lent(Lent&& o) noexcept : slot_(o.slot_), own_(std::move(o.own_)) { o.slot_ = nullptr; }
    Lent& operator=(Lent&&) = delete;
    ~Lent();
    Stmt& operator*() { return slot_ != nullptr ? slot_->stmt : own_; }
    Stmt* operator->() { return &**this; }

   private:
    friend class Db;
    struct Slot {
      Stmt stmt;
      bool lent = false;
    };
    explicit Lent(Slot* slot) : slot_(slot) {}
    explicit Lent(Stmt own) : own_(std::move(own)) {}
    Slot* slot_ = nullptr;
    Stmt own_;
  };
  Result<Lent> Cached(std::string_view sql);

  sqlite3* get() const { return db_.get(); }
  const std::string& path() const { return path_; }
  int64_t Changes() const { return sqlite3_changes64(db_.get()); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
  std::string path_;
  // After db_: finalized before the connection closes.
  std::unordered_map<std::string, std::unique_ptr<Lent::Slot>> cached_;
};

// Quotes an SQLite identifier: "name" with embedded quotes doubled.
std::string QuoteSqliteIdent(std::string_view name);

}  // namespace slipway
