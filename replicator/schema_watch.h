#pragma once
// Schema changes the app makes while the stream runs. PRAGMA schema_version
// moves on any change; the schema is then read again and compared with the
// plan. New columns of replicated tables and new tables (that the plan's table
// selection takes) are carried over online: mapped, created in the target,
// captured, and their rows copied again in the next apply transaction. Any
// other change (a dropped or renamed table or column) stops the stream with a
// message naming it: nothing is ever silently dropped.
// Thread-safety: used by the stream's thread only.

#include <set>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/sqlite.h"
#include "schema/model.h"
#include "schema/plan.h"

namespace slipway::replicator {

struct SchemaDiff {
  std::vector<std::pair<std::string, std::string>> added_columns;  // table, column
  std::vector<std::string> added_tables;
  std::vector<std::string> fatal;  // human-readable, e.g. "table results was dropped or renamed"
  bool empty() const { return added_columns.empty() && added_tables.empty() && fatal.empty(); }
};

// What changed between the plan's tables and the schema now.
SchemaDiff DiffSchema(const schema::Plan& plan, const schema::SourceSchema& now);

class SchemaWatch {
 public:
  SchemaWatch(std::string source_path, schema::Plan* plan) : path_(std::move(source_path)), plan_(plan) {}

  // Records the schema version; fails on changes the stream cannot carry.
  Status Start(Db& db, const schema::SourceSchema& now);
  // Inside the round's read transaction: kSchemaChanged with the change when
  // something changed. pending() then says whether it can be carried over.
  Status Check(Db& db);
  bool pending() const { return !pending_.added_columns.empty() || !pending_.added_tables.empty(); }

  // Carries the pending additions over: target DDL, capture, stored plan.
  // Returns the tables whose rows must be copied again (by tid).
  Result<std::set<int>> CarryOver(Db& db, PgConn& pg, std::map<std::string, int>* tids);

 private:
  std::string path_;
  schema::Plan* plan_;
  int64_t version_ = -1;
  SchemaDiff pending_;
};

}  // namespace slipway::replicator
