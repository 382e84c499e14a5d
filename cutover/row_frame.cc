#include "cutover/row_frame.h"

#include <cstdio>
#include <cstring>

#include "schema/canonical.h"
#include "schema/reverse_codec.h"

namespace slipway::cutover {
namespace {

constexpr uint64_t kSecret0 = 0xa0761d6478bd642full;
constexpr uint64_t kSecret1 = 0xe7037ed1a0b428dbull;
constexpr uint64_t kSecret2 = 0x8ebc6af09c88c6e3ull;
constexpr uint64_t kKeySeed = 0x5eed0001ull;
constexpr uint64_t kRowSeed = 0x5eed0002ull;
constexpr size_t kLengthBytes = 4;

uint64_t Mix(uint64_t a, uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

uint64_t Load(const char* p, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

bool IsPlainNumberKind(schema::PgKind k) {
  switch (k) {
    case schema::PgKind::kBigint:
    case schema::PgKind::kInteger:
    case schema::PgKind::kSmallint:
    case schema::PgKind::kDouble:
    case schema::PgKind::kReal4:
    case schema::PgKind::kNumeric:
    case schema::PgKind::kBoolean: return true;
    default: return false;
  }
}

// True when EncodeForPg's text for `v` already is the canonical text, so the
// SQLite side can skip parsing it again (the hot path of verify). Guarded by
// a unit test that compares both ways for these cases.
bool EncodesCanonically(const schema::SqlValue& v, const schema::ColumnMapping& col) {
  switch (col.type.kind) {
    case schema::PgKind::kText:
    case schema::PgKind::kVarchar:
    case schema::PgKind::kChar:
    case schema::PgKind::kJson:
    case schema::PgKind::kJsonb:
    case schema::PgKind::kBoolean:  // "t" / "f"
    case schema::PgKind::kBytea:    // "\x" + lower-case hex
      return true;
    case schema::PgKind::kBigint:
    case schema::PgKind::kInteger:
    case schema::PgKind::kSmallint:  // std::to_string
      return col.repr == schema::Repr::kNative;
    case schema::PgKind::kDouble:  // ShortestDouble, "Infinity"
      return col.repr == schema::Repr::kNative && v.type == SQLITE_FLOAT;
    default:
      return false;
  }
}

// An INTEGER or REAL in a column of a numeric type: PostgreSQL holds the
// number, and the plan reported the column's widening. Only a value that
// lands as another family (a number as text or bytes, text as a number) has
// lost its kind.
bool SameNumber(const schema::SqlValue& v, const schema::ColumnMapping& col) {
  if (v.type != SQLITE_INTEGER && v.type != SQLITE_FLOAT) return false;
  switch (col.type.kind) {
    case schema::PgKind::kSmallint:
    case schema::PgKind::kInteger:
    case schema::PgKind::kBigint:
    case schema::PgKind::kDouble:
    case schema::PgKind::kReal4:
    case schema::PgKind::kNumeric: return true;
    default: return false;
  }
}

}  // namespace

bool LosesKind(const schema::SqlValue& v, const schema::ColumnMapping& col) {
  return !schema::KindComesBack(v, col) && !SameNumber(v, col);
}

std::string KindLost(const schema::SqlValue& v, const schema::ColumnMapping& col) {
  return std::string(schema::StorageClassName(v.type)) + " " + schema::DescribeValue(v) + " (" + col.type.Sql() +
         " keeps only its " + (v.type == SQLITE_TEXT || v.type == SQLITE_BLOB ? "bytes" : "text") +
         ": its kind is lost)";
}

uint64_t Hash64(std::string_view data, uint64_t seed) {
  const char* p = data.data();
  size_t n = data.size();
  uint64_t h = seed ^ Mix(seed ^ kSecret0, kSecret1 ^ n);
  while (n > 16) {
    h = Mix(Load(p, 8) ^ kSecret1, Load(p + 8, 8) ^ h);
    p += 16;
    n -= 16;
  }
  uint64_t a = 0, b = 0;
  if (n > 8) {
    a = Load(p, 8);
    b = Load(p + 8, n - 8);
  } else {
    a = Load(p, n);
  }
  return Mix(kSecret1 ^ data.size(), Mix(a ^ kSecret2, b ^ h));
}

void RowFrame::Clear() {
  buf_.clear();
  key_len_ = pend_len_ = 0;
  components_ = 0;
  key_done_ = false;
}

void RowFrame::Begin(Tag tag) {
  buf_.push_back(static_cast<char>(tag));
  open_ = buf_.size();
  buf_.append(kLengthBytes, '\0');
}

void RowFrame::Finish() {
  const auto len = static_cast<uint32_t>(buf_.size() - open_ - kLengthBytes);
  std::memcpy(&buf_[open_], &len, kLengthBytes);
  ++components_;
  if (!key_done_ && components_ == kChangelogKeyColumns) pend_len_ = buf_.size();
}

void RowFrame::AddNull() {
  Begin(Tag::kNull);
  Finish();
}

void RowFrame::AddError(std::string_view message) {
  Begin(Tag::kError);
  buf_.append(message);
  Finish();
}

void RowFrame::AddPg(std::string_view text, schema::PgKind kind) {
  Begin(Tag::kValue);
  schema::AppendCanonical(text, kind, &buf_);
  Finish();
}

void RowFrame::AddSqlite(const schema::SqlValue& v, const schema::ColumnMapping& col) {
  if (v.type == SQLITE_NULL) {
    AddNull();
    return;
  }
  if (LosesKind(v, col)) {
    Begin(Tag::kKind);
    buf_.append(KindLost(v, col));
    Finish();
    return;
  }
  if (EncodesCanonically(v, col)) {
    // Written straight into the frame: no second parse.
    Begin(Tag::kValue);
    const size_t mark = buf_.size();
    Status s = schema::EncodeForPg(v, col, &buf_);
    if (s.ok()) {
      Finish();
      return;
    }
    buf_.resize(mark - 1 - kLengthBytes);
    AddError(s.message());
    return;
  }
  scratch_.clear();
  Status s = schema::EncodeForPg(v, col, &scratch_);
  if (!s.ok()) {
    AddError(s.message());
    return;
  }
  AddPg(scratch_, col.type.kind);
}

void RowFrame::EndKey() {
  key_len_ = buf_.size();
  if (components_ < kChangelogKeyColumns) pend_len_ = key_len_;
  key_done_ = true;
}

RowHashes HashRow(const RowFrame& frame) {
  RowHashes h;
  h.key = Hash64(frame.key(), kKeySeed);
  h.pending = frame.changelog_key().size() == frame.key().size() ? h.key : Hash64(frame.changelog_key(), kKeySeed);
  h.row = Hash64(frame.data(), kRowSeed);
  return h;
}

std::vector<Component> DecodeFrame(std::string_view frame) {
  std::vector<Component> out;
  size_t i = 0;
  while (i + 1 + kLengthBytes <= frame.size()) {
    Component c;
    c.tag = static_cast<Tag>(frame[i]);
    uint32_t len = 0;
    std::memcpy(&len, frame.data() + i + 1, kLengthBytes);
    i += 1 + kLengthBytes;
    c.bytes = frame.substr(i, len);
    i += len;
    out.push_back(c);
  }
  return out;
}

std::string RenderComponent(const Component& c, schema::PgKind kind, size_t max_chars) {
  if (c.tag == Tag::kNull) return "NULL";
  if (c.tag == Tag::kError) return "(cannot be encoded: " + std::string(c.bytes) + ")";
  if (c.tag == Tag::kKind) return std::string(c.bytes);
  if (IsPlainNumberKind(kind) && c.bytes.size() <= max_chars) return std::string(c.bytes);
  std::string s = "'";
  size_t n = 0;
  for (unsigned char ch : c.bytes) {
    // Count characters, not UTF-8 continuation bytes.
    if ((ch & 0xC0) != 0x80 && ++n > max_chars) {
      s += "...";
      break;
    }
    if (ch == '\'') {
      s += "''";
    } else if (ch == '\\' && kind != schema::PgKind::kBytea) {
      s += "\\\\";
    } else if (ch == '\n') {
      s += "\\n";
    } else if (ch == '\t') {
      s += "\\t";
    } else if (ch == '\r') {
      s += "\\r";
    } else if (ch < 0x20 || ch == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      s += buf;
    } else {
      s += static_cast<char>(ch);
    }
  }
  return s + "'";
}

}  // namespace slipway::cutover
