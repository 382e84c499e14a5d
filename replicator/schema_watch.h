#pragma once
// Schema changes the app makes while the stream runs. PRAGMA schema_version
// moves on any change; the schema is then read again and compared with the
// plan. New columns of replicated tables and new tables (that the plan's table
// selection takes) are carried over online: mapped, created in the target,
// captured, and their rows copied again in the next apply transaction. Any
// other change (a dropped or renamed table or column, a changed type) stops
// the stream with a message naming every change, and nothing of it is carried
// over, not even an addition that came with it: the target is left as it was.
// A schema_version that moved while the schema stayed the same (VACUUM) may
// have renumbered rowids: the rowid-keyed tables are copied whole
// (replicator/schema_stamp.h). The stamp the stream last applied under is kept
// in the target, so changes made while no stream ran are found at its start.
// Thread-safety: used by the stream's thread only.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/sqlite.h"
#include "replicator/schema_stamp.h"
#include "schema/model.h"
#include "schema/plan.h"

namespace slipway::replicator {

struct SchemaDiff {
  std::vector<std::pair<std::string, std::string>> added_columns;  // table, column
  std::vector<std::string> added_tables;
  std::vector<std::string> fatal;  // human-readable, e.g. "table results was dropped or renamed"
  bool empty() const { return added_columns.empty() && added_tables.empty() && fatal.empty(); }
  // Every change, for a message: "column t.v was dropped or renamed; new column t.v2".
  std::string Describe() const;
};

// What changed between the plan's tables and the schema now.
SchemaDiff DiffSchema(const schema::Plan& plan, const schema::SourceSchema& now);

class SchemaWatch {
 public:
  SchemaWatch(std::string source_path, schema::Plan* plan) : path_(std::move(source_path)), plan_(plan) {}

  // Compares the file with the stamp the target last applied under (none
  // yet: the file's is stored). Fails, naming every change, on changes the
  // stream cannot carry; pending() says whether there is something to carry.
  Status Start(Db& db, PgConn& pg);
  // Inside the round's read transaction: kSchemaChanged with the change when
  // something changed. pending() then says whether it can be carried over.
  Status Check(Db& db);
  bool pending() const {
    return pending_.fatal.empty() && (!pending_.added_columns.empty() || !pending_.added_tables.empty() ||
                                      renumbered_ || stamp_moved_);
  }

  // Carries the pending change over: target DDL, capture, stored plan, the
  // tables VACUUM may have renumbered, the stamp. Returns every table whose
  // rows must be copied again in the next apply transaction (by tid).
  Result<std::set<int>> CarryOver(Db& db, PgConn& pg, std::map<std::string, int>* tids);

 private:
  std::string path_;
  schema::Plan* plan_;
  SchemaStamp stamp_;         // of the file, as last read
  SchemaStamp applied_;       // the one the target holds
  bool renumbered_ = false;   // rowids may have been renumbered since applied_
  bool stamp_moved_ = false;  // applied_ is to be moved on to stamp_
  SchemaDiff pending_;
};

}  // namespace slipway::replicator
