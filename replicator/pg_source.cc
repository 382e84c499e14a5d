#include "replicator/pg_source.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <vector>

#include "schema/reverse_codec.h"

namespace slipway::replicator {
namespace {

// Changelog rows (`c`: their alias, "win." say, or "" for the table) whose
// transaction is not visible in snapshot $n: every such transaction id is at
// or above the snapshot's xmin (the index's range); the round's own snapshot
// hides the ones that had not committed when it began.
std::string NotSeenBy(const std::string& c, int n) {
  const std::string s = "$" + std::to_string(n) + "::pg_snapshot";
  return c + "txid >= pg_snapshot_xmin(" + s + ") AND NOT pg_visible_in_snapshot(" + c + "txid, " + s + ")";
}
// Those whose transaction is visible in snapshot $n. The upper bound on txid
// keeps the index range to the window when Bound() cut it short.
std::string SeenBy(const std::string& c, int n) {
  const std::string s = "$" + std::to_string(n) + "::pg_snapshot";
  return c + "txid < pg_snapshot_xmax(" + s + ") AND pg_visible_in_snapshot(" + c + "txid, " + s + ")";
}
const std::string kAfter = " FROM slipway.changelog WHERE " + NotSeenBy("", 1);
// The window (from, to]: after snapshot $1 and visible in snapshot $2. `to`
// is the round's own snapshot, or one cut short of it by Bound().
const std::string kWindow = kAfter + " AND " + SeenBy("", 2);

// A pg_snapshot's text form, "xmin:xmax:xip,xip,...".
struct Snapshot {
  uint64_t xmin = 0;
  uint64_t xmax = 0;
  std::vector<uint64_t> xip;  // ascending

  static Result<Snapshot> Parse(const std::string& text) {
    Snapshot s;
    const size_t a = text.find(':');
    const size_t b = a == std::string::npos ? a : text.find(':', a + 1);
    if (b == std::string::npos) return Status(Code::kInternal, "unexpected snapshot '" + text + "'");
    try {
      s.xmin = std::stoull(text.substr(0, a));
      s.xmax = std::stoull(text.substr(a + 1, b - a - 1));
      size_t p = b + 1;
      while (p < text.size()) {
        size_t e = text.find(',', p);
        if (e == std::string::npos) e = text.size();
        s.xip.push_back(std::stoull(text.substr(p, e - p)));
        p = e + 1;
      }
    } catch (const std::exception&) {
      return Status(Code::kInternal, "unexpected snapshot '" + text + "'");
    }
    std::sort(s.xip.begin(), s.xip.end());
    return s;
  }
  bool InProgress(uint64_t x) const { return std::binary_search(xip.begin(), xip.end(), x); }
  std::string Text() const {
    std::string t = std::to_string(xmin) + ":" + std::to_string(xmax) + ":";
    for (size_t i = 0; i < xip.size(); ++i) t += (i ? "," : "") + std::to_string(xip[i]);
    return t;
  }
};

// Rows of a PostgreSQL result (text format) mapped back to SQLite values.
class PgRowsCursor : public RowCursor {
 public:
  // `key` true: the result holds key values only.
  PgRowsCursor(PgResult r, const PgChangelogSource::Table& t, bool key) : r_(std::move(r)), t_(t), key_(key) {
    const size_t n = static_cast<size_t>(r_.Cols());
    values_.resize(n);
  }

  Result<bool> Next() override {
    if (++row_ >= r_.Rows()) return false;
    for (int c = 0; c < r_.Cols(); ++c) {
      schema::OwnedValue& v = values_[static_cast<size_t>(c)];
      v = schema::OwnedValue{};
      if (r_.IsNull(row_, c)) continue;
      const schema::ColumnMapping* cm = Mapping(c);
      if (cm == nullptr) {  // the rowid
        v.type = SQLITE_INTEGER;
        v.i = std::stoll(r_.Str(row_, c));
        continue;
      }
      Status s = schema::DecodeFromPg(r_.Get(row_, c), *cm, &v);
      if (!s.ok()) {
        return Status(Code::kBlocked, "table " + t_.tm->source + ", " + KeyText() + ", column " + cm->source +
                                          ": the value written in PostgreSQL (" + std::string(r_.Get(row_, c)).substr(0, 80) +
                                          ") cannot go back to SQLite unchanged: " + s.message());
      }
    }
    return true;
  }
  schema::SqlValue Value(int i) const override { return values_[static_cast<size_t>(i)].view(); }

 private:
  // The mapping of result column c; nullptr for the rowid.
  const schema::ColumnMapping* Mapping(int c) const {
    if (t_.sql.rowid_keyed && c == 0) return nullptr;
    if (key_) return t_.key_cols[static_cast<size_t>(c)];
    const int data = c - (t_.sql.rowid_keyed ? 1 : 0);
    return &t_.tm->columns[static_cast<size_t>(t_.sql.column_index[static_cast<size_t>(data)])];
  }
  std::string KeyText() const {
    std::string out;
    for (size_t i = 0; i < t_.tm->key_target.size(); ++i) {
      out += (i ? ", " : "") + t_.tm->key_target[i] + "=";
      int col = -1;
      if (key_ || t_.sql.rowid_keyed) {
        col = static_cast<int>(i);
      } else {
        for (size_t c = 0; c < t_.sql.column_index.size(); ++c) {
          if (t_.tm->columns[static_cast<size_t>(t_.sql.column_index[c])].source == t_.tm->key_source[i]) {
            col = static_cast<int>(c);
          }
        }
      }
      out += col >= 0 && !r_.IsNull(row_, col) ? std::string(r_.Get(row_, col)) : "?";
    }
    return out;
  }

  PgResult r_;
  const PgChangelogSource::Table& t_;
  bool key_;
  int row_ = -1;
  std::vector<schema::OwnedValue> values_;
};

// The rowid column (for a table keyed by it), then the data columns.
std::string SelectColumns(const TableSql& sql) {
  std::string select = "SELECT ";
  for (size_t i = 0; i < sql.pg_columns.size(); ++i) select += (i ? ", " : "") + sql.pg_columns[i];
  return select;
}

// The type a recorded key component is cast to, so that it compares (and
// finds rows) as the key column's values do.
std::string KeyType(const PgChangelogSource::Table& t, size_t i) {
  return t.sql.rowid_keyed ? "bigint" : t.key_cols[i]->type.Sql();
}

// The window's changelog rows of table $3 (alias win): with `settled`, less
// those whose key a transaction after `to` ($2) touched again, as far as the
// read sees (a change not yet committed cannot show in the rows it reads).
// Keys match by their type's equality (1.0 and 1.00 are one numeric key).
std::string WindowOf(const PgChangelogSource::Table& t, bool settled) {
  std::string w =
      " FROM slipway.changelog win WHERE win.tid = $3 AND " + NotSeenBy("win.", 1) + " AND " + SeenBy("win.", 2);
  if (!settled) return w;
  std::string same;
  for (size_t i = 0; i < t.sql.pg_key.size(); ++i) {
    const std::string k = "k" + std::to_string(i + 1), type = KeyType(t, i);
    same += " AND later." + k + "::" + type + " = win." + k + "::" + type;
  }
  return w + " AND NOT EXISTS (SELECT 1 FROM slipway.changelog later WHERE later.tid = $3 AND " + NotSeenBy("later.", 2) +
         same + ")";
}

}  // namespace

PgChangelogSource::PgChangelogSource(PgConn& pg, const schema::Plan& plan, const std::map<std::string, int>& tids)
    : pg_(pg), pg_schema_(plan.options.pg_schema) {
  for (const auto& tm : plan.tables) {
    auto it = tids.find(tm.source);
    if (it == tids.end()) continue;
    Table t;
    t.tm = &tm;
    t.sql = BuildTableSql(tm, plan.options.pg_schema);
    if (!t.sql.rowid_keyed) {
      for (const auto& k : tm.key_source) t.key_cols.push_back(tm.FindSource(k));
    }
    tables_.emplace(it->second, std::move(t));
  }
}

Result<const PgChangelogSource::Table*> PgChangelogSource::Find(int tid) const {
  auto it = tables_.find(tid);
  if (it == tables_.end()) return Status(Code::kInternal, "no replicated table with id " + std::to_string(tid));
  return &it->second;
}

Result<Position> PgChangelogSource::BeginRead() {
  // pg_current_snapshot() in a REPEATABLE READ transaction is the
  // transaction's own snapshot: the window's end and the rows agree.
  RETURN_IF_ERROR(pg_.Run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  auto r = pg_.Exec("SELECT pg_current_snapshot()::text, pg_snapshot_xmax(pg_current_snapshot())::text");
  if (!r.ok()) {
    EndRead();
    return r.status();
  }
  return Position{std::stoll(r->Str(0, 1)), r->Str(0, 0)};
}

void PgChangelogSource::EndRead() { (void)pg_.Run("COMMIT"); }

Result<Position> PgChangelogSource::Bound(const Position& from, const Position& to, int64_t max_changes) {
  if (max_changes <= 0) return to;
  // The transaction id at which the window passes max_changes rows; the
  // window is cut before it, or just after it when one transaction alone is
  // bigger than the bound.
  ASSIGN_OR_RETURN(PgResult r, pg_.ExecParams("SELECT (SELECT txid" + kWindow + " ORDER BY txid OFFSET $3 LIMIT 1)::text, "
                                              "(SELECT min(txid)" + kWindow + ")::text",
                                              {from.snapshot, to.snapshot, std::to_string(max_changes)}));
  if (r.IsNull(0, 0)) return to;
  ASSIGN_OR_RETURN(Snapshot f, Snapshot::Parse(from.snapshot));
  ASSIGN_OR_RETURN(Snapshot t, Snapshot::Parse(to.snapshot));
  uint64_t cut = std::stoull(r.Str(0, 0));
  if (cut == std::stoull(r.Str(0, 1))) ++cut;
  // Visible in the result: what `from` sees, and every transaction below the
  // cut that `to` sees. Still in progress: what `from` had in progress and
  // `to` does not see or is at or past the cut, and what `to` has in progress
  // between from.xmax and the cut.
  Snapshot b;
  b.xmax = std::max(f.xmax, cut);
  for (uint64_t x : f.xip) {
    if (x >= cut || t.InProgress(x)) b.xip.push_back(x);
  }
  for (uint64_t x : t.xip) {
    if (x >= f.xmax && x < cut) b.xip.push_back(x);
  }
  std::sort(b.xip.begin(), b.xip.end());
  b.xmin = b.xip.empty() ? b.xmax : b.xip.front();
  return Position{static_cast<int64_t>(b.xmax), b.Text()};
}

Result<std::vector<TableTouch>> PgChangelogSource::Touched(const Position& from, const Position& to) {
  ASSIGN_OR_RETURN(PgResult r, pg_.ExecParams("SELECT tid, count(*)" + kWindow + " GROUP BY tid",
                                              {from.snapshot, to.snapshot}));
  std::vector<TableTouch> out;
  for (int i = 0; i < r.Rows(); ++i) {
    const int tid = std::stoi(r.Str(i, 0));
    if (tables_.count(tid) == 0) continue;
    out.push_back({tid, std::stoll(r.Str(i, 1))});
  }
  return out;
}

Result<std::unique_ptr<RowCursor>> PgChangelogSource::Keys(int tid, const Position& from, const Position& to) {
  return WindowKeys(tid, from, to, /*settled=*/false);
}

Result<std::unique_ptr<RowCursor>> PgChangelogSource::Rows(int tid, const Position& from, const Position& to) {
  return WindowRows(tid, from, to, /*settled=*/false);
}

Result<std::unique_ptr<RowCursor>> PgChangelogSource::SettledKeys(int tid, const Position& from, const Position& to) {
  return WindowKeys(tid, from, to, /*settled=*/true);
}

Result<std::unique_ptr<RowCursor>> PgChangelogSource::SettledRows(int tid, const Position& from, const Position& to) {
  return WindowRows(tid, from, to, /*settled=*/true);
}

Result<std::unique_ptr<RowCursor>> PgChangelogSource::WindowKeys(int tid, const Position& from, const Position& to,
                                                                 bool settled) {
  ASSIGN_OR_RETURN(const Table* t, Find(tid));
  std::string cols;
  for (size_t i = 0; i < t->sql.pg_key.size(); ++i) cols += (i ? ", win.k" : "win.k") + std::to_string(i + 1);
  ASSIGN_OR_RETURN(PgResult r, pg_.ExecParams("SELECT DISTINCT " + cols + WindowOf(*t, settled),
                                              {from.snapshot, to.snapshot, std::to_string(tid)}));
  return std::unique_ptr<RowCursor>(std::make_unique<PgRowsCursor>(std::move(r), *t, /*key=*/true));
}

Result<std::unique_ptr<RowCursor>> PgChangelogSource::WindowRows(int tid, const Position& from, const Position& to,
                                                                 bool settled) {
  ASSIGN_OR_RETURN(const Table* t, Find(tid));
  // The recorded key text cast back to each key column's type, so the
  // target's key index finds the rows.
  std::string lhs = "(", keys;
  for (size_t i = 0; i < t->sql.pg_key.size(); ++i) {
    lhs += (i ? ", " : "") + t->sql.pg_key[i];
    keys += (i ? ", win.k" : "win.k") + std::to_string(i + 1) + "::" + KeyType(*t, i);
  }
  lhs += ")";
  ASSIGN_OR_RETURN(PgResult r, pg_.ExecParams(SelectColumns(t->sql) + " FROM " + t->sql.pg_table + " WHERE " + lhs +
                                                  " IN (SELECT " + keys + WindowOf(*t, settled) + ")",
                                              {from.snapshot, to.snapshot, std::to_string(tid)}));
  return std::unique_ptr<RowCursor>(std::make_unique<PgRowsCursor>(std::move(r), *t, /*key=*/false));
}

Result<std::unique_ptr<RowCursor>> PgChangelogSource::AllRows(int tid) {
  ASSIGN_OR_RETURN(const Table* t, Find(tid));
  ASSIGN_OR_RETURN(PgResult r, pg_.Exec(SelectColumns(t->sql) + " FROM " + t->sql.pg_table));
  return std::unique_ptr<RowCursor>(std::make_unique<PgRowsCursor>(std::move(r), *t, /*key=*/false));
}

Result<PgChangelogSource::SchemaDrift> PgChangelogSource::CheckSchema() {
  // pg_class.xmin is a 32-bit xid: widened to the full id (the epoch of the
  // newest id, one epoch less when it would lie past it) to ask whether the
  // cutover's snapshot sees the transaction that last wrote the catalog row.
  // ALTER TABLE and CREATE TABLE write it; VACUUM and ANALYZE update it in
  // place and do not.
  ASSIGN_OR_RETURN(
      PgResult r,
      pg_.ExecParams(
          "WITH s AS (SELECT reverse_start::pg_snapshot AS xstart, "
          "pg_snapshot_xmax(pg_current_snapshot())::text::int8 AS xtop FROM slipway.migration), "
          "w AS (SELECT c.oid, c.relname, s.xstart, (s.xtop - s.xtop % 4294967296) + c.xmin::text::int8 AS xfull, s.xtop "
          "FROM s, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
          "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')) "
          "SELECT w.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
          "w.xstart IS NULL OR pg_visible_in_snapshot((CASE WHEN w.xfull > w.xtop THEN w.xfull - 4294967296 ELSE w.xfull "
          "END)::text::xid8, w.xstart) "
          "FROM w JOIN pg_attribute a ON a.attrelid = w.oid AND a.attnum > 0 AND NOT a.attisdropped "
          "ORDER BY w.relname, a.attnum",
          {pg_schema_}));
  struct PgTable {
    std::vector<std::tuple<std::string, std::string, bool>> columns;  // name, type, not null
    bool before_cutover = true;
  };
  std::map<std::string, PgTable> now;
  for (int i = 0; i < r.Rows(); ++i) {
    PgTable& t = now[r.Str(i, 0)];
    t.columns.emplace_back(r.Str(i, 1), r.Str(i, 2), r.Get(i, 3) == "t");
    t.before_cutover = r.Get(i, 4) == "t";
  }
  SchemaDrift d;
  std::set<std::string> replicated;
  for (const auto& [tid, t] : tables_) {
    const schema::TableMapping& tm = *t.tm;
    replicated.insert(tm.target);
    auto it = now.find(tm.target);
    if (it == now.end()) {
      d.changes.push_back("table " + tm.target + " (SQLite " + tm.source + ") was dropped or renamed in PostgreSQL");
      continue;
    }
    std::set<std::string> known;
    if (tm.key_kind == schema::KeyKind::kRowid) known.insert(schema::kRowidColumn);
    for (const auto& cm : tm.columns) {
      if (cm.skip) continue;
      known.insert(cm.target);
      const std::tuple<std::string, std::string, bool>* pc = nullptr;
      for (const auto& c : it->second.columns) {
        if (std::get<0>(c) == cm.target) pc = &c;
      }
      if (pc == nullptr) {
        d.changes.push_back("column " + tm.target + "." + cm.target + " was dropped or renamed in PostgreSQL");
        continue;
      }
      auto type = schema::PgType::Parse(std::get<1>(*pc));
      if (!type.ok() || !(*type == cm.type)) {
        d.changes.push_back("column " + tm.target + "." + cm.target + " changed type in PostgreSQL from " +
                            cm.type.Sql() + " to " + std::get<1>(*pc));
      }
    }
    for (const auto& [name, type, not_null] : it->second.columns) {
      if (known.count(name) == 0) d.added.push_back({tid, tm.source, name, type, not_null});
    }
  }
  for (const auto& [name, t] : now) {
    if (replicated.count(name) == 0 && !t.before_cutover) {
      d.changes.push_back("table " + name + " was created (or altered) in PostgreSQL after the cutover; the plan "
                          "does not replicate it, so its rows would not reach SQLite");
    }
  }
  return d;
}

Result<PgChangelogSource::Lag> PgChangelogSource::Pending(const Position& from) {
  ASSIGN_OR_RETURN(PgResult r, pg_.ExecParams(
                                   std::string("SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(ts)) "
                                               "* 1000, 0)::float8") + kAfter,
                                   {from.snapshot}));
  return Lag{std::stoll(r.Str(0, 0)), std::stod(r.Str(0, 1))};
}

Status PgChangelogSource::Prune(const Position& applied) {
  // Below the applied snapshot's xmin every transaction is visible in it and
  // in every later snapshot.
  return pg_.ExecParams("DELETE FROM slipway.changelog WHERE txid < pg_snapshot_xmin($1::pg_snapshot)",
                        {applied.snapshot})
      .status();
}

}  // namespace slipway::replicator
