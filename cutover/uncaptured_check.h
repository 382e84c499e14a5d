#pragma once
// After a cutover: the writes trigger capture could not see. SQLite's
// incremental blob API (sqlite3_blob_write, Python's Connection.blobopen)
// changes a TEXT or BLOB value in place without firing any trigger, so such a
// write made after the cutover's full verify reaches neither the stream nor
// the freeze's verify of touched keys. Once the file is fenced and
// PostgreSQL open, CheckUncapturedWrites compares every table that has a
// column holding TEXT or BLOB values (schema::HoldsTextOrBlob) between the
// fenced file and PostgreSQL, outside the freeze; the keys the app changed in
// PostgreSQL since (slipway.changelog) are left aside. What differs is a
// write PostgreSQL does not have.
// REQUIRES: the caller holds the applier's advisory lock (no reverse stream
// writes the file or prunes slipway.changelog meanwhile).
// Thread-safety: one call at a time per connection.

#include <map>
#include <string>
#include <vector>

#include "common/pg.h"
#include "cutover/key_verify.h"
#include "schema/plan.h"

namespace slipway::cutover {

struct UncapturedReport {
  std::vector<std::string> tables;              // the tables compared
  std::vector<TouchedDifference> differences;   // table, key, what differs (both values)
  int64_t total = 0;                            // differing keys, including those not listed
};

Result<UncapturedReport> CheckUncapturedWrites(const std::string& source_path, const std::string& target_uri,
                                               const schema::Plan& plan, const std::map<std::string, int>& tids);

}  // namespace slipway::cutover
