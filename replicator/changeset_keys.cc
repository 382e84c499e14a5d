#include "replicator/changeset_keys.h"

#include <algorithm>
#include <vector>

#include "replicator/capture.h"

namespace slipway::replicator {
namespace {

constexpr const char* kCreate =
    "CREATE TEMP TABLE IF NOT EXISTS _slipway_changeset_keys (seq INTEGER NOT NULL, tid INTEGER NOT NULL, k1, k2, k3, k4);"
    "CREATE INDEX IF NOT EXISTS temp._slipway_changeset_keys_tid ON _slipway_changeset_keys (tid, seq);"
    "CREATE TEMP VIEW IF NOT EXISTS _slipway_keys AS"
    " SELECT seq, tid, k1, k2, k3, k4 FROM main._slipway_changelog WHERE tid <> 0"
    " UNION ALL SELECT seq, tid, k1, k2, k3, k4 FROM temp._slipway_changeset_keys";

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

Status ChangesetKeyLoader::Prepare() {
  if (insert_) return Status::Ok();
  RETURN_IF_ERROR(db_.Exec(kCreate));
  ASSIGN_OR_RETURN(Stmt version, db_.Prepare("PRAGMA schema_version"));
  ASSIGN_OR_RETURN(Stmt clear, db_.Prepare("DELETE FROM temp._slipway_changeset_keys"));
  ASSIGN_OR_RETURN(Stmt sets, db_.Prepare("SELECT seq, k1 FROM main._slipway_changelog WHERE seq > ?1 AND seq <= ?2 "
                                          "AND tid = 0 ORDER BY seq"));
  ASSIGN_OR_RETURN(Stmt insert, db_.Prepare("INSERT INTO temp._slipway_changeset_keys (seq, tid, k1, k2, k3, k4) "
                                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  schema_version_ = std::move(version);
  clear_ = std::move(clear);
  sets_ = std::move(sets);
  insert_ = std::move(insert);
  return Status::Ok();
}

Result<DecodedKeys> ChangesetKeyLoader::Load(const std::map<std::string, int>& tids, int64_t from, int64_t to) {
  RETURN_IF_ERROR(Prepare());
  // Statements kept for the next call are left reset, holding no read.
  struct ResetAtExit {
    ChangesetKeyLoader* l;
    ~ResetAtExit() {
      for (auto* st : {&l->schema_version_, &l->clear_, &l->sets_, &l->insert_}) (void)(*st)->Reset();
    }
  } reset_at_exit{this};
  RETURN_IF_ERROR(clear_->Run());
  DecodedKeys out;
  if (to <= from) return out;
  ASSIGN_OR_RETURN(bool row, schema_version_->Step());
  const int64_t version = row ? schema_version_->Int(0) : -1;
  if (version != schema_version_seen_) {
    tables_.clear();
    schema_version_seen_ = version;
  }
  Stmt& sets = *sets_;
  Stmt& ins = *insert_;
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
      ins.Bind(1, seq).Bind(2, static_cast<int64_t>(kc.tid));
      for (int i = 0; i < kMaxKeyColumns; ++i) ins.BindNull(3 + i);
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
        ins.BindValue(3 + static_cast<int>(i), v);
      }
      RETURN_IF_ERROR(ins.Run());
      RETURN_IF_ERROR(ins.Reset());
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
