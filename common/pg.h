#pragma once
// Thin RAII wrappers over libpq. PgConn owns a connection; PgResult owns a
// result. Errors are classified (unreachable, auth failed, retryable SQLSTATE)
// and never contain the password: messages pass through Redact().
// Thread-safety: one PgConn per thread.

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace slipway {

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) : res_(r) {}
  int Rows() const { return PQntuples(res_.get()); }
  int Cols() const { return PQnfields(res_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  std::string_view Get(int row, int col) const {
    return {PQgetvalue(res_.get(), row, col), static_cast<size_t>(PQgetlength(res_.get(), row, col))};
  }
  std::string Str(int row, int col) const { return std::string(Get(row, col)); }
  std::optional<std::string> Opt(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return Str(row, col);
  }
  std::string ColumnName(int col) const { return PQfname(res_.get(), col); }
  PGresult* get() const { return res_.get(); }

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> res_;
};

// A parameter: nullopt is SQL NULL. Values are sent as text, never pasted.
using PgParam = std::optional<std::string>;

class PgConn {
 public:
  // Connects with the URI or key=value conninfo. Adds application_name and a
  // connect timeout unless given. Failures: kUnreachable or kAuthFailed.
  static Result<PgConn> Connect(const std::string& conninfo);

  PgConn() = default;
  PgConn(PgConn&&) noexcept = default;
  PgConn& operator=(PgConn&&) noexcept = default;

  Result<PgResult> Exec(std::string_view sql);
  Result<PgResult> ExecParams(std::string_view sql, const std::vector<PgParam>& params);
  Status Run(std::string_view sql) { return Exec(sql).status(); }

  // Pipeline mode: queue many statements, one round trip. Prepare() names a
  // statement once per connection; Queue() adds an execution; Flush() sends a
  // sync and reads every result, returning the first error.
  Status Prepare(const std::string& name, const std::string& sql, int nparams);
  bool IsPrepared(const std::string& name) const;
  Status BeginPipeline();
  Status QueuePrepared(const std::string& name, const std::vector<PgParam>& params);
  Status QueueSql(const std::string& sql);
  Status QueueParams(const std::string& sql, const std::vector<PgParam>& params);
  // Sends the sync and flushes: the server runs what is queued while the
  // caller does other work. EndPipeline() then only reads the results.
  Status SendPipelineSync();
  Status EndPipeline();  // sync (unless sent), read all results, leave pipeline mode

  // COPY ... FROM STDIN helpers.
  Status CopyBegin(std::string_view copy_sql);
  Status CopyPut(const char* data, size_t size);
  Result<int64_t> CopyEnd();  // returns rows copied

  PGconn* get() const { return conn_.get(); }
  int ServerVersion() const { return PQserverVersion(conn_.get()); }
  std::string ErrorMessage() const;

 private:
  Status ResultStatus(PGresult* r, std::string_view what);
  struct Finish {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  std::unique_ptr<PGconn, Finish> conn_;
  std::vector<std::string> prepared_;
  int queued_ = 0;
  bool sync_sent_ = false;
};

// Rolls back the connection's open transaction when it goes out of scope,
// unless `active` was cleared after COMMIT.
struct RollbackGuard {
  PgConn& conn;
  bool active = true;
  ~RollbackGuard() {
    if (active) (void)conn.Run("ROLLBACK");
  }
};

// Quotes a PostgreSQL identifier: "name" with embedded quotes doubled.
// libpq's connection failure, one attempt per address tried (each a line
// and tab-indented hints), as one line: the first attempt, and how many more
// failed (the same way, or the last one's words).
std::string SummarizeConnectError(const std::string& message);

std::string QuotePgIdent(std::string_view name);
// Quotes a PostgreSQL string literal for DDL shown to a user (E'' when needed).
std::string QuotePgLiteral(std::string_view value);

}  // namespace slipway
