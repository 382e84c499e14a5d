#pragma once
// Touched keys recorded as changesets, made readable by SQL. In session
// capture (replicator/capture_extension/slipway_capture.h) a row of
// _slipway_changelog with tid 0 holds one app transaction's changeset in k1;
// the other rows are key rows written by the capture triggers (connections
// without the extension, autocommit writes). LoadChangesetKeys() decodes the
// changesets of a range into the connection's memory, shown by the eponymous
// virtual table slipway_changeset_keys (seq, tid, k1..k4; tid = and seq
// ranges found by binary search), and the temp view _slipway_keys shows
// those keys together with the key rows: every reader of touched keys asks
// that one relation, in either capture mode.
// Thread-safety: per connection (the decoded keys are the connection's own).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/sqlite.h"

namespace slipway::replicator {

// What one LoadChangesetKeys() call decoded.
struct DecodedKeys {
  std::map<int, int64_t> changes;  // tid -> changed rows
};

struct DecodedKeyStore;  // changeset_keys.cc

// Decodes changesets into the connection's memory, keeping across calls
// where each table's key sits in its records (read again when the schema
// version changes); its statements are compiled once per connection
// (Db::Cached). A stream round decodes a few transactions; compiling those
// statements cost it more than decoding them.
class ChangesetKeyLoader {
 public:
  // REQUIRES: `db` outlives the loader.
  explicit ChangesetKeyLoader(Db& db) : db_(db) {}

  // As LoadChangesetKeys() below.
  Result<DecodedKeys> Load(const std::map<std::string, int>& tids, int64_t from, int64_t to);

 private:
  struct KeyColumns {
    int tid = 0;
    int ncol = -1;
    std::vector<int> positions;  // in primary-key order
  };
  Db& db_;
  DecodedKeyStore* store_ = nullptr;  // the connection's decoded keys, made at the first Load()
  int64_t schema_version_seen_ = -1;
  std::map<std::string, KeyColumns> tables_;
};

// Creates the connection's temp table and view when missing, forgets the
// keys decoded earlier, and decodes the changesets with seq in (from, to].
// Tables not in `tids` (source table -> tid) are skipped. A changeset that
// cannot be decoded, or names a replicated table without its primary key, is
// an error naming the seq.
// REQUIRES: inside the caller's read transaction, for the same snapshot the
// keys are then read in.
Result<DecodedKeys> LoadChangesetKeys(Db& db, const std::map<std::string, int>& tids, int64_t from, int64_t to);
// The same with the table ids the file records (_slipway_tables).
Result<DecodedKeys> LoadChangesetKeys(Db& db, int64_t from, int64_t to);

}  // namespace slipway::replicator
