#pragma once
// Process exit codes: one per kind of outcome, so scripts can tell them apart.
// The table is documented in the README; keep the two in step.

#include "common/status.h"

namespace slipway {

enum class ExitCode : int {
  kOk = 0,
  kDifferent = 1,       // verify: source and target differ
  kUsage = 2,           // unknown command or option, bad option value
  kBlocked = 3,         // plan: something cannot move unchanged
  kSourceMissing = 4,   // source file does not exist / cannot be opened
  kNotSqlite = 5,       // source is not a SQLite database, or is corrupt
  kUnreachable = 6,     // target server cannot be reached
  kAuthFailed = 7,      // target refused the credentials
  kConflict = 8,        // target holds data/schema slipway must not touch
  kSchemaChanged = 9,   // the source schema no longer matches the saved plan
  kIo = 10,             // local file error (plan file, mapping file)
  kWrongSource = 11,    // the source is not the file the target followed (copy, backup)
  kPermission = 12,     // the target role lacks a privilege (CREATE, SET session_replication_role)
  kSourceLocked = 13,   // another connection holds a lock on the source file
  kNoCapture = 14,      // the source has no capture installed (stream/status before a snapshot)
  kInternal = 70,       // anything else: a bug or an unexpected answer
};

inline int ExitCodeFor(Code code) {
  switch (code) {
    case Code::kOk: return static_cast<int>(ExitCode::kOk);
    case Code::kMismatch: return static_cast<int>(ExitCode::kDifferent);
    case Code::kInvalidArgument: return static_cast<int>(ExitCode::kUsage);
    case Code::kBlocked: return static_cast<int>(ExitCode::kBlocked);
    case Code::kNotFound: return static_cast<int>(ExitCode::kSourceMissing);
    case Code::kNotSqlite:
    case Code::kCorrupt: return static_cast<int>(ExitCode::kNotSqlite);
    case Code::kUnreachable:
    case Code::kRetryable: return static_cast<int>(ExitCode::kUnreachable);
    case Code::kAuthFailed: return static_cast<int>(ExitCode::kAuthFailed);
    case Code::kConflict: return static_cast<int>(ExitCode::kConflict);
    case Code::kSchemaChanged: return static_cast<int>(ExitCode::kSchemaChanged);
    case Code::kIo: return static_cast<int>(ExitCode::kIo);
    case Code::kWrongSource: return static_cast<int>(ExitCode::kWrongSource);
    case Code::kPermissionDenied: return static_cast<int>(ExitCode::kPermission);
    case Code::kSourceBusy: return static_cast<int>(ExitCode::kSourceLocked);
    case Code::kNoCapture: return static_cast<int>(ExitCode::kNoCapture);
    case Code::kInternal: return static_cast<int>(ExitCode::kInternal);
  }
  return static_cast<int>(ExitCode::kInternal);
}

}  // namespace slipway
