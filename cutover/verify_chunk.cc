#include "cutover/verify_chunk.h"

#include <algorithm>
#include <charconv>
#include <unordered_map>
#include <unordered_set>

#include "cutover/verify_pending.h"
#include "schema/codec.h"

namespace slipway::cutover {
namespace {

constexpr size_t kValueChars = 40;

std::string Hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

Result<std::string> Unhex(const std::string& hex) {
  if (hex.size() % 2 != 0) return Internal("odd hex length in a stored key");
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    auto r = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    if (r.ec != std::errc() || r.ptr != hex.data() + i + 2) return Internal("bad hex in a stored key");
    out += static_cast<char>(v);
  }
  return out;
}


void BindOwned(Stmt& st, int i, const schema::OwnedValue& v) {
  switch (v.type) {
    case SQLITE_INTEGER: st.Bind(i, v.i); break;
    case SQLITE_FLOAT: st.Bind(i, v.d); break;
    case SQLITE_TEXT: st.Bind(i, std::string_view(v.bytes)); break;
    case SQLITE_BLOB: st.BindBlob(i, v.bytes.data(), static_cast<int>(v.bytes.size())); break;
    default: st.BindNull(i); break;
  }
}

schema::OwnedValue IntValue(int64_t i) {
  schema::OwnedValue v;
  v.type = SQLITE_INTEGER;
  v.i = i;
  return v;
}

// A PostgreSQL array literal of text elements, bound as a parameter.
std::string ArrayLiteral(const std::vector<PgParam>& elems) {
  std::string out = "{";
  for (size_t i = 0; i < elems.size(); ++i) {
    if (i > 0) out += ',';
    if (!elems[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *elems[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string ColumnList(const std::vector<std::string>& cols) {
  std::string out;
  for (size_t i = 0; i < cols.size(); ++i) out += (i ? ", " : "") + cols[i];
  return out;
}

std::string Placeholders(size_t n, size_t first, const std::vector<std::string>& casts) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += (i ? ", " : "") + std::string("$") + std::to_string(first + i);
    if (!casts.empty()) out += "::" + casts[i];
  }
  return out;
}

// "id=5" / "grp='a', n=2" from a frame's key components.
std::string KeyText(const RowFrame& f, const CompareColumns& cols) {
  const std::vector<Component> c = DecodeFrame(f.key());
  std::string out;
  for (size_t i = 0; i < c.size(); ++i) {
    if (i > 0) out += ", ";
    out += (cols.rowid ? std::string("rowid") : cols.key[i]->source) + "=" + RenderComponent(c[i], cols.KeyKind(i));
  }
  return out;
}

std::string DescribeDifference(const RowFrame& src, const RowFrame& dst, const ChunkTable& t) {
  const std::vector<Component> s = DecodeFrame(src.data());
  const std::vector<Component> d = DecodeFrame(dst.data());
  const size_t nkey = t.nkey();
  std::string first;
  int more = 0;
  for (size_t i = 0; i < t.cols.values.size(); ++i) {
    const size_t c = nkey + i;
    if (c >= s.size() || c >= d.size()) break;
    if (s[c].tag == d[c].tag && s[c].bytes == d[c].bytes) continue;
    if (!first.empty()) {
      ++more;
      continue;
    }
    const schema::PgKind kind = t.cols.values[i]->type.kind;
    first = "column " + t.cols.values[i]->source + ": source " + RenderComponent(s[c], kind, kValueChars) +
            ", target " + RenderComponent(d[c], kind, kValueChars);
  }
  if (first.empty()) return "the key has a different number of rows on each side";
  if (more > 0) first += " (and " + std::to_string(more) + " more columns)";
  return first;
}

}  // namespace

nlohmann::json KeyToJson(const SqliteKey& key) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& v : key) {
    switch (v.type) {
      case SQLITE_INTEGER: j.push_back(v.i); break;
      case SQLITE_FLOAT: j.push_back({{"r", v.d}}); break;
      case SQLITE_TEXT: j.push_back({{"t", Hex(v.bytes)}}); break;
      case SQLITE_BLOB: j.push_back({{"b", Hex(v.bytes)}}); break;
      default: j.push_back(nullptr); break;
    }
  }
  return j;
}

Result<SqliteKey> KeyFromJson(const nlohmann::json& j) {
  if (!j.is_array()) return Internal("a stored key is not a JSON array");
  SqliteKey key;
  for (const auto& e : j) {
    schema::OwnedValue v;
    if (e.is_null()) {
      v.type = SQLITE_NULL;
    } else if (e.is_number_integer()) {
      v.type = SQLITE_INTEGER;
      v.i = e.get<int64_t>();
    } else if (e.is_object() && e.contains("r") && e["r"].is_number()) {
      v.type = SQLITE_FLOAT;
      v.d = e["r"].get<double>();
    } else if (e.is_object() && e.contains("t") && e["t"].is_string()) {
      v.type = SQLITE_TEXT;
      ASSIGN_OR_RETURN(v.bytes, Unhex(e["t"].get<std::string>()));
    } else if (e.is_object() && e.contains("b") && e["b"].is_string()) {
      v.type = SQLITE_BLOB;
      ASSIGN_OR_RETURN(v.bytes, Unhex(e["b"].get<std::string>()));
    } else {
      return Internal("a stored key component has no SQLite form: " + e.dump());
    }
    key.push_back(std::move(v));
  }
  return key;
}

Result<ChunkTable> ChunkTable::For(const schema::TableMapping& t, const std::string& pg_schema) {
  ChunkTable c;
  c.table = &t;
  ASSIGN_OR_RETURN(c.cols, CompareColumns::For(t));
  const bool one_integer = c.cols.rowid || (c.cols.key.size() == 1 && schema::IsIntegerKind(c.cols.key[0]->type.kind) &&
                                            c.cols.key[0]->repr == schema::Repr::kNative);
  c.mode = one_integer ? WalkMode::kRange : WalkMode::kLookup;
  ASSIGN_OR_RETURN(c.sqlite_key, SqliteKeyExprs(t, c.cols));
  c.pg_key = PgKeyColumns(c.cols);
  for (size_t i = 0; i < c.nkey(); ++i) c.pg_types.push_back(c.cols.rowid ? "bigint" : c.cols.key[i]->type.Sql());
  ASSIGN_OR_RETURN(c.sqlite_select, SqliteRowsSelect(t, c.cols));
  c.pg_table = QuotePgIdent(pg_schema) + "." + QuotePgIdent(t.target);
  c.pg_select = PgRowsSelect(pg_schema, t, c.cols);
  return c;
}

Status ChunkVerifier::ReadPg(const ChunkTable& t, const std::string& where, const std::vector<PgParam>& params,
                             std::vector<Row>* rows, int64_t* position) {
  return InPgRead(target_, [&]() -> Status {
    ASSIGN_OR_RETURN(*position, ReadAppliedPosition(target_, t.table->source));
    ASSIGN_OR_RETURN(PgResult r, target_.ExecParams(t.pg_select + " WHERE " + where, params));
    for (int i = 0; i < r.Rows(); ++i) {
      Row row;
      FramePgRow(r, i, t.cols, &row.frame);
      row.hash = HashRow(row.frame);
      if (t.mode == WalkMode::kRange && !r.IsNull(i, 0)) {
        int64_t k = 0;
        const std::string_view text = r.Get(i, 0);
        std::from_chars(text.data(), text.data() + text.size(), k);
        row.key.push_back(IntValue(k));
      }
      rows->push_back(std::move(row));
    }
    return Status::Ok();
  });
}

Result<std::pair<std::string, std::vector<PgParam>>> ChunkVerifier::KeysWhere(const ChunkTable& t,
                                                                               const std::vector<SqliteKey>& keys) {
  const size_t n = t.nkey();
  std::vector<std::vector<PgParam>> elems(n);
  std::string text;
  for (const auto& key : keys) {
    for (size_t i = 0; i < n; ++i) {
      if (i >= key.size() || key[i].type == SQLITE_NULL) {
        elems[i].push_back(std::nullopt);
      } else if (t.cols.rowid) {
        elems[i].push_back(std::to_string(key[i].i));
      } else {
        text.clear();
        // A value with no PostgreSQL form matches no row: the key is then
        // reported missing in the target.
        if (schema::EncodeForPg(key[i].view(), *t.cols.key[i], &text).ok()) {
          elems[i].push_back(text);
        } else {
          elems[i].push_back(std::nullopt);
        }
      }
    }
  }
  std::vector<PgParam> params;
  std::vector<std::string> casts;
  for (size_t i = 0; i < n; ++i) {
    params.push_back(ArrayLiteral(elems[i]));
    casts.push_back(t.pg_types[i] + "[]");
  }
  if (n == 1) return std::make_pair(t.pg_key[0] + " = ANY(" + Placeholders(1, 1, casts) + ")", params);
  return std::make_pair("(" + ColumnList(t.pg_key) + ") IN (SELECT * FROM unnest(" + Placeholders(n, 1, casts) + "))",
                        params);
}

Status ChunkVerifier::Compare(const ChunkTable& t, const std::vector<Row>& src, const std::vector<Row>& dst,
                              ChunkResult* out) {
  std::unordered_map<uint64_t, size_t> dst_at;
  for (size_t j = 0; j < dst.size(); ++j) dst_at[dst[j].hash.key] = j;
  std::vector<bool> seen(dst.size(), false);
  std::vector<uint64_t> pending_hashes;
  for (const Row& s : src) {
    auto it = dst_at.find(s.hash.key);
    if (it != dst_at.end()) {
      seen[it->second] = true;
      if (dst[it->second].hash.row == s.hash.row) continue;
    }
    ChunkDiff d;
    d.key = s.key;
    d.key_json = KeyToJson(s.key);
    d.key_text = KeyText(s.frame, t.cols);
    d.what = it == dst_at.end() ? "missing in target" : DescribeDifference(s.frame, dst[it->second].frame, t);
    out->diffs.push_back(std::move(d));
    pending_hashes.push_back(s.hash.pending);
  }
  for (size_t j = 0; j < dst.size(); ++j) {
    if (seen[j]) continue;
    ChunkDiff d;
    d.key = dst[j].key;
    d.key_json = KeyToJson(dst[j].key);
    d.key_text = KeyText(dst[j].frame, t.cols);
    d.what = "extra in target";
    out->diffs.push_back(std::move(d));
    pending_hashes.push_back(dst[j].hash.pending);
  }
  return MarkPending(t, pending_hashes, out);
}

// Read after both sides were read, so the changelog holds every change either
// read could have seen (the stream keeps it back to the chunk's position:
// continuous_verifier.h).
Status ChunkVerifier::MarkPending(const ChunkTable& t, const std::vector<uint64_t>& pending_hashes, ChunkResult* out) {
  if (out->diffs.empty()) return Status::Ok();
  std::unordered_set<uint64_t> changed;
  RETURN_IF_ERROR(InSqliteRead(source_, [&]() -> Status {
    ASSIGN_OR_RETURN(std::optional<int64_t> head, ReadChangelogHead(source_));
    out->pending_until = head.value_or(0);
    ASSIGN_OR_RETURN(changed, ReadChangedKeys(source_, *t.table, t.cols, out->position));
    return Status::Ok();
  }));
  for (size_t i = 0; i < out->diffs.size(); ++i) out->diffs[i].pending = changed.count(pending_hashes[i]) != 0;
  return Status::Ok();
}

Result<ChunkResult> ChunkVerifier::RowsChunk(const ChunkTable& t, const nlohmann::json& after, int64_t limit) {
  ChunkResult out;
  SqliteKey from;
  if (!after.is_null()) {
    ASSIGN_OR_RETURN(from, KeyFromJson(after));
    if (from.size() != t.nkey()) return Internal("stored key of \"" + t.table->source + "\" has the wrong width");
  }
  std::string sql = t.sqlite_select;
  if (!from.empty()) {
    sql += " WHERE (" + ColumnList(t.sqlite_key) + ") > (";
    for (size_t i = 0; i < from.size(); ++i) sql += (i ? ", ?" : "?") + std::to_string(i + 1);
    sql += ")";
  }
  sql += " ORDER BY " + ColumnList(t.sqlite_key) + " LIMIT ?" + std::to_string(from.size() + 1);
  std::vector<Row> src, dst;
  int64_t head = 0;
  RETURN_IF_ERROR(InSqliteRead(source_, [&]() -> Status {
    ASSIGN_OR_RETURN(std::optional<int64_t> h, ReadChangelogHead(source_));
    head = h.value_or(0);
    ASSIGN_OR_RETURN(Stmt st, source_.Prepare(sql));
    for (size_t i = 0; i < from.size(); ++i) BindOwned(st, static_cast<int>(i + 1), from[i]);
    st.Bind(static_cast<int>(from.size() + 1), limit);
    while (true) {
      ASSIGN_OR_RETURN(bool more, st.Step());
      if (!more) break;
      Row row;
      FrameSqliteRow(st.get(), t.cols, &row.frame);
      row.hash = HashRow(row.frame);
      for (size_t i = 0; i < t.nkey(); ++i) row.key.push_back(schema::OwnedValue::Of(schema::SqlValue::FromColumn(st.get(), static_cast<int>(i))));
      src.push_back(std::move(row));
    }
    return Status::Ok();
  }));
  out.rows = static_cast<int64_t>(src.size());
  out.end = out.rows < limit;
  if (!out.end) {
    // Nothing compares greater than NULL: the walk could not go on past such
    // a key and would end early, as if the table were done.
    for (const auto& v : src.back().key) {
      if (v.type == SQLITE_NULL) {
        return Status(Code::kConflict, "table \"" + t.table->source + "\" holds a key with NULL (" +
                                           KeyText(src.back().frame, t.cols) +
                                           "), which PostgreSQL cannot hold; the background verify cannot walk past it");
      }
    }
  }
  if (!src.empty()) {
    out.after = KeyToJson(src.back().key);
    out.after_text = KeyText(src.back().frame, t.cols);
  }
  int64_t position = head;
  if (t.mode == WalkMode::kRange) {
    // The same key range on the target, by its primary key index; the last
    // chunk is open above, so keys only the target holds are read too.
    std::vector<std::string> cond;
    std::vector<PgParam> params;
    if (!from.empty()) {
      params.push_back(std::to_string(from[0].i));
      cond.push_back(t.pg_key[0] + " > $" + std::to_string(params.size()) + "::bigint");
    }
    if (!out.end) {
      params.push_back(std::to_string(src.back().key[0].i));
      cond.push_back(t.pg_key[0] + " <= $" + std::to_string(params.size()) + "::bigint");
    }
    std::string where = cond.empty() ? "true" : cond[0];
    if (cond.size() > 1) where += " AND " + cond[1];
    RETURN_IF_ERROR(ReadPg(t, where, params, &dst, &position));
  } else if (!src.empty()) {
    std::vector<SqliteKey> keys;
    keys.reserve(src.size());
    for (const Row& r : src) keys.push_back(r.key);
    ASSIGN_OR_RETURN(auto where, KeysWhere(t, keys));
    RETURN_IF_ERROR(ReadPg(t, where.first, where.second, &dst, &position));
  }
  out.position = std::min(head, position);
  RETURN_IF_ERROR(Compare(t, src, dst, &out));
  return out;
}

Result<ChunkResult> ChunkVerifier::ExtrasChunk(const ChunkTable& t, const nlohmann::json& after, int64_t limit) {
  ChunkResult out;
  const size_t n = t.nkey();
  std::vector<PgParam> params;
  std::string where;
  if (after.is_array() && after.size() == n) {
    for (const auto& e : after) params.push_back(e.is_string() ? PgParam(e.get<std::string>()) : std::nullopt);
    where = " WHERE (" + ColumnList(t.pg_key) + ") > (" + Placeholders(n, 1, t.pg_types) + ")";
  }
  params.push_back(std::to_string(limit));
  std::vector<std::vector<PgParam>> texts;
  int64_t position = 0;
  RETURN_IF_ERROR(InPgRead(target_, [&]() -> Status {
    ASSIGN_OR_RETURN(position, ReadAppliedPosition(target_, t.table->source));
    ASSIGN_OR_RETURN(PgResult r, target_.ExecParams("SELECT " + ColumnList(t.pg_key) + " FROM " + t.pg_table + where +
                                                        " ORDER BY " + ColumnList(t.pg_key) + " LIMIT $" +
                                                        std::to_string(params.size()),
                                                    params));
    for (int i = 0; i < r.Rows(); ++i) {
      std::vector<PgParam> key;
      for (size_t c = 0; c < n; ++c) key.push_back(r.Opt(i, static_cast<int>(c)));
      texts.push_back(std::move(key));
    }
    return Status::Ok();
  }));
  out.rows = static_cast<int64_t>(texts.size());
  out.end = out.rows < limit;
  // Each target key in SQLite's form, looked up in the source.
  std::vector<RowFrame> frames(texts.size());
  std::vector<std::optional<SqliteKey>> keys(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    SqliteKey key;
    bool decoded = true;
    for (size_t c = 0; c < n; ++c) {
      if (!texts[i][c]) {
        frames[i].AddNull();
        key.emplace_back();
        continue;
      }
      frames[i].AddPg(*texts[i][c], t.cols.KeyKind(c));
      schema::OwnedValue v;
      decoded = decoded && schema::DecodeFromPg(*texts[i][c], *t.cols.key[c], &v).ok();
      key.push_back(std::move(v));
    }
    frames[i].EndKey();
    if (decoded) keys[i] = std::move(key);
  }
  if (!texts.empty()) {
    out.after = nlohmann::json::array();
    for (const auto& v : texts.back()) out.after.push_back(v ? nlohmann::json(*v) : nlohmann::json(nullptr));
    out.after_text = KeyText(frames.back(), t.cols);
  }
  int64_t head = 0;
  std::vector<bool> held(texts.size(), false);
  RETURN_IF_ERROR(InSqliteRead(source_, [&]() -> Status {
    ASSIGN_OR_RETURN(std::optional<int64_t> h, ReadChangelogHead(source_));
    head = h.value_or(0);
    std::string sql_exists = "SELECT 1 FROM " + QuoteSqliteIdent(t.table->source) + " WHERE ";
    for (size_t c = 0; c < n; ++c) sql_exists += (c ? " AND " : "") + t.sqlite_key[c] + " = ?" + std::to_string(c + 1);
    ASSIGN_OR_RETURN(Stmt st, source_.Prepare(sql_exists));
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!keys[i]) continue;
      RETURN_IF_ERROR(st.Reset());
      for (size_t c = 0; c < n; ++c) BindOwned(st, static_cast<int>(c + 1), (*keys[i])[c]);
      ASSIGN_OR_RETURN(held[i], st.Step());
    }
    return Status::Ok();
  }));
  out.position = std::min(head, position);
  std::vector<uint64_t> pending_hashes;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (held[i]) continue;
    ChunkDiff d;
    if (keys[i]) {
      d.key = *keys[i];
      d.key_json = KeyToJson(d.key);
    } else {
      d.key_json = {{"pg", nlohmann::json::array()}};
      for (const auto& v : texts[i]) d.key_json["pg"].push_back(v ? nlohmann::json(*v) : nlohmann::json(nullptr));
    }
    d.key_text = KeyText(frames[i], t.cols);
    d.what = keys[i] ? "extra in target" : "extra in target (a key SQLite cannot hold)";
    out.diffs.push_back(std::move(d));
    pending_hashes.push_back(HashRow(frames[i]).pending);
  }
  RETURN_IF_ERROR(MarkPending(t, pending_hashes, &out));
  return out;
}

Result<ChunkResult> ChunkVerifier::Recheck(const ChunkTable& t, const std::vector<SqliteKey>& keys) {
  ChunkResult out;
  if (keys.empty()) return out;
  const size_t n = t.nkey();
  std::string sql = t.sqlite_select + " WHERE ";
  for (size_t c = 0; c < n; ++c) sql += (c ? " AND " : "") + t.sqlite_key[c] + " = ?" + std::to_string(c + 1);
  std::vector<Row> src, dst;
  int64_t head = 0;
  RETURN_IF_ERROR(InSqliteRead(source_, [&]() -> Status {
    ASSIGN_OR_RETURN(std::optional<int64_t> h, ReadChangelogHead(source_));
    head = h.value_or(0);
    ASSIGN_OR_RETURN(Stmt st, source_.Prepare(sql));
    for (const auto& key : keys) {
      if (key.size() != n) continue;
      RETURN_IF_ERROR(st.Reset());
      for (size_t c = 0; c < n; ++c) BindOwned(st, static_cast<int>(c + 1), key[c]);
      while (true) {
        ASSIGN_OR_RETURN(bool more, st.Step());
        if (!more) break;
        Row row;
        FrameSqliteRow(st.get(), t.cols, &row.frame);
        row.hash = HashRow(row.frame);
        for (size_t i = 0; i < n; ++i) row.key.push_back(schema::OwnedValue::Of(schema::SqlValue::FromColumn(st.get(), static_cast<int>(i))));
        src.push_back(std::move(row));
      }
    }
    return Status::Ok();
  }));
  ASSIGN_OR_RETURN(auto where, KeysWhere(t, keys));
  int64_t position = 0;
  RETURN_IF_ERROR(ReadPg(t, where.first, where.second, &dst, &position));
  // A row only the target holds is named by the key asked for.
  if (t.mode == WalkMode::kLookup) {
    std::unordered_map<uint64_t, size_t> asked;
    RowFrame probe;
    for (size_t k = 0; k < keys.size(); ++k) {
      probe.Clear();
      for (size_t c = 0; c < n && c < keys[k].size(); ++c) probe.AddSqlite(keys[k][c].view(), *t.cols.key[c]);
      probe.EndKey();
      asked[HashRow(probe).key] = k;
    }
    for (Row& r : dst) {
      auto it = asked.find(r.hash.key);
      if (r.key.empty() && it != asked.end()) r.key = keys[it->second];
    }
  }
  out.rows = static_cast<int64_t>(keys.size());
  out.end = true;
  out.position = std::min(head, position);
  RETURN_IF_ERROR(Compare(t, src, dst, &out));
  return out;
}

}  // namespace slipway::cutover
