#pragma once
// The continuous verifier's state in the target (slipway.verify_progress and
// slipway.verify_mismatch, replicator/pg_state.sql) as `slipway status`, the
// stream's /status and /metrics and the cutover read it; and the cutover's
// rule for when the background verify stands in for the full verify before
// its freeze.
// Thread-safety: plain functions over a caller's connection.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/pg.h"
#include "common/sqlite.h"
#include "schema/plan.h"

namespace slipway::cutover {

// What the migration's tables and their mapping are: the plan, the source
// schema stamp and the cutover cycle. A pass that started under another
// stamp proves nothing about the tables as they are now.
inline constexpr const char* kMigrationStampSql =
    "SELECT md5(concat_ws('/', plan::text, source_schema_version, source_schema_hash, reverse_cycle)) "
    "FROM slipway.migration";

struct VerifyTableProgress {
  std::string table;
  int64_t pass = 0;            // the pass under way
  std::string walk;            // "rows" or "extras"
  std::string after_text;      // verified up to, in this pass ("" before its first chunk)
  int64_t pass_rows = 0;
  std::optional<std::string> pass_started_at;
  double rate = 0;             // rows/s of the pass under way
  std::optional<int64_t> completed_pass;
  std::optional<std::string> completed_at;
  double completed_age_s = 0;
  std::optional<int64_t> completed_from;  // the oldest position its chunks were read at
  int64_t completed_rows = 0;
  double completed_seconds = 0;
  bool completed_current = false;  // under the migration's current stamp
};

struct VerifyMismatch {
  std::string table;
  std::string key_text;
  std::string what;
  std::string found_at;
};

struct VerifyProgress {
  bool present = false;  // the state tables exist
  std::vector<VerifyTableProgress> tables;
  std::vector<VerifyMismatch> mismatches;
};

Result<VerifyProgress> ReadVerifyProgress(PgConn& conn);
nlohmann::json VerifyProgressJson(const VerifyProgress& p);

// kMismatch naming the first open mismatch's table and key.
Status CheckNoOpenMismatch(const VerifyProgress& p);

struct SkipDecision {
  bool skip = false;
  // When skipping: every key not touched in the changelog after this
  // position was proven equal by the background pass.
  int64_t from = 0;
  std::string reason;  // why it skips, or why not and how long the pass still takes
};

// The full verify before a cutover's freeze is skipped when, for every table
// of the plan, the background verifier completed a pass under the current
// stamp within `max_age_s`, no mismatch is open, and the SQLite changelog
// still holds every change after the oldest position those passes read at
// (`from`), which the touched-key check inside the freeze then starts from.
Result<SkipDecision> DecideVerifySkip(PgConn& pg, Db& source, const schema::Plan& plan, int64_t max_age_s);

}  // namespace slipway::cutover
