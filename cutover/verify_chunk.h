#pragma once
// One chunk of the continuous verifier (continuous_verifier.h): a short read
// of part of one table from both sides, compared row by row in the
// verifier's canonical frames (row_frame.h), and the position it was read at.
//
// A table is walked in key order, one of two ways:
//  range   keyed by one integer (the rowid, or an integer primary key): both
//          sides order it alike, so a chunk is the key range (after, last]
//          of the next N SQLite rows, read from both sides by index range;
//          the table's last chunk has no upper bound, so keys only the
//          target holds are found too.
//  lookup  any other key: SQLite's BINARY order and the target's collation
//          differ, so a chunk is the next N keys in SQLite's order and the
//          target's rows of exactly those keys (index lookups); a second
//          walk (ExtrasChunk) goes through the target's keys in its own index
//          order and finds those SQLite does not hold.
//
// Each read is short: one SQLite read transaction per chunk (the changelog
// head and the rows), one PostgreSQL REPEATABLE READ transaction (the
// applied position and the rows). A key that differs is pending when the
// SQLite changelog holds a change of it after min(head, position) — read
// after both reads, as the verifier does (verifier.h) — and a mismatch
// otherwise.
//
// Thread-safety: a ChunkVerifier uses the two connections it is given, from
// one thread.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/pg.h"
#include "common/sqlite.h"
#include "cutover/verify_read.h"
#include "schema/mapping.h"
#include "schema/reverse_codec.h"

namespace slipway::cutover {

// A key as SQLite holds it: one value per key component (the rowid for
// tables keyed by it).
using SqliteKey = std::vector<schema::OwnedValue>;

// As JSON, for the target's state: integers as numbers, reals as {"r": x},
// text as {"t": hex}, blobs as {"b": hex}, NULL as null.
nlohmann::json KeyToJson(const SqliteKey& key);
Result<SqliteKey> KeyFromJson(const nlohmann::json& j);

enum class WalkMode { kRange, kLookup };

// How one table is read: its columns and the SQL both sides run.
struct ChunkTable {
  const schema::TableMapping* table = nullptr;
  CompareColumns cols;
  WalkMode mode = WalkMode::kRange;
  std::vector<std::string> sqlite_key;  // expressions, quoted
  std::vector<std::string> pg_key;      // columns, quoted
  std::vector<std::string> pg_types;    // SQL type of each key component
  std::string sqlite_select;            // SELECT key, columns FROM table
  std::string pg_table;                 // "schema"."table"
  std::string pg_select;

  static Result<ChunkTable> For(const schema::TableMapping& t, const std::string& pg_schema);
  size_t nkey() const { return cols.rowid ? 1 : cols.key.size(); }
};

struct ChunkDiff {
  SqliteKey key;         // empty when the key has no SQLite form (an extra target key)
  nlohmann::json key_json;
  std::string key_text;  // "id=5", "grp='a', n=2"
  std::string what;      // "missing in target", "extra in target", "column c: source X, target Y"
  bool pending = false;  // changed in the source after the chunk's position
};

struct ChunkResult {
  int64_t rows = 0;             // rows (ExtrasChunk: target keys) the walk read
  bool end = false;             // the walk reached the end of the table
  nlohmann::json after;         // the walk's last key, when rows > 0
  std::string after_text;
  int64_t position = 0;         // min(source head, target position) of the reads
  int64_t pending_until = 0;    // the source head when pending keys were read
  std::vector<ChunkDiff> diffs;
};

class ChunkVerifier {
 public:
  // REQUIRES: `target` runs schema::kCanonicalSessionSql; both outlive this.
  ChunkVerifier(Db& source, PgConn& target) : source_(source), target_(target) {}

  // The next `limit` SQLite rows after `after` (a KeyToJson key; null: from
  // the start), compared with the target's rows of the same keys.
  Result<ChunkResult> RowsChunk(const ChunkTable& t, const nlohmann::json& after, int64_t limit);
  // Lookup tables only: the next `limit` target keys after `after` (the
  // target's text of each component; null: from the start) that SQLite does
  // not hold.
  Result<ChunkResult> ExtrasChunk(const ChunkTable& t, const nlohmann::json& after, int64_t limit);
  // The rows of exactly these keys, compared again.
  Result<ChunkResult> Recheck(const ChunkTable& t, const std::vector<SqliteKey>& keys);

 private:
  struct Row {
    RowFrame frame;
    RowHashes hash;
    SqliteKey key;
  };
  Status ReadPg(const ChunkTable& t, const std::string& where, const std::vector<PgParam>& params,
                std::vector<Row>* rows, int64_t* position);
  Result<std::pair<std::string, std::vector<PgParam>>> KeysWhere(const ChunkTable& t, const std::vector<SqliteKey>& keys);
  // Differences of the two sides (rows only the target holds included),
  // pending ones marked.
  Status Compare(const ChunkTable& t, const std::vector<Row>& src, const std::vector<Row>& dst,
                 ChunkResult* out);
  Status MarkPending(const ChunkTable& t, const std::vector<uint64_t>& pending_hashes, ChunkResult* out);

  Db& source_;
  PgConn& target_;
};

}  // namespace slipway::cutover
