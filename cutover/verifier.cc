#include "cutover/verifier.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <set>
#include <thread>
#include <unordered_set>

#include "common/log.h"
#include "cutover/verify_pending.h"
#include "schema/canonical.h"

namespace slipway::cutover {
namespace {

constexpr size_t kMinBuckets = 4096;
constexpr size_t kMaxBuckets = size_t{1} << 20;  // 16 MB of sums per side
constexpr int64_t kRowsPerBucket = 64;
constexpr size_t kRowTextChars = 200;

// Runs `sqlite_side` on a second thread and `pg_side` on this one, so the
// table costs about the time of the slower side. Returns the first error.
// The seconds each side took land in *timing, for the debug log.
struct SideSeconds {
  double sqlite = 0;
  double pg = 0;
};

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

template <typename A, typename B>
Status RunBoth(A sqlite_side, B pg_side, SideSeconds* timing) {
  Status a;
  const auto start = std::chrono::steady_clock::now();
  std::thread worker([&] {
    a = sqlite_side();
    timing->sqlite = Since(start);
  });
  Status b = pg_side();
  timing->pg = Since(start);
  worker.join();
  return a.ok() ? b : a;
}

// Orders keys for the report: integers by value, everything else by bytes.
bool KeyLess(const std::vector<Component>& a, const std::vector<Component>& b, const CompareColumns& cols,
             size_t nkey) {
  for (size_t i = 0; i < nkey && i < a.size() && i < b.size(); ++i) {
    if (a[i].tag != b[i].tag) return a[i].tag < b[i].tag;
    if (a[i].bytes == b[i].bytes) continue;
    if (schema::IsIntegerKind(cols.KeyKind(i))) {
      int64_t x = 0, y = 0;
      auto rx = std::from_chars(a[i].bytes.data(), a[i].bytes.data() + a[i].bytes.size(), x);
      auto ry = std::from_chars(b[i].bytes.data(), b[i].bytes.data() + b[i].bytes.size(), y);
      if (rx.ec == std::errc() && ry.ec == std::errc()) return x < y;
    }
    return a[i].bytes < b[i].bytes;
  }
  return false;
}

std::string KeyName(const CompareColumns& cols, size_t i) { return cols.rowid ? "rowid" : cols.key[i]->source; }

// One differing key, with its rows decoded, for the report.
struct Found {
  const KeyDifference* diff;
  bool pending;
  std::vector<Component> source;  // empty when the key is missing there
  std::vector<Component> target;
  const std::vector<Component>& any() const { return source.empty() ? target : source; }
};

KeyDiff Describe(const Found& f, const CompareColumns& cols) {
  const size_t nkey = cols.rowid ? 1 : cols.key.size();
  KeyDiff k;
  k.kind = f.diff->kind;
  k.pending = f.pending;
  const auto& any = f.any();
  for (size_t i = 0; i < nkey && i < any.size(); ++i) {
    if (i > 0) k.key += ", ";
    k.key += KeyName(cols, i) + "=" + RenderComponent(any[i], cols.KeyKind(i));
  }
  if (k.kind == DiffKind::kDifferent) {
    for (size_t i = 0; i < cols.values.size(); ++i) {
      const size_t c = nkey + i;
      if (c >= f.source.size() || c >= f.target.size()) break;
      const Component& s = f.source[c];
      const Component& t = f.target[c];
      if (s.tag == t.tag && s.bytes == t.bytes) continue;
      const schema::PgKind kind = cols.values[i]->type.kind;
      k.columns.push_back({cols.values[i]->source, RenderComponent(s, kind), RenderComponent(t, kind)});
    }
    // Same values, other row count: a key SQLite holds more than once (NULL keys).
    if (k.columns.empty()) k.row = "the key has a different number of rows on each side";
    return k;
  }
  for (size_t i = 0; i < cols.values.size() && nkey + i < any.size(); ++i) {
    // The key is shown already.
    if (std::find(cols.key.begin(), cols.key.end(), cols.values[i]) != cols.key.end()) continue;
    if (k.row.size() > kRowTextChars) {
      k.row += ", ...";
      break;
    }
    k.row += (k.row.empty() ? "" : ", ") + cols.values[i]->source + "=" +
             RenderComponent(any[nkey + i], cols.values[i]->type.kind, 40);
  }
  return k;
}

}  // namespace

Verifier::Verifier(std::string sqlite_path, PgConn& target, std::string pg_schema, VerifyOptions options)
    : sqlite_path_(std::move(sqlite_path)), target_(target), pg_schema_(std::move(pg_schema)), options_(options) {}

Status Verifier::Open() {
  ASSIGN_OR_RETURN(source_, Db::Open(sqlite_path_, Db::Mode::kReadOnly));
  RETURN_IF_ERROR(target_.Run(schema::kCanonicalSessionSql));
  // A long COPY is not a runaway query.
  RETURN_IF_ERROR(target_.Run("SET statement_timeout = 0"));
  ASSIGN_OR_RETURN(positions_, TargetHasPositions(target_));
  ASSIGN_OR_RETURN(changelog_, SourceHasChangelog(source_));
  return Status::Ok();
}

Status Verifier::CheckTarget(const schema::TableMapping& t, const CompareColumns& cols) {
  const std::string qualified = QuotePgIdent(pg_schema_) + "." + QuotePgIdent(t.target);
  ASSIGN_OR_RETURN(PgResult r, target_.ExecParams("SELECT a.attname FROM pg_attribute a WHERE a.attrelid = "
                                                  "to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
                                                  {qualified}));
  std::set<std::string> have;
  for (int i = 0; i < r.Rows(); ++i) have.insert(r.Str(i, 0));
  if (have.empty()) {
    return Conflict("target table " + qualified + " (for \"" + t.source + "\") does not exist");
  }
  std::vector<std::string> need;
  if (cols.rowid) need.push_back(schema::kRowidColumn);
  for (const auto* m : cols.key) need.push_back(m->target);
  for (const auto* m : cols.values) need.push_back(m->target);
  std::string missing;
  for (const auto& n : need) {
    if (have.count(n) == 0 && missing.find("\"" + n + "\"") == std::string::npos) {
      missing += (missing.empty() ? "" : ", ") + ("\"" + n + "\"");
    }
  }
  if (!missing.empty()) return Conflict("target table " + qualified + " has no column " + missing);
  return Status::Ok();
}

size_t Verifier::BucketCount(int64_t rows) const {
  if (options_.buckets > 0) return options_.buckets;
  const auto want = std::bit_ceil(static_cast<uint64_t>(std::max<int64_t>(rows, 1) / kRowsPerBucket + 1));
  return std::clamp(static_cast<size_t>(want), kMinBuckets, kMaxBuckets);
}

Result<TableReport> Verifier::VerifyTable(const schema::TableMapping& t) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(CompareColumns cols, CompareColumns::For(t));
  RETURN_IF_ERROR(CheckTarget(t, cols));
  TableReport report;
  report.table = t.source;
  report.target = pg_schema_ + "." + t.target;
  report.buckets = BucketCount(t.rows);
  BucketSums src(report.buckets), dst(report.buckets);
  SideSeconds pass1;
  Status s = RunBoth(
      [&] {
        return InSqliteRead(source_, [&] {
          return ReadSqliteTable(source_, t, cols, [&](const RowFrame& f) {
            src.Add(HashRow(f));
            return Status::Ok();
          });
        });
      },
      [&] {
        return InPgRead(target_, [&] {
          return ReadPgTable(target_, pg_schema_, t, cols, [&](const RowFrame& f) {
            dst.Add(HashRow(f));
            return Status::Ok();
          });
        });
      },
      &pass1);
  RETURN_IF_ERROR(s.Annotate("verify table \"" + t.source + "\""));
  report.source_rows = src.rows();
  report.target_rows = dst.rows();
  const std::vector<size_t> differing = DifferingBuckets(src, dst);
  report.differing_buckets = differing.size();
  if (!differing.empty()) {
    if (options_.between_reads) options_.between_reads();
    RETURN_IF_ERROR(Narrow(t, cols, differing, src, dst, &report).Annotate("verify table \"" + t.source + "\""));
  }
  report.seconds = Since(start);
  Logger("verify")->debug("table={} source_rows={} target_rows={} buckets={} differing_buckets={} mismatched={} "
                          "pending={} pass1_sqlite_seconds={:.3f} pass1_pg_seconds={:.3f} seconds={:.3f}",
                          t.source, report.source_rows, report.target_rows, report.buckets,
                          report.differing_buckets, report.mismatched, report.pending, pass1.sqlite, pass1.pg,
                          report.seconds);
  return report;
}

Status Verifier::Narrow(const schema::TableMapping& t, const CompareColumns& cols,
                        const std::vector<size_t>& differing, const BucketSums& src, const BucketSums& dst,
                        TableReport* report) {
  // Which buckets to keep, and how much of them: the pass-1 counts say how
  // many rows each holds, so the memory is bounded before reading.
  std::vector<Keep> keep(src.size(), Keep::kNothing);
  size_t whole = 0, hashed = 0;
  for (size_t i = 0; i < differing.size(); ++i) {
    const size_t b = differing[i];
    const auto rows = static_cast<size_t>(std::max(src.at(b).count, dst.at(b).count));
    if (hashed > 0 && hashed + rows > options_.narrow_rows) {
      report->unexamined_buckets = differing.size() - i;
      break;
    }
    hashed += rows;
    if (whole == 0 || whole + rows <= options_.detail_rows) {
      keep[b] = Keep::kRows;
      whole += rows;
    } else {
      keep[b] = Keep::kHashes;
    }
  }

  NarrowSide ns(&keep), nt(&keep);
  // The second read's own bucket sums, so the report's counts are those of
  // the read the verdict comes from.
  BucketSums src2(src.size()), dst2(dst.size());
  std::optional<int64_t> head, position;
  SideSeconds pass2;
  Status s = RunBoth(
      [&] {
        return InSqliteRead(source_, [&]() -> Status {
          if (changelog_) {
            ASSIGN_OR_RETURN(head, ReadChangelogHead(source_));
          }
          return ReadSqliteTable(source_, t, cols, [&](const RowFrame& f) {
            src2.Add(HashRow(f));
            ns.Add(f);
            return Status::Ok();
          });
        });
      },
      [&] {
        return InPgRead(target_, [&]() -> Status {
          if (positions_) {
            ASSIGN_OR_RETURN(position, ReadTargetPosition(target_, t.source));
          }
          return ReadPgTable(target_, pg_schema_, t, cols, [&](const RowFrame& f) {
            dst2.Add(HashRow(f));
            nt.Add(f);
            return Status::Ok();
          });
        });
      },
      &pass2);
  RETURN_IF_ERROR(s);
  report->first_read = FirstRead{src.rows(), dst.rows(), differing.size()};
  report->source_rows = src2.rows();
  report->target_rows = dst2.rows();
  const std::vector<size_t> differing2 = DifferingBuckets(src2, dst2);
  report->differing_buckets = differing2.size();
  const std::unordered_set<size_t> first(differing.begin(), differing.end());
  for (size_t b : differing2) report->buckets_changed_between_reads += first.count(b) == 0 ? 1 : 0;
  const std::vector<KeyDifference> diffs = MergeSides(ns, nt);
  Logger("verify")->debug("table={} pass=2 buckets_narrowed={} rows_kept_source={} rows_kept_target={} "
                          "sqlite_seconds={:.3f} pg_seconds={:.3f}",
                          t.source, differing.size() - report->unexamined_buckets, ns.entries().size(),
                          nt.entries().size(), pass2.sqlite, pass2.pg);

  // Keys changed after the older of the two reads are in flight, not wrong.
  // The changelog is read now, after both reads, so it holds every change
  // either of them could have seen.
  std::unordered_set<uint64_t> changed;
  report->position = position;
  if (options_.pending_keys) {
    ASSIGN_OR_RETURN(changed, options_.pending_keys(target_, t, cols));
  } else if (changelog_ && position) {
    const int64_t after = head ? std::min(*position, *head) : *position;
    ASSIGN_OR_RETURN(changed, ReadChangedKeys(source_, t, cols, after));
  }

  std::vector<Found> found;
  for (const auto& d : diffs) {
    const bool pending = changed.count(d.pending_hash) != 0;
    ++(pending ? report->pending : report->mismatched);
    if (d.source_frame < 0 && d.target_frame < 0) continue;  // hashes only: counted, not shown
    Found f{&d, pending, {}, {}};
    if (d.source_frame >= 0) f.source = DecodeFrame(ns.frames()[static_cast<size_t>(d.source_frame)]);
    if (d.target_frame >= 0) f.target = DecodeFrame(nt.frames()[static_cast<size_t>(d.target_frame)]);
    found.push_back(std::move(f));
  }
  const size_t nkey = cols.rowid ? 1 : cols.key.size();
  std::sort(found.begin(), found.end(), [&](const Found& a, const Found& b) {
    if (a.pending != b.pending) return !a.pending;
    return KeyLess(a.any(), b.any(), cols, nkey);
  });
  for (const auto& f : found) {
    if (report->keys.size() >= static_cast<size_t>(std::max(options_.max_report, 0))) break;
    report->keys.push_back(Describe(f, cols));
  }
  return Status::Ok();
}

}  // namespace slipway::cutover
