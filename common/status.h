#pragma once
// Status and Result<T>: errors are values. A Status carries a code that drives
// a decision (retry, stop, report) and a one-line message; context is added by
// each layer on the way up with Annotate(). The layer that decides logs.
// Thread-safety: value types, safe to copy between threads.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace slipway {

enum class Code {
  kOk = 0,
  kInvalidArgument,   // bad option or bad user-supplied file content
  kNotFound,          // a file or object that must exist does not
  kNotSqlite,         // the source file is not a SQLite database
  kCorrupt,           // the source database is damaged
  kUnreachable,       // the target server cannot be reached
  kAuthFailed,        // the target refused our credentials
  kBlocked,           // the plan has columns that cannot move unchanged
  kConflict,          // the target holds something we must not overwrite
  kSchemaChanged,     // the source schema no longer matches the plan
  kMismatch,          // verification found different data
  kWrongSource,       // the source file is not the one the target followed
  kRetryable,         // transient: lost connection, serialization failure
  kPermissionDenied,  // the target role lacks a privilege slipway needs
  kSourceBusy,        // another connection holds a lock on the source (transient unless it lasts)
  kNoCapture,         // the source has no capture installed (no snapshot was taken from it)
  kIo,                // local file-system error
  kInternal,          // a bug or an unexpected server answer
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with context ("table \"t\": " + message).
  Status Annotate(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Whether trying again later may succeed: a lost connection, a serialization
// failure, a source another connection has locked.
inline bool IsRetryable(Code code) { return code == Code::kRetryable || code == Code::kSourceBusy; }

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
inline Status IoError(std::string m) { return {Code::kIo, std::move(m)}; }
inline Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  Result(Code code, std::string message) : status_(code, std::move(message)) {}

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace slipway

#define SLIPWAY_CONCAT_INNER(a, b) a##b
#define SLIPWAY_CONCAT(a, b) SLIPWAY_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::slipway::Status _st = (expr);            \
    if (!_st.ok()) return _st;                 \
  } while (0)

// ASSIGN_OR_RETURN(auto x, MakeX()); declares x or returns the error.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL(SLIPWAY_CONCAT(_res_, __LINE__), lhs, rexpr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                          \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()
