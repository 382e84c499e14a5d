#pragma once
// `slipway snapshot`: installs capture in the SQLite file, creates the target
// tables (or adopts the app's own, empty ones), copies every table in
// parallel chunks, then builds keys, indexes, constraints and foreign keys.
// Resumable: all state is in the target's "slipway" schema and the SQLite
// control tables; a second run continues where the first stopped.
// Thread-safety: Run() starts and joins its own worker threads.

#include <optional>
#include <string>
#include <vector>

#include "common/pg.h"
#include "replicator/capture.h"
#include "replicator/progress.h"
#include "schema/model.h"
#include "schema/plan.h"

namespace slipway::replicator {

struct SnapshotOptions {
  std::string source_path;
  std::string target_uri;
  int jobs = 2;
  int64_t chunk_rows = 100000;
  bool set_wal = false;        // switch a non-WAL database to WAL
  bool truncate_existing = false;  // empty target tables slipway did not fill
  ProgressMode progress = ProgressMode::kLog;
  std::string pause_file;      // while this file exists, no new chunk starts
  int max_cpu_percent = 100;   // each worker sleeps in proportion to its work
  // When the app's -wal file passes this size, new chunks wait until no copy
  // holds a read transaction and the WAL was checkpointed, so SQLite can
  // start the log over (a reader pins the frames it may need).
  int64_t max_wal_bytes = 64LL << 20;
  // Validate foreign keys (NOT VALID until then) before returning; by
  // default the stream validates them in the background.
  bool validate_foreign_keys = false;
  // Unset: a new move captures by triggers, a resumed one keeps its mode.
  std::optional<CaptureMode> capture;
};

// Validates the plan's foreign keys that are still NOT VALID (idempotent);
// the ones existing rows break stay NOT VALID and are described in *warnings.
Status ValidateForeignKeys(PgConn& pg, const schema::Plan& plan, std::vector<std::string>* warnings);

// With the plan's target_schema "create": a conflict naming the first plan
// table that already exists in the target (slipway did not create it).
Status CheckTargetTablesAbsent(PgConn& pg, const schema::Plan& plan);

struct SnapshotResult {
  int64_t rows = 0;
  int tables_copied = 0;
  int tables_skipped = 0;  // finished by an earlier run
  CaptureMode capture = CaptureMode::kTriggers;
  double seconds = 0;
  std::vector<std::string> warnings;
  std::string migration_id;
};

// REQUIRES: `plan` is clean and checked against `schema` (the caller refuses
// a blocked plan), or is the plan stored in the target by an earlier run.
Result<SnapshotResult> RunSnapshot(const SnapshotOptions& options, const schema::SourceSchema& schema,
                                   const schema::Plan& plan);

}  // namespace slipway::replicator
