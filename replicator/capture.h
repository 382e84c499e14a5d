#pragma once
// Change capture in the app's SQLite file: triggers that record every touched
// key in _slipway_changelog inside the app's own transaction. Installed in one
// write transaction with the control tables; idempotent; removed by
// RemoveCapture() without touching the app's tables.
// Thread-safety: uses the given read-write Db; one call at a time.

#include <map>
#include <string>

#include "common/sqlite.h"
#include "replicator/schema_stamp.h"
#include "schema/model.h"
#include "schema/plan.h"

namespace slipway::replicator {

inline constexpr int kMaxKeyColumns = 4;
inline constexpr const char* kTriggerPrefix = "_slipway_";

struct CaptureInfo {
  std::string migration_id;
  std::string history;  // the file's history token, "" if none (replicator/source_history.h)
  std::map<std::string, int> tids;  // source table -> tid
  // Set by InstallCapture, inside its write transaction: the schema stamp
  // before it changed anything, and after (replicator/schema_stamp.h).
  SchemaStamp stamp_before;
  SchemaStamp stamp;
};

// Installs (or refreshes) capture for every table of the plan and returns the
// table ids. A new migration id (and history token) is made when the file has
// none.
// REQUIRES: `schema` is the introspection the plan was checked against.
Result<CaptureInfo> InstallCapture(Db& db, const schema::SourceSchema& schema, const schema::Plan& plan);

// Reads the migration id and table ids when capture is installed.
Result<CaptureInfo> ReadCapture(Db& db);

// Drops every slipway trigger and table from the file. With keep_fence, the
// cutover's fence triggers and _slipway_meta (which records the phase) stay.
Status RemoveCapture(Db& db, bool keep_fence = false);

// The trigger statements for one table (exposed for tests and benchmarks).
std::vector<std::string> CaptureTriggerSql(const schema::Table& table, const schema::TableMapping& tm, int tid);

}  // namespace slipway::replicator
