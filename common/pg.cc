#include "common/pg.h"

#include <vector>

#include <cstring>

#include "common/redact.h"

namespace slipway {
namespace {

bool ContainsCI(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (strncasecmp(hay.data() + i, needle.data(), needle.size()) == 0) return true;
  }
  return false;
}

std::string FirstLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

std::string SummarizeConnectError(const std::string& message) {
  // One attempt: a line, then its hints on lines starting with a tab.
  std::vector<std::string> attempts;
  size_t p = 0;
  while (p < message.size()) {
    size_t e = message.find('\n', p);
    if (e == std::string::npos) e = message.size();
    std::string line = message.substr(p, e - p);
    p = e + 1;
    const bool hint = !line.empty() && line[0] == '\t';
    while (!line.empty() && (line.front() == '\t' || line.front() == ' ')) line.erase(line.begin());
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    if (hint && !attempts.empty()) {
      attempts.back() += " " + line;
    } else {
      attempts.push_back(line);
    }
  }
  if (attempts.empty()) return "";
  std::string out = attempts[0];
  if (attempts.size() > 1) {
    out += " (and " + std::to_string(attempts.size() - 1) + " more address" + (attempts.size() > 2 ? "es" : "") +
           " tried, same way)";
    for (size_t i = 1; i < attempts.size(); ++i) {
      const size_t a = attempts[i].find("failed: "), b = attempts[0].find("failed: ");
      if (a == std::string::npos || b == std::string::npos || attempts[i].substr(a) != attempts[0].substr(b)) {
        out.replace(out.size() - std::string(", same way)").size(), std::string(", same way)").size(),
                    "; last: " + attempts.back() + ")");
        break;
      }
    }
  }
  return out;
}

Result<PgConn> PgConn::Connect(const std::string& conninfo) {
  RETURN_IF_ERROR(CheckUriUserinfo(conninfo));
  // Expand the user's conninfo, then add our defaults where unset.
  const char* keys[] = {"dbname", "application_name", "connect_timeout", nullptr};
  std::string timeout = "10";
  const char* vals[] = {conninfo.c_str(), "slipway", timeout.c_str(), nullptr};
  PgConn c;
  c.conn_.reset(PQconnectdbParams(keys, vals, /*expand_dbname=*/1));
  if (c.conn_ == nullptr) return Status(Code::kInternal, "out of memory connecting to PostgreSQL");
  if (PQstatus(c.conn_.get()) != CONNECTION_OK) {
    std::string msg = SummarizeConnectError(PQerrorMessage(c.conn_.get()));
    std::string where = RedactConninfo(conninfo);
    if (ContainsCI(msg, "password") || ContainsCI(msg, "authentication")) {
      return Status(Code::kAuthFailed, "PostgreSQL " + where + " refused the credentials: " + Redact(msg, conninfo));
    }
    if (ContainsCI(msg, "invalid connection option") || ContainsCI(msg, "invalid URI") ||
        ContainsCI(msg, "missing \"=\"") || ContainsCI(msg, "invalid integer value")) {
      return Status(Code::kInvalidArgument, "bad target connection string: " + Redact(msg, conninfo));
    }
    return Status(Code::kUnreachable, "cannot connect to PostgreSQL " + where + ": " + Redact(msg, conninfo));
  }
  // Server notices (e.g. "schema already exists, skipping") are not errors.
  PQsetNoticeProcessor(c.conn_.get(), [](void*, const char*) {}, nullptr);
  return c;
}

std::string PgConn::ErrorMessage() const { return FirstLine(PQerrorMessage(conn_.get())); }

Status PgConn::ResultStatus(PGresult* r, std::string_view what) {
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN ||
      st == PGRES_COPY_OUT || st == PGRES_EMPTY_QUERY) {
    return Status::Ok();
  }
  std::string msg = FirstLine(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_.get()));
  if (msg.empty()) msg = ErrorMessage();
  const char* sqlstate = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string state = sqlstate != nullptr ? sqlstate : "";
  std::string full = std::string(what) + ": " + msg;
  if (PQstatus(conn_.get()) != CONNECTION_OK || state.rfind("08", 0) == 0 || state == "57P01" ||
      state == "40001" || state == "40P01" || state == "57P03") {
    return Status(Code::kRetryable, full);
  }
  if (state.rfind("23", 0) == 0) return Status(Code::kConflict, full);
  if (state == "42501") return Status(Code::kPermissionDenied, full);
  return Status(Code::kInternal, full);
}

Result<PgResult> PgConn::Exec(std::string_view sql) {
  std::string s(sql);
  PgResult r(PQexec(conn_.get(), s.c_str()));
  RETURN_IF_ERROR(ResultStatus(r.get(), "query"));
  return r;
}

Result<PgResult> PgConn::ExecParams(std::string_view sql, const std::vector<PgParam>& params) {
  std::string s(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PgResult r(PQexecParams(conn_.get(), s.c_str(), static_cast<int>(params.size()), nullptr,
                          values.data(), nullptr, nullptr, 0));
  RETURN_IF_ERROR(ResultStatus(r.get(), "query"));
  return r;
}

Status PgConn::Prepare(const std::string& name, const std::string& sql, int nparams) {
  PgResult r(PQprepare(conn_.get(), name.c_str(), sql.c_str(), nparams, nullptr));
  RETURN_IF_ERROR(ResultStatus(r.get(), "prepare"));
  prepared_.push_back(name);
  return Status::Ok();
}

bool PgConn::IsPrepared(const std::string& name) const {
  for (const auto& p : prepared_) {
    if (p == name) return true;
  }
  return false;
}

Status PgConn::BeginPipeline() {
  if (PQenterPipelineMode(conn_.get()) != 1) return Status(Code::kRetryable, "pipeline: " + ErrorMessage());
  queued_ = 0;
  sync_sent_ = false;
  return Status::Ok();
}

Status PgConn::QueuePrepared(const std::string& name, const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (PQsendQueryPrepared(conn_.get(), name.c_str(), static_cast<int>(params.size()), values.data(), nullptr, nullptr,
                          0) != 1) {
    return Status(Code::kRetryable, "pipeline send: " + ErrorMessage());
  }
  ++queued_;
  return Status::Ok();
}

Status PgConn::QueueSql(const std::string& sql) {
  if (PQsendQueryParams(conn_.get(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
    return Status(Code::kRetryable, "pipeline send: " + ErrorMessage());
  }
  ++queued_;
  return Status::Ok();
}

Status PgConn::QueueParams(const std::string& sql, const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (PQsendQueryParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr,
                        nullptr, 0) != 1) {
    return Status(Code::kRetryable, "pipeline send: " + ErrorMessage());
  }
  ++queued_;
  return Status::Ok();
}

Status PgConn::SendPipelineSync() {
  if (PQpipelineSync(conn_.get()) != 1) return Status(Code::kRetryable, "pipeline sync: " + ErrorMessage());
  sync_sent_ = true;
  return Status::Ok();
}

Status PgConn::EndPipeline() {
  Status first;
  if (!sync_sent_ && PQpipelineSync(conn_.get()) != 1) {
    first = Status(Code::kRetryable, "pipeline sync: " + ErrorMessage());
  }
  sync_sent_ = false;
  // Each queued statement yields its result then a NULL; the sync yields
  // PGRES_PIPELINE_SYNC.
  bool synced = !first.ok();
  while (!synced) {
    PGresult* raw = PQgetResult(conn_.get());
    if (raw == nullptr) {
      if (PQstatus(conn_.get()) != CONNECTION_OK) {
        first = Status(Code::kRetryable, "pipeline: " + ErrorMessage());
        break;
      }
      continue;
    }
    PgResult r(raw);
    ExecStatusType st = PQresultStatus(raw);
    if (st == PGRES_PIPELINE_SYNC) {
      synced = true;
    } else if (st == PGRES_PIPELINE_ABORTED) {
      if (first.ok()) first = Status(Code::kInternal, "pipeline aborted");
    } else {
      Status s = ResultStatus(raw, "pipeline");
      if (!s.ok() && first.ok()) first = s;
    }
  }
  if (PQexitPipelineMode(conn_.get()) != 1 && first.ok()) {
    first = Status(Code::kRetryable, "pipeline exit: " + ErrorMessage());
  }
  queued_ = 0;
  return first;
}

Status PgConn::CopyBegin(std::string_view copy_sql) {
  std::string s(copy_sql);
  PgResult r(PQexec(conn_.get(), s.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_IN) return ResultStatus(r.get(), "copy");
  return Status::Ok();
}

Status PgConn::CopyPut(const char* data, size_t size) {
  if (PQputCopyData(conn_.get(), data, static_cast<int>(size)) != 1) {
    return Status(Code::kRetryable, "copy: " + ErrorMessage());
  }
  return Status::Ok();
}

Result<int64_t> PgConn::CopyEnd() {
  if (PQputCopyEnd(conn_.get(), nullptr) != 1) return Status(Code::kRetryable, "copy end: " + ErrorMessage());
  int64_t rows = 0;
  Status result;
  while (PGresult* raw = PQgetResult(conn_.get())) {
    PgResult r(raw);
    Status s = ResultStatus(raw, "copy");
    if (!s.ok() && result.ok()) result = s;
    const char* n = PQcmdTuples(raw);
    if (n != nullptr && *n != '\0') rows = std::strtoll(n, nullptr, 10);
  }
  if (!result.ok()) return result;
  return rows;
}

std::string QuotePgIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string QuotePgLiteral(std::string_view value) {
  bool backslash = value.find('\\') != std::string_view::npos;
  std::string out = backslash ? "E'" : "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    if (c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

}  // namespace slipway
