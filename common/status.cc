#include "common/status.h"

namespace slipway {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kNotSqlite: return "not a SQLite database";
    case Code::kCorrupt: return "corrupt database";
    case Code::kUnreachable: return "target unreachable";
    case Code::kAuthFailed: return "authentication failed";
    case Code::kBlocked: return "blocked";
    case Code::kConflict: return "conflict";
    case Code::kSchemaChanged: return "schema changed";
    case Code::kMismatch: return "mismatch";
    case Code::kWrongSource: return "wrong source";
    case Code::kRetryable: return "retryable";
    case Code::kPermissionDenied: return "permission denied";
    case Code::kSourceBusy: return "source locked";
    case Code::kNoCapture: return "capture not installed";
    case Code::kIo: return "i/o error";
    case Code::kInternal: return "internal error";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return message_;
}

}  // namespace slipway
