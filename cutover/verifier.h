#pragma once
// The verifier: proves that the SQLite source and the PostgreSQL target hold
// the same rows per table, and when they do not, names each differing key
// with both values.
//
// Per table, order-independent and in constant memory:
//  pass 1  both sides are streamed completely and at the same time (SQLite on
//          a second thread, one read transaction; PostgreSQL by COPY in a
//          REPEATABLE READ READ ONLY transaction). Each row becomes a
//          canonical frame (row_frame.h); buckets keep (count, sum of row
//          hashes). Equal buckets everywhere: the table is equal.
//  pass 2  only when buckets differ: both sides are read again and the rows
//          of the differing buckets kept (whole rows for a budget of
//          buckets, hashes for the rest), then merged key by key.
// Works while the application writes: the SQLite file is opened read-only
// and only read transactions are taken (in WAL mode they do not block the
// writer). When the target records its applied position and the source has
// the changelog (verify_pending.h), a differing key that changed after
// min(target position, source changelog head at the time of the read) is
// reported as pending instead of as a mismatch: the stream has not applied
// it yet, or the source snapshot predates what the target already has.
//
// Thread-safety: one Verifier per thread. It uses `target` (from its own
// thread while VerifyTable runs) and a SQLite connection of its own (from a
// worker thread).

#include <functional>
#include <optional>
#include <unordered_set>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/sqlite.h"
#include "cutover/verify_merge.h"
#include "cutover/verify_read.h"
#include "schema/mapping.h"

namespace slipway::cutover {

// The pending hashes (RowHashes::pending) of the keys of a table that may
// differ because they changed after the older of the two reads; called on
// the verifier's target connection after both reads.
using PendingKeysFn = std::function<Result<std::unordered_set<uint64_t>>(PgConn& target, const schema::TableMapping& t,
                                                                        const CompareColumns& cols)>;

struct VerifyOptions {
  int max_report = 20;                 // differing keys listed per table
  size_t buckets = 0;                  // 0: sized from the table's row count
  size_t detail_rows = 10000;          // rows kept whole while narrowing, per side
  size_t narrow_rows = 4000000;        // rows kept as hashes while narrowing, per side
  // Set when the changes flow from PostgreSQL to SQLite: what is pending is
  // then known to the target's changelog, not to the source's.
  PendingKeysFn pending_keys;
  // Called between the first read and the second (only when the first found
  // differing buckets). Tests make writes land there.
  std::function<void()> between_reads;
};

struct ColumnDiff {
  std::string column;  // SQLite column name
  std::string source;  // rendered canonical values
  std::string target;
};

struct KeyDiff {
  DiffKind kind = DiffKind::kDifferent;
  std::string key;      // "id=5", "a='x', b=2", "rowid=7"
  bool pending = false; // changed after the target's position
  std::vector<ColumnDiff> columns;  // kDifferent: the columns that differ
  std::string row;      // kMissing / kExtra: the row that exists, briefly
};

// What the first read saw, when a second one was needed to name the keys.
// The app may write between the two, so these counts can differ from the
// report's, which belong to the read the verdict comes from.
struct FirstRead {
  int64_t source_rows = 0;
  int64_t target_rows = 0;
  size_t differing_buckets = 0;
};

// Counts and buckets are from the same read as the keys and the verdict: the
// second read when differing buckets were narrowed down, else the only one.
struct TableReport {
  std::string table;    // SQLite name
  std::string target;   // schema.table in PostgreSQL
  int64_t source_rows = 0;
  int64_t target_rows = 0;
  size_t buckets = 0;
  size_t differing_buckets = 0;   // differing in the verdict's read (pending keys included)
  size_t unexamined_buckets = 0;  // differing, but past the narrowing budget
  // Differing in the second read only: written between the reads, so not
  // narrowed down (a later verify, or the cutover's, examines them).
  size_t buckets_changed_between_reads = 0;
  std::optional<FirstRead> first_read;  // set when there were two reads
  int64_t mismatched = 0;         // differing keys that are not pending
  int64_t pending = 0;            // differing keys changed after the target's position
  std::optional<int64_t> position;  // the target's applied position, when known
  std::vector<KeyDiff> keys;      // mismatches first, then pending; at most max_report
  double seconds = 0;

  // Pending-only differences count as equal.
  bool Equal() const { return mismatched == 0 && unexamined_buckets == 0; }
};

class Verifier {
 public:
  // REQUIRES: `target` outlives the verifier and is not used elsewhere while
  // VerifyTable runs.
  Verifier(std::string sqlite_path, PgConn& target, std::string pg_schema, VerifyOptions options);

  // Opens the source read-only, sets the target session up for canonical
  // output, and looks for the position catalog and changelog.
  Status Open();

  // kConflict when the target table or one of its columns does not exist.
  // REQUIRES: Open() succeeded.
  Result<TableReport> VerifyTable(const schema::TableMapping& t);

 private:
  Status CheckTarget(const schema::TableMapping& t, const CompareColumns& cols);
  size_t BucketCount(int64_t rows) const;
  // Pass 2 over the differing buckets; fills the counts and keys of *report.
  Status Narrow(const schema::TableMapping& t, const CompareColumns& cols, const std::vector<size_t>& differing,
                const BucketSums& src, const BucketSums& dst, TableReport* report);

  std::string sqlite_path_;
  PgConn& target_;
  std::string pg_schema_;
  VerifyOptions options_;
  Db source_;
  bool positions_ = false;  // target has slipway.tables / slipway.migration
  bool changelog_ = false;  // source has _slipway_changelog / _slipway_tables
};

}  // namespace slipway::cutover
