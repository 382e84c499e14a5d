#pragma once
// The plan: what the SQLite database becomes in PostgreSQL. BuildPlan()
// introspects, audits every selected table, maps names and types, applies a
// user's mapping file, and generates the DDL. The plan is saved as JSON
// (--out) and is what later commands run (--plan), refused when the source
// schema no longer matches its fingerprint.

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/sqlite.h"
#include "schema/mapping.h"
#include "schema/model.h"

namespace slipway::schema {

enum class DdlPhase { kPreData, kPostData };

struct DdlStatement {
  DdlPhase phase = DdlPhase::kPreData;
  std::string kind;      // "table", "index", "unique index", "foreign key", "check"
  std::string table;     // SQLite table it belongs to
  std::string name;      // SQLite name of the index/constraint, when any
  std::string sql;
  std::string pg_name;   // the PostgreSQL object it creates (index/constraint), to make re-runs idempotent
  bool optional = false; // may be dropped (with a warning) when PostgreSQL rejects it
  bool dropped = false;  // PostgreSQL rejected it during validation
};

struct Plan {
  int format_version = 1;
  std::string source_path;
  std::string fingerprint;
  std::string journal_mode;
  MapOptions options;
  std::vector<TableMapping> tables;
  std::vector<Note> notes;
  std::vector<DdlStatement> ddl;
  // Per table: SQLite column name -> declared type, to name schema changes.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> source_columns;
  bool ddl_validated = false;
  // The audit behind the mapping, per SQLite table (not saved with the plan).
  std::map<std::string, TableAudit> audits;

  bool Blocked() const;
  int64_t Count(Severity s) const;
  const TableMapping* FindTable(const std::string& source_name) const;
};

using AuditProgress = std::function<void(const TableAudit&)>;

// REQUIRES: `schema` is Introspect(db). With `jobs` > 1 the tables' data
// (audit, foreign-key check) is read on that many threads, each with a
// read-only connection of its own to db.path(); the plan is the same.
Result<Plan> BuildPlan(Db& db, const SourceSchema& schema, const MapOptions& options,
                       const MappingFile* overrides, const AuditProgress& progress, int jobs = 1);

// The CREATE TABLE for a mapped table (pre-data), and the post-data DDL.
std::vector<DdlStatement> GenerateDdl(const SourceSchema& schema, const Plan& plan);

// Unique indexes and CHECKs of the plan's tables that the DDL cannot carry
// (a collation PostgreSQL has no equivalent for, a skipped column): each a
// rollback risk, as a warning note. Statements PostgreSQL rejects are noted
// by ValidateDdl().
std::vector<Note> RollbackRiskNotes(const SourceSchema& schema, const Plan& plan);

// All DDL as one script (dropped statements left out, as comments).
std::string RenderDdl(const Plan& plan);

nlohmann::json PlanToJson(const Plan& plan);
Result<Plan> PlanFromJson(const nlohmann::json& j);
Status SavePlan(const Plan& plan, const std::string& path);
Result<Plan> LoadPlan(const std::string& path);

// Compares the source schema now with the one the plan was made from;
// kSchemaChanged naming the first differences when they differ.
Status CheckSchemaUnchanged(const Plan& plan, const SourceSchema& now);

}  // namespace slipway::schema
