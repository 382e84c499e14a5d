#include "cutover/uncaptured_check.h"

#include "common/log.h"
#include "cutover/verifier.h"
#include "cutover/verify_pending.h"
#include "cutover/verify_report.h"
#include "replicator/session.h"
#include "replicator/step_progress.h"

namespace slipway::cutover {
namespace {

constexpr int kKeysListed = 20;

std::string Describe(const KeyDiff& k) {
  std::string s = DiffKindName(k.kind);
  if (k.kind == DiffKind::kDifferent) {
    for (size_t i = 0; i < k.columns.size(); ++i) {
      const auto& c = k.columns[i];
      s += (i == 0 ? ": " : "; ") + c.column + " source " + c.source + ", target " + c.target;
    }
  } else if (!k.row.empty()) {
    s += " (" + k.row + ")";
  }
  return s;
}

}  // namespace

Result<UncapturedReport> CheckUncapturedWrites(const std::string& source_path, const std::string& target_uri,
                                               const schema::Plan& plan, const std::map<std::string, int>& tids) {
  UncapturedReport out;
  ASSIGN_OR_RETURN(PgConn conn, PgConn::Connect(target_uri));
  RETURN_IF_ERROR(replicator::SetupSession(conn, replicator::SessionRole::kReader));
  // The snapshot reverse capture was armed in: every write the app made in
  // PostgreSQL since is invisible in it.
  ASSIGN_OR_RETURN(PgResult start, conn.Exec("SELECT reverse_start FROM slipway.migration"));
  if (start.Rows() != 1 || start.IsNull(0, 0)) {
    return Status(Code::kConflict, "the target records no reverse capture start: PostgreSQL is not open to the app");
  }
  const std::string reverse_start = start.Str(0, 0);
  VerifyOptions options;
  options.max_report = kKeysListed;
  options.pending_keys = [&](PgConn& target, const schema::TableMapping& t,
                             const CompareColumns& cols) -> Result<std::unordered_set<uint64_t>> {
    auto tid = tids.find(t.source);
    if (tid == tids.end()) return std::unordered_set<uint64_t>();
    return ReadPgChangedKeys(target, cols, tid->second, reverse_start);
  };
  Verifier v(source_path, conn, plan.options.pg_schema, options);
  RETURN_IF_ERROR(v.Open());
  // Every row of those tables is read on both sides: minutes at tens of
  // millions of rows, so it shows its progress as the full verify does.
  VerifyRunProgress progress(plan, [](const schema::TableMapping& tm) { return schema::HoldsTextOrBlob(tm); });
  auto log = Logger("cutover");
  replicator::StepProgressWriter published(target_uri, "cutover uncaptured-write check",
                                           [&progress] { return progress.Figures(); });
  published.Start();
  for (const auto& tm : plan.tables) {
    if (!schema::HoldsTextOrBlob(tm)) continue;
    out.tables.push_back(tm.source);
    progress.Starting(tm.source);
    auto checked = v.VerifyTable(tm);
    if (!checked.ok()) {
      published.Stop(false);
      return checked.status();
    }
    const TableReport& r = *checked;
    log->info("uncaptured-write check: {}", progress.Done(r));
    out.total += r.mismatched;
    for (const auto& k : r.keys) {
      if (k.pending) continue;
      out.differences.push_back({tm.source, k.key, Describe(k)});
    }
    if (r.unexamined_buckets > 0) {
      out.total += static_cast<int64_t>(r.unexamined_buckets);
      out.differences.push_back({tm.source, "", std::to_string(r.unexamined_buckets) +
                                                    " differing bucket(s) too many to narrow down"});
    }
  }
  published.Stop(true);
  return out;
}

}  // namespace slipway::cutover
