#pragma once
// The canonical form of one row as the verifier compares it, built the same
// way from either side: the key components, then the mapped columns, each
// framed as tag + 4-byte length + canonical bytes, so NULL differs from ""
// and a value cannot shift into its neighbour. A SQLite value EncodeForPg
// rejects becomes an error component carrying the message: it equals no
// PostgreSQL value, so it shows up as a difference. So does a SQLite value
// that would not come back from PostgreSQL with its own storage class
// (schema::KindComesBack: an INTEGER 7 in a bytea column lands as the bytes
// of its text): a kind component naming the class and the value.
// Thread-safety: a RowFrame belongs to one thread; the free functions are pure.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schema/codec.h"
#include "schema/mapping.h"

namespace slipway::cutover {

// Whether a SQLite value lands in PostgreSQL as another kind of value: a
// number as text or bytes, text as a number (schema::KindComesBack), but not
// an INTEGER or REAL in a column of a numeric type, which holds the number.
bool LosesKind(const schema::SqlValue& v, const schema::ColumnMapping& col);

// How a SQLite value whose storage class the column's type cannot keep is
// shown: "INTEGER 7 (bytea keeps only its text: its kind is lost)".
std::string KindLost(const schema::SqlValue& v, const schema::ColumnMapping& col);

// A 64-bit non-cryptographic hash (wyhash-style multiply-fold).
uint64_t Hash64(std::string_view data, uint64_t seed);

// Number of leading key columns the SQLite changelog records (k1..k4).
inline constexpr int kChangelogKeyColumns = 4;

enum class Tag : char { kNull = 'N', kValue = 'V', kError = 'E', kKind = 'K' };

struct Component {
  Tag tag = Tag::kNull;
  std::string_view bytes;  // canonical text, or the error message
};

class RowFrame {
 public:
  void Clear();
  void AddNull();
  void AddError(std::string_view message);
  // A PostgreSQL value's text (as COPY gives it after unescaping).
  void AddPg(std::string_view text, schema::PgKind kind);
  // A SQLite value: EncodeForPg for the column, then canonical; a kind
  // component when the column's type cannot give its storage class back.
  void AddSqlite(const schema::SqlValue& v, const schema::ColumnMapping& col);
  // Call once after the key components, before the columns.
  void EndKey();

  std::string_view data() const { return buf_; }
  std::string_view key() const { return std::string_view(buf_).substr(0, key_len_); }
  // The first kChangelogKeyColumns key components: what the changelog can match.
  std::string_view changelog_key() const { return std::string_view(buf_).substr(0, pend_len_); }

 private:
  void Begin(Tag tag);
  void Finish();

  std::string buf_;
  std::string scratch_;
  size_t open_ = 0;  // offset of the length field of the component being written
  size_t key_len_ = 0;
  size_t pend_len_ = 0;
  int components_ = 0;
  bool key_done_ = false;
};

// The hashes the verifier keeps for a row.
struct RowHashes {
  uint64_t key = 0;      // of the key components: bucket and identity
  uint64_t pending = 0;  // of the changelog key components
  uint64_t row = 0;      // of the whole frame (key included)
};
RowHashes HashRow(const RowFrame& frame);

// Splits a frame (or a key) back into components.
std::vector<Component> DecodeFrame(std::string_view frame);

// A value for a report: NULL, numbers as they are, other values quoted with
// control characters escaped, cut after `max_chars`.
std::string RenderComponent(const Component& c, schema::PgKind kind, size_t max_chars = 60);

}  // namespace slipway::cutover
