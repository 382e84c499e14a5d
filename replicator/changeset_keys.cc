#include "replicator/changeset_keys.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "replicator/capture.h"

namespace slipway::replicator {

// The keys decoded from a range's changesets, per connection, in memory:
// the rows of the eponymous table slipway_changeset_keys (seq, tid, k1..k4),
// sorted by tid and seq, which answers tid = and seq ranges by binary search.
struct KeyRow {
  int64_t seq = 0;
  int64_t tid = 0;
  sqlite3_value* k[kMaxKeyColumns] = {};
};

struct DecodedKeyStore {
  sqlite3* db = nullptr;  // the connection whose keys these are
  std::vector<KeyRow> rows;
  ~DecodedKeyStore() { Clear(); }
  void Clear() {
    for (KeyRow& r : rows) {
      for (sqlite3_value*& v : r.k) sqlite3_value_free(v);
    }
    rows.clear();
  }
  void Sort() {
    std::stable_sort(rows.begin(), rows.end(), [](const KeyRow& a, const KeyRow& b) {
      return std::make_pair(a.tid, a.seq) < std::make_pair(b.tid, b.seq);
    });
  }
};

namespace {

// One store per connection, found by its handle; the module's destructor
// (the connection closing) forgets it.
std::mutex stores_mu;
std::unordered_map<sqlite3*, DecodedKeyStore*>& Stores() {
  static auto* stores = new std::unordered_map<sqlite3*, DecodedKeyStore*>();
  return *stores;
}

struct StoreTab {
  sqlite3_vtab base;
  DecodedKeyStore* store;
};

struct StoreCursor {
  sqlite3_vtab_cursor base;
  DecodedKeyStore* store;
  size_t at, end;
};

constexpr int kTidEq = 1, kSeqGt = 2, kSeqGe = 4, kSeqLt = 8, kSeqLe = 16;

int KeysConnect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char**) {
  const int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(seq INTEGER, tid INTEGER, k1, k2, k3, k4)");
  if (rc != SQLITE_OK) return rc;
  auto* tab = static_cast<StoreTab*>(sqlite3_malloc(sizeof(StoreTab)));
  if (tab == nullptr) return SQLITE_NOMEM;
  std::memset(tab, 0, sizeof *tab);
  tab->store = static_cast<DecodedKeyStore*>(aux);
  *out = &tab->base;
  return SQLITE_OK;
}

int KeysDisconnect(sqlite3_vtab* vtab) {
  sqlite3_free(vtab);
  return SQLITE_OK;
}

int KeysBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  int plan = 0, argc = 0;
  // Arguments in a fixed order: tid, then the seq bounds.
  const int kinds[] = {kTidEq, kSeqGt, kSeqGe, kSeqLt, kSeqLe};
  for (int kind : kinds) {
    for (int i = 0; i < info->nConstraint; ++i) {
      const auto& c = info->aConstraint[i];
      if (!c.usable) continue;
      int k = 0;
      if (c.iColumn == 1 && c.op == SQLITE_INDEX_CONSTRAINT_EQ) k = kTidEq;
      if (c.iColumn == 0 && c.op == SQLITE_INDEX_CONSTRAINT_GT) k = kSeqGt;
      if (c.iColumn == 0 && c.op == SQLITE_INDEX_CONSTRAINT_GE) k = kSeqGe;
      if (c.iColumn == 0 && c.op == SQLITE_INDEX_CONSTRAINT_LT) k = kSeqLt;
      if (c.iColumn == 0 && c.op == SQLITE_INDEX_CONSTRAINT_LE) k = kSeqLe;
      if (k != kind || (plan & k) != 0) continue;
      plan |= k;
      info->aConstraintUsage[i].argvIndex = ++argc;
      info->aConstraintUsage[i].omit = 0;  // SQLite checks again
    }
  }
  info->idxNum = plan;
  info->estimatedCost = (plan & kTidEq) != 0 ? 10.0 : 1000.0;
  info->estimatedRows = (plan & kTidEq) != 0 ? 10 : 1000;
  return SQLITE_OK;
}

int KeysOpen(sqlite3_vtab* vtab, sqlite3_vtab_cursor** out) {
  auto* cur = static_cast<StoreCursor*>(sqlite3_malloc(sizeof(StoreCursor)));
  if (cur == nullptr) return SQLITE_NOMEM;
  std::memset(cur, 0, sizeof *cur);
  cur->store = reinterpret_cast<StoreTab*>(vtab)->store;
  *out = &cur->base;
  return SQLITE_OK;
}

int KeysClose(sqlite3_vtab_cursor* cur) {
  sqlite3_free(cur);
  return SQLITE_OK;
}

int KeysFilter(sqlite3_vtab_cursor* base, int plan, const char*, int argc, sqlite3_value** argv) {
  auto* cur = reinterpret_cast<StoreCursor*>(base);
  const std::vector<KeyRow>& rows = cur->store->rows;
  // The arguments in xBestIndex's order. A bound that is not an integer is
  // left to SQLite's own check (an empty range here would be wrong for a
  // value SQLite compares otherwise).
  int a = 0;
  int64_t v = 0;
  auto bound = [&](int kind) {
    if ((plan & kind) == 0 || a >= argc) return false;
    sqlite3_value* arg = argv[a++];
    if (sqlite3_value_numeric_type(arg) != SQLITE_INTEGER) return false;
    v = sqlite3_value_int64(arg);
    return true;
  };
  std::optional<int64_t> tid;
  int64_t seq_lo = INT64_MIN, seq_hi = INT64_MAX;
  bool empty = false;
  if (bound(kTidEq)) tid = v;
  if (bound(kSeqGt)) {
    empty = empty || v == INT64_MAX;
    if (v != INT64_MAX) seq_lo = std::max(seq_lo, v + 1);
  }
  if (bound(kSeqGe)) seq_lo = std::max(seq_lo, v);
  if (bound(kSeqLt)) {
    empty = empty || v == INT64_MIN;
    if (v != INT64_MIN) seq_hi = std::min(seq_hi, v - 1);
  }
  if (bound(kSeqLe)) seq_hi = std::min(seq_hi, v);
  auto before = [](const KeyRow& r, std::pair<int64_t, int64_t> k) {
    return std::make_pair(r.tid, r.seq) < k;
  };
  auto after = [](std::pair<int64_t, int64_t> k, const KeyRow& r) {
    return k < std::make_pair(r.tid, r.seq);
  };
  if (empty || seq_lo > seq_hi) {
    cur->at = cur->end = 0;
    return SQLITE_OK;
  }
  if (tid) {
    cur->at = static_cast<size_t>(std::lower_bound(rows.begin(), rows.end(), std::make_pair(*tid, seq_lo), before) -
                                  rows.begin());
    cur->end = static_cast<size_t>(std::upper_bound(rows.begin(), rows.end(), std::make_pair(*tid, seq_hi), after) -
                                   rows.begin());
  } else {
    cur->at = 0;
    cur->end = rows.size();  // every table: SQLite filters the seq range
  }
  return SQLITE_OK;
}

int KeysNext(sqlite3_vtab_cursor* base) {
  ++reinterpret_cast<StoreCursor*>(base)->at;
  return SQLITE_OK;
}

int KeysEof(sqlite3_vtab_cursor* base) {
  auto* cur = reinterpret_cast<StoreCursor*>(base);
  return cur->at >= cur->end ? 1 : 0;
}

int KeysColumn(sqlite3_vtab_cursor* base, sqlite3_context* ctx, int col) {
  auto* cur = reinterpret_cast<StoreCursor*>(base);
  const KeyRow& r = cur->store->rows[cur->at];
  if (col == 0) {
    sqlite3_result_int64(ctx, r.seq);
  } else if (col == 1) {
    sqlite3_result_int64(ctx, r.tid);
  } else if (r.k[col - 2] != nullptr) {
    sqlite3_result_value(ctx, r.k[col - 2]);
  } else {
    sqlite3_result_null(ctx);
  }
  return SQLITE_OK;
}

int KeysRowid(sqlite3_vtab_cursor* base, sqlite3_int64* rowid) {
  *rowid = static_cast<sqlite3_int64>(reinterpret_cast<StoreCursor*>(base)->at);
  return SQLITE_OK;
}

sqlite3_module KeysModule() {
  sqlite3_module m;
  std::memset(&m, 0, sizeof m);
  m.iVersion = 1;
  m.xConnect = KeysConnect;
  m.xBestIndex = KeysBestIndex;
  m.xDisconnect = KeysDisconnect;
  m.xDestroy = KeysDisconnect;
  m.xOpen = KeysOpen;
  m.xClose = KeysClose;
  m.xFilter = KeysFilter;
  m.xNext = KeysNext;
  m.xEof = KeysEof;
  m.xColumn = KeysColumn;
  m.xRowid = KeysRowid;
  return m;
}

const sqlite3_module kKeysModule = KeysModule();

void ForgetStore(void* aux) {
  auto* store = static_cast<DecodedKeyStore*>(aux);
  {
    std::lock_guard<std::mutex> lock(stores_mu);
    Stores().erase(store->db);
  }
  delete store;
}

// The connection's store, the module and the view made on first use.
Result<DecodedKeyStore*> StoreOf(Db& db) {
  {
    std::lock_guard<std::mutex> lock(stores_mu);
    auto it = Stores().find(db.get());
    if (it != Stores().end()) return it->second;
  }
  auto* store = new DecodedKeyStore();
  store->db = db.get();
  if (sqlite3_create_module_v2(db.get(), "slipway_changeset_keys", &kKeysModule, store, ForgetStore) != SQLITE_OK) {
    return Status(Code::kInternal, std::string("cannot register the decoded keys' table: ") + sqlite3_errmsg(db.get()));
  }
  {
    std::lock_guard<std::mutex> lock(stores_mu);
    Stores()[db.get()] = store;
  }
  RETURN_IF_ERROR(db.Exec("CREATE TEMP VIEW IF NOT EXISTS _slipway_keys AS"
                          " SELECT seq, tid, k1, k2, k3, k4 FROM main._slipway_changelog WHERE tid <> 0"
                          " UNION ALL SELECT seq, tid, k1, k2, k3, k4 FROM slipway_changeset_keys"));
  return store;
}

// The session records the columns PRAGMA table_info lists; a table with
// generated columns may be recorded with them too: whichever list has the
// changeset's column count places the key.
Result<std::vector<int>> KeyPositions(Db& db, const std::string& table, int ncol) {
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT pk, hidden FROM pragma_table_xinfo(?1, 'main') ORDER BY cid"));
  st.Bind(1, std::string_view(table));
  struct Col {
    int pk;
    bool hidden;
  };
  std::vector<Col> cols;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    cols.push_back({static_cast<int>(st.Int(0)), st.Int(1) != 0});
  }
  for (bool with_hidden : {false, true}) {
    std::vector<std::pair<int, int>> keys;  // pk ordinal, position
    int pos = 0;
    for (const Col& c : cols) {
      if (c.hidden && !with_hidden) continue;
      if (c.pk > 0) keys.emplace_back(c.pk, pos);
      ++pos;
    }
    if (pos != ncol || keys.empty()) continue;
    std::sort(keys.begin(), keys.end());
    std::vector<int> out;
    for (const auto& k : keys) out.push_back(k.second);
    return out;
  }
  return Status(Code::kSchemaChanged, "table " + table + ": its changeset has " + std::to_string(ncol) +
                                          " columns, which its primary key cannot be placed in");
}

struct Changeset {
  sqlite3_changeset_iter* it = nullptr;
  ~Changeset() {
    if (it != nullptr) sqlite3changeset_finalize(it);
  }
};

}  // namespace

Result<DecodedKeys> ChangesetKeyLoader::Load(const std::map<std::string, int>& tids, int64_t from, int64_t to) {
  if (store_ == nullptr) {
    ASSIGN_OR_RETURN(store_, StoreOf(db_));
  }
  DecodedKeyStore& store = *store_;
  store.Clear();
  // Sorted for the table's binary search, however the load ends.
  struct SortAtExit {
    DecodedKeyStore& store;
    ~SortAtExit() { store.Sort(); }
  } sort_at_exit{store};
  DecodedKeys out;
  if (to <= from) return out;
  ASSIGN_OR_RETURN(auto version, db_.QueryInt("PRAGMA schema_version"));
  if (version.value_or(-1) != schema_version_seen_) {
    tables_.clear();
    schema_version_seen_ = version.value_or(-1);
  }
  ASSIGN_OR_RETURN(Db::Lent lent, db_.Cached("SELECT seq, k1 FROM main._slipway_changelog WHERE seq > ?1 AND seq <= ?2 "
                                            "AND tid = 0 ORDER BY seq"));
  Stmt& sets = *lent;
  sets.Bind(1, from).Bind(2, to);
  while (true) {
    ASSIGN_OR_RETURN(bool row, sets.Step());
    if (!row) break;
    const int64_t seq = sets.Int(0);
    const std::string_view blob = sets.BlobView(1);
    const std::string at = "changeset at changelog seq " + std::to_string(seq);
    Changeset cs;
    int rc = sqlite3changeset_start(&cs.it, static_cast<int>(blob.size()), const_cast<char*>(blob.data()));
    if (rc != SQLITE_OK) return Status(Code::kInternal, at + " cannot be read: " + sqlite3_errstr(rc));
    while ((rc = sqlite3changeset_next(cs.it)) == SQLITE_ROW) {
      const char* name = nullptr;
      int ncol = 0, op = 0, indirect = 0;
      rc = sqlite3changeset_op(cs.it, &name, &ncol, &op, &indirect);
      if (rc != SQLITE_OK) return Status(Code::kInternal, at + " cannot be read: " + sqlite3_errstr(rc));
      auto tid_it = tids.find(name);
      if (tid_it == tids.end()) continue;  // not replicated
      KeyColumns& kc = tables_[name];
      if (kc.ncol != ncol || kc.tid != tid_it->second) {
        ASSIGN_OR_RETURN(kc.positions, KeyPositions(db_, name, ncol));
        kc.ncol = ncol;
        kc.tid = tid_it->second;
        if (kc.positions.size() > static_cast<size_t>(kMaxKeyColumns)) {
          kc.ncol = -1;
          return Status(Code::kBlocked, "table " + std::string(name) + ": primary keys of more than " +
                                            std::to_string(kMaxKeyColumns) + " columns are not supported");
        }
      }
      store.rows.emplace_back();
      KeyRow& row = store.rows.back();
      row.seq = seq;
      row.tid = kc.tid;
      for (size_t i = 0; i < kc.positions.size(); ++i) {
        sqlite3_value* v = nullptr;
        // An update keeps its key (a changed key is a delete and an insert),
        // and a changeset's or a patchset's update carries the key among its
        // old values.
        rc = op == SQLITE_INSERT ? sqlite3changeset_new(cs.it, kc.positions[i], &v)
                                 : sqlite3changeset_old(cs.it, kc.positions[i], &v);
        if (rc != SQLITE_OK || v == nullptr) {
          return Status(Code::kInternal, at + ": table " + name + " has no key value in column " +
                                             std::to_string(kc.positions[i]));
        }
        row.k[i] = sqlite3_value_dup(v);
        if (row.k[i] == nullptr) return Status(Code::kInternal, at + ": out of memory");
      }
      ++out.changes[kc.tid];
    }
    if (rc != SQLITE_DONE) return Status(Code::kInternal, at + " is damaged: " + sqlite3_errstr(rc));
  }
  return out;
}

Result<DecodedKeys> LoadChangesetKeys(Db& db, const std::map<std::string, int>& tids, int64_t from, int64_t to) {
  ChangesetKeyLoader loader(db);
  return loader.Load(tids, from, to);
}

Result<DecodedKeys> LoadChangesetKeys(Db& db, int64_t from, int64_t to) {
  ASSIGN_OR_RETURN(auto tids, ReadTids(db));
  return LoadChangesetKeys(db, tids, from, to);
}

}  // namespace slipway::replicator
