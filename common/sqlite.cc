#include "common/sqlite.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace slipway {

Status SqliteStatus(int rc, sqlite3* db, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_NOTADB: return {Code::kNotSqlite, msg};
    case SQLITE_CORRUPT: return {Code::kCorrupt, msg};
    case SQLITE_CANTOPEN: return {Code::kNotFound, msg};
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return {Code::kSourceBusy, msg};
    case SQLITE_IOERR:
    case SQLITE_FULL: return {Code::kIo, msg};
    case SQLITE_CONSTRAINT: return {Code::kConflict, msg};
    default: return {Code::kInternal, msg};
  }
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(rc, db_, "step");
}

Status Stmt::Reset() {
  int rc = sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  return SqliteStatus(rc, db_, "reset");
}

Status Stmt::Run() {
  while (true) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_.get(), i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, double v) {
  sqlite3_bind_double(stmt_.get(), i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, std::string_view text) {
  sqlite3_bind_text64(stmt_.get(), i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}
Stmt& Stmt::BindBlob(int i, const void* data, int size) {
  sqlite3_bind_blob(stmt_.get(), i, data, size, SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(stmt_.get(), i);
  return *this;
}
Stmt& Stmt::BindValue(int i, const sqlite3_value* v) {
  sqlite3_bind_value(stmt_.get(), i, v);
  return *this;
}

std::string Stmt::Text(int i) const { return std::string(TextView(i)); }

std::string_view Stmt::TextView(int i) const {
  const unsigned char* p = sqlite3_column_text(stmt_.get(), i);
  int n = sqlite3_column_bytes(stmt_.get(), i);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p), static_cast<size_t>(n)};
}

std::string_view Stmt::BlobView(int i) const {
  const void* p = sqlite3_column_blob(stmt_.get(), i);
  int n = sqlite3_column_bytes(stmt_.get(), i);
  if (p == nullptr) return {};
  return {static_cast<const char*>(p), static_cast<size_t>(n)};
}

std::optional<std::string> Stmt::OptText(int i) const {
  if (IsNull(i)) return std::nullopt;
  return Text(i);
}

Result<Db> Db::Open(const std::string& path, Mode mode, int busy_timeout_ms) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status(Code::kNotFound,
                  "source database " + path + " cannot be opened: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status(Code::kNotSqlite, "source " + path + " is not a regular file");
  }
  Db db;
  db.path_ = path;
  int flags = SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX |
              (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
  // A file: URI so that mode=ro is enforced by SQLite itself. Characters with
  // meaning in a URI are percent-encoded.
  std::string uri = "file:";
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      uri += buf;
    } else {
      uri += static_cast<char>(c);
    }
  }
  if (mode == Mode::kReadOnly) uri += "?mode=ro";
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(uri.c_str(), &raw, flags, nullptr);
  db.db_.reset(raw);
  if (rc != SQLITE_OK) return SqliteStatus(rc, raw, "open " + path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  // Reading the schema validates the header; a non-database fails here.
  auto n = db.QueryInt("SELECT count(*) FROM sqlite_schema");
  if (!n.ok()) {
    Status s = n.status();
    if (s.code() == Code::kNotSqlite) {
      return Status(Code::kNotSqlite, path + " is not a SQLite database (file is encrypted or is not a database)");
    }
    if (s.code() == Code::kCorrupt) {
      return Status(Code::kCorrupt, path + " is a corrupt SQLite database: " + s.message());
    }
    return s.Annotate("open " + path);
  }
  return db;
}

Result<Db> Db::OpenOrCreate(const std::string& path) {
  Db db;
  db.path_ = path;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db.db_.reset(raw);
  if (rc != SQLITE_OK) return SqliteStatus(rc, raw, "open " + path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), 0, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return SqliteStatus(rc, db_.get(), "prepare");
  }
  return Stmt(raw, db_.get());
}

Status Db::Exec(std::string_view sql) {
  std::string copy(sql);
  int rc = sqlite3_exec(db_.get(), copy.c_str(), nullptr, nullptr, nullptr);
  return SqliteStatus(rc, db_.get(), "exec");
}

Db::Lent::~Lent() {
  if (slot_ == nullptr) return;
  (void)slot_->stmt.Reset();
  slot_->lent = false;
}

Result<Db::Lent> Db::Cached(std::string_view sql) {
  auto it = cached_.find(std::string(sql));
  if (it != cached_.end() && it->second->lent) {
    ASSIGN_OR_RETURN(Stmt own, Prepare(sql));
    return Lent(std::move(own));
  }
  if (it == cached_.end()) {
    ASSIGN_OR_RETURN(Stmt st, Prepare(sql));
    auto slot = std::make_unique<Lent::Slot>();
    slot->stmt = std::move(st);
    it = cached_.emplace(std::string(sql), std::move(slot)).first;
  }
  it->second->lent = true;
  return Lent(it->second.get());
}

Result<std::optional<int64_t>> Db::QueryInt(std::string_view sql) {
  ASSIGN_OR_RETURN(Lent st, Cached(sql));
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row || st->IsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(st->Int(0));
}

Result<std::optional<std::string>> Db::QueryText(std::string_view sql) {
  ASSIGN_OR_RETURN(Lent st, Cached(sql));
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row || st->IsNull(0)) return std::optional<std::string>();
  return std::optional<std::string>(st->Text(0));
}

std::string QuoteSqliteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace slipway
