#include "replicator/reverse_applier.h"

#include <functional>
#include <set>

#include "common/log.h"
#include "schema/introspect.h"

namespace slipway::replicator {
namespace {

using Clock = std::chrono::steady_clock;

// The SQLite form of a column added in PostgreSQL: a declared type whose
// affinity keeps what the reverse codec hands back, and the representation
// the forward direction maps it with after a rollback. False for the types
// that need a choice (date/time text formats, padded char).
bool SqliteFormOf(const schema::PgType& type, schema::ColumnMapping* cm, std::string* decl) {
  using schema::Affinity;
  using schema::PgKind;
  using schema::Repr;
  switch (type.kind) {
    case PgKind::kBigint:
    case PgKind::kInteger:
    case PgKind::kSmallint: *decl = "INTEGER"; cm->repr = Repr::kNative; cm->affinity = Affinity::kInteger; return true;
    case PgKind::kDouble: *decl = "REAL"; cm->repr = Repr::kNative; cm->affinity = Affinity::kReal; return true;
    case PgKind::kText:
    case PgKind::kVarchar: *decl = "TEXT"; cm->repr = Repr::kNative; cm->affinity = Affinity::kText; return true;
    case PgKind::kBytea: *decl = "BLOB"; cm->repr = Repr::kNative; cm->affinity = Affinity::kBlob; return true;
    case PgKind::kBoolean: *decl = "BOOLEAN"; cm->repr = Repr::kBool01; cm->affinity = Affinity::kNumeric; return true;
    case PgKind::kNumeric:
      *decl = "NUMERIC";
      cm->repr = Repr::kNumberAsNumeric;
      cm->affinity = Affinity::kNumeric;
      return true;
    case PgKind::kJson:
    case PgKind::kJsonb: *decl = "TEXT"; cm->repr = Repr::kJsonText; cm->affinity = Affinity::kText; return true;
    case PgKind::kUuid:
      *decl = "TEXT";
      cm->repr = Repr::kUuidText;
      cm->format = "lower";
      cm->affinity = Affinity::kText;
      return true;
    default: return false;
  }
}

constexpr const char* kStops =
    "; the reverse stream cannot carry this back to SQLite and stops (undo the change in PostgreSQL, or stay on "
    "PostgreSQL: a rollback would lose it)";

}  // namespace

ReverseApplier::ReverseApplier(PgConn& pg, Db& sqlite, const schema::Plan& plan,
                               const std::map<std::string, int>& tids, int cycle)
    : pg_(pg), sqlite_(sqlite), plan_(plan), tids_(tids), cycle_(cycle) {
  Build();
}

void ReverseApplier::Build() {
  source_ = std::make_unique<PgChangelogSource>(pg_, plan_, tids_);
  sink_ = std::make_unique<SqliteSink>(sqlite_, plan_, tids_, cycle_);
  applier_ = std::make_unique<Applier>(*source_, *sink_);
}

Status ReverseApplier::CheckSchema() {
  checked_ = true;
  last_check_ = Clock::now();
  ASSIGN_OR_RETURN(PgChangelogSource::SchemaDrift d, source_->CheckSchema());
  if (d.empty()) return Status::Ok();
  if (!d.changes.empty()) {
    std::string more = d.changes.size() > 1 ? " (and " + std::to_string(d.changes.size() - 1) + " more change(s))" : "";
    return Status(Code::kSchemaChanged, "the schema changed in PostgreSQL after the cutover: " + d.changes[0] + more + kStops);
  }
  std::vector<SqliteSink::NewColumn> columns;
  std::set<int> resync;
  schema::Plan next = plan_;
  for (const auto& a : d.added) {
    const std::string name = "column " + a.table + "." + a.column + " (" + a.type + ")";
    if (a.not_null) {
      return Status(Code::kSchemaChanged, name + " was added NOT NULL in PostgreSQL after the cutover" + kStops);
    }
    schema::ColumnMapping cm;
    std::string decl;
    auto type = schema::PgType::Parse(a.type);
    if (!type.ok() || !SqliteFormOf(*type, &cm, &decl)) {
      return Status(Code::kSchemaChanged, name + " was added in PostgreSQL after the cutover and has no plain SQLite "
                                                 "form to follow it with" + kStops);
    }
    cm.source = a.column;
    cm.target = a.column;
    cm.type = *type;
    cm.source_decl = decl;
    cm.reason = "added in PostgreSQL after the cutover";
    schema::TableMapping* tm = nullptr;
    for (auto& t : next.tables) {
      if (t.source == a.table) tm = &t;
    }
    if (tm == nullptr) return Status(Code::kInternal, "no plan table " + a.table);
    tm->columns.push_back(cm);
    next.source_columns[a.table].emplace_back(a.column, decl);
    columns.push_back({a.table, a.column, decl});
    resync.insert(a.tid);
    Logger("stream")->info("following {} added in PostgreSQL: SQLite column {} {}, table copied back whole", name,
                           a.column, decl);
  }
  plan_ = std::move(next);
  Build();
  sink_->AddColumnsAtNextRound(std::move(columns));
  applier_->Resync(resync);
  store_plan_ = true;
  return Status::Ok();
}

Result<Position> ReverseApplier::Round(const Position& from, RoundStats* stats, int64_t max_changes) {
  ASSIGN_OR_RETURN(Position to, source_->BeginRead());
  bool reading = true;
  auto end_read = [&] {
    if (reading) source_->EndRead();
    reading = false;
  };
  struct End {
    std::function<void()> f;
    ~End() { f(); }
  } end{end_read};
  ASSIGN_OR_RETURN(std::vector<TableTouch> touched, source_->Touched(from, to));
  // Inside the read, before any row is read: a column added before this
  // snapshot is in the catalog now.
  if (!touched.empty() || !checked_ || Clock::now() - last_check_ >= std::chrono::seconds(1)) {
    RETURN_IF_ERROR(CheckSchema());
  }
  if (touched.empty() && !applier_->has_resync()) return from;
  bool cut = false;
  if (!applier_->has_resync()) {
    ASSIGN_OR_RETURN(Position bounded, source_->Bound(from, to, max_changes));
    cut = !(bounded == to);
    to = bounded;
  }
  auto applied = applier_->ApplyRange(from, to);
  if (!applied.ok()) {
    // A change made while the round read (a column dropped after the check)
    // fails the read: name it rather than the query error.
    const Code code = applied.status().code();
    if (!IsRetryable(code) && code != Code::kUnreachable && code != Code::kBlocked) {
      end_read();
      auto d = source_->CheckSchema();
      if (d.ok() && !d->changes.empty()) {
        return Status(Code::kSchemaChanged, "the schema changed in PostgreSQL after the cutover: " + d->changes[0] + kStops);
      }
    }
    return applied.status();
  }
  *stats = *applied;
  stats->more = cut;
  end_read();
  if (store_plan_) {
    // SQLite already has the column: a crash before this is followed again
    // from the stored (older) plan, the ALTER skipped, the table copied again.
    ASSIGN_OR_RETURN(schema::SourceSchema now, schema::Introspect(sqlite_));
    plan_.fingerprint = now.Fingerprint();
    RETURN_IF_ERROR(pg_.ExecParams("UPDATE slipway.migration SET plan = $1::jsonb, source_fingerprint = $2",
                                   {schema::PlanToJson(plan_).dump(), plan_.fingerprint})
                        .status()
                        .Annotate("storing the plan with the columns followed"));
    store_plan_ = false;
  }
  return to;
}

}  // namespace slipway::replicator
