#pragma once
// What the app's schema looked like when the target last caught up with it:
// SQLite's schema cookie (PRAGMA schema_version) and a hash of the app's own
// schema text (sqlite_schema without slipway's objects). Kept in
// slipway.migration so that a stream started later, or a cutover, compares
// against it too.
//
// Why: VACUUM may renumber the rowids of every table without an INTEGER
// PRIMARY KEY, fires no trigger, and changes no schema text; its only trace
// is the cookie, which it moves by one (vacuum.c copies BTREE_SCHEMA_VERSION
// plus one). A table keyed by rowid in the target would then take each later
// change on whichever row held that number. So a cookie that moved while the
// schema text stayed the same means "rowids may be renumbered": every
// rowid-keyed table is copied whole in the next apply transaction, and the
// keys of that range are ignored for it (they may be rowids from before the
// VACUUM). A cookie that moved by more than one alongside a schema change may
// hide a VACUUM among the statements and is treated the same way. Each
// schema statement moves it by one.
// Thread-safety: plain functions over a caller's connections; a
// RenumberCheck belongs to one thread.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/pg.h"
#include "common/sqlite.h"
#include "schema/plan.h"

namespace slipway::replicator {

struct SchemaStamp {
  int64_t version = -1;
  std::string hash;  // of the app's schema text, hex
  bool operator==(const SchemaStamp& o) const { return version == o.version && hash == o.hash; }
};

// The file's stamp. Inside a transaction when it must match what that
// transaction reads.
Result<SchemaStamp> ReadSchemaStamp(Db& db);
// The stamp the target last applied under; nullopt for a migration that has
// none yet.
Result<std::optional<SchemaStamp>> ReadStoredStamp(PgConn& pg);
Status StoreStamp(PgConn& pg, const SchemaStamp& stamp);
// slipway's own DDL (the fence, a capture refresh) moved the file's schema
// cookie from `before` to `after`: when the target's stored stamp is
// `before`, it becomes `after`; otherwise (a VACUUM or a schema change came
// first) it is left for the stream to judge.
Status FollowStamp(PgConn& pg, const SchemaStamp& before, const SchemaStamp& after);

// Whether the change from `before` to `now` may have renumbered rowids.
bool MayHaveRenumbered(const SchemaStamp& before, const SchemaStamp& now);

// Installing (or switching) capture re-creates triggers, which moves the
// cookie with the schema text unchanged, as a VACUUM does. InstallCapture()
// records the stamps it went from and to in _slipway_meta
// ('capture_refresh'); this is true when `before` -> `now` is exactly that
// refresh (so no VACUUM can hide in it). Read in the caller's transaction.
Result<bool> IsCaptureRefresh(Db& db, const SchemaStamp& before, const SchemaStamp& now);
Status RecordCaptureRefresh(Db& db, const SchemaStamp& before, const SchemaStamp& after);

// The plan's tables keyed by rowid, by tid.
std::map<int, std::string> RowidKeyedTables(const schema::Plan& plan, const std::map<std::string, int>& tids);

// Marks `tables` for a whole copy in the next apply transaction (inside the
// caller's target transaction) and logs each.
Status MarkRenumbered(PgConn& pg, const std::map<int, std::string>& tables, const SchemaStamp& from,
                      const SchemaStamp& to);

// For an applier that follows a fixed plan (the cutover's catch-up): inside
// the round's SQLite transaction, compares the file's stamp with the target's.
// A VACUUM since: marks the rowid-keyed tables and stores the new stamp in one
// target transaction, and returns their tids, to pass to the applier's
// Resync() before the range is applied. A schema change since: kSchemaChanged
// (the stream carries schema changes over; a cutover does not).
class RenumberCheck {
 public:
  Result<std::set<int>> Check(Db& db, PgConn& pg, const schema::Plan& plan, const std::map<std::string, int>& tids);

 private:
  std::optional<SchemaStamp> known_;  // the target's, once read
};

}  // namespace slipway::replicator
