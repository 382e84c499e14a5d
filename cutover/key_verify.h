#pragma once
// Verification inside the freeze: the rows of every key touched in a
// changelog range, compared value by value. Costs what changed, not what
// exists. Row counts are not compared here: the full verify before the
// freeze proved every key equal or pending (changed after its position), and
// every pending or later-changed key is in the range, so an untouched key is
// still equal on both sides.

#include <map>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/pg_source.h"
#include "schema/plan.h"

namespace slipway::cutover {

struct TouchedDifference {
  std::string table;
  std::string key;
  std::string what;  // "missing in target", "extra in target", "column c: source X, target Y", "count ..."
};

// What stops a move when a touched-key check found `diffs` (not empty):
// kMismatch naming the check, the first difference's table, key and what
// differs, and how many there are. The move stops before its fence, so the
// app's database stays live.
Status TouchedMismatch(const std::string& check, const std::vector<TouchedDifference>& diffs);

// REQUIRES: `source` is inside a transaction that sees the range's end; the
// target holds the applied range.
// With `skip_touched_after`, keys touched again after `to` (in the source's
// snapshot) are left out: the source may hold a newer row for them than the
// target, which holds exactly `to` (a caller that owns the applier's role,
// outside the freeze, checks them later).
Result<std::vector<TouchedDifference>> VerifyTouchedKeys(Db& source, PgConn& target, const schema::Plan& plan,
                                                     const std::map<std::string, int>& tids, int64_t from, int64_t to,
                                                     bool skip_touched_after = false);

// The other direction: the rows of every key `source` touched in
// (from, to], as it yields them in SQLite form, compared with the SQLite
// file value by value (storage class and bytes); a touched key the source no
// longer holds must be gone from the file too.
// REQUIRES: inside source.BeginRead(), which returned a position no older
// than `to`; `db` sees everything applied up to `to`.
// With `skip_touched_after`, keys a transaction after `to` touched again (of
// those the read sees) are left out: PostgreSQL may hold a newer row for them
// than the file, which holds exactly `to` (a caller that owns the applier's
// role, outside the freeze, checks them later). Every other key's row in the
// read is its row as of `to` (pg_source.h, SettledRows).
Result<std::vector<TouchedDifference>> VerifyTouchedInSqlite(replicator::PgChangelogSource& source, Db& db,
                                                         const schema::Plan& plan,
                                                         const std::map<std::string, int>& tids,
                                                         const replicator::Position& from,
                                                         const replicator::Position& to,
                                                         bool skip_touched_after = false);


}  // namespace slipway::cutover
