#pragma once
// Change capture in the app's SQLite file: triggers that record every touched
// key in _slipway_changelog inside the app's own transaction. Installed in one
// write transaction with the control tables; idempotent; removed by
// RemoveCapture() without touching the app's tables.
// Thread-safety: uses the given read-write Db; one call at a time.

#include <map>
#include <optional>
#include <string>

#include "common/sqlite.h"
#include "replicator/schema_stamp.h"
#include "schema/model.h"
#include "schema/plan.h"

namespace slipway::replicator {

inline constexpr int kMaxKeyColumns = 4;
inline constexpr const char* kTriggerPrefix = "_slipway_";

// How the app's writes are captured. kTriggers: every write records its keys
// through the triggers. kSession: a connection with slipway's SQLite
// extension records each explicit transaction as one changeset
// (replicator/capture_extension/slipway_capture.h); the triggers stay for
// every other write (other connections, autocommit statements, tables the
// session cannot see: those without a declared PRIMARY KEY, rows with a NULL
// key). Recorded in _slipway_meta ('capture').
enum class CaptureMode { kTriggers, kSession };
const char* CaptureModeName(CaptureMode m);
Result<CaptureMode> ParseCaptureMode(const std::string& text);

struct CaptureInfo {
  std::string migration_id;
  std::string history;  // the file's history token, "" if none (replicator/source_history.h)
  std::map<std::string, int> tids;  // source table -> tid
  CaptureMode mode = CaptureMode::kTriggers;
  // Set by InstallCapture, inside its write transaction: the schema stamp
  // before it changed anything, and after (replicator/schema_stamp.h).
  SchemaStamp stamp_before;
  SchemaStamp stamp;
};

// Installs (or refreshes) capture for every table of the plan and returns the
// table ids. A new migration id (and history token) is made when the file has
// none. Without `mode` the file keeps the mode it has (triggers for a new
// one).
// REQUIRES: `schema` is the introspection the plan was checked against.
Result<CaptureInfo> InstallCapture(Db& db, const schema::SourceSchema& schema, const schema::Plan& plan,
                                   std::optional<CaptureMode> mode = std::nullopt);

// Reads the migration id and table ids when capture is installed.
Result<CaptureInfo> ReadCapture(Db& db);
// The table ids the file records (_slipway_tables): source table -> tid.
Result<std::map<std::string, int>> ReadTids(Db& db);

// Drops every slipway trigger and table from the file. With keep_fence, the
// cutover's fence triggers and _slipway_meta (which records the phase) stay.
Status RemoveCapture(Db& db, bool keep_fence = false);

// The trigger statements for one table (exposed for tests and benchmarks).
// With a migration id the key triggers of a table with a declared primary
// key stay silent where the session records the write.
std::vector<std::string> CaptureTriggerSql(const schema::Table& table, const schema::TableMapping& tm, int tid,
                                           const std::string& session_migration_id = "");

}  // namespace slipway::replicator
