#include "replicator/capture.h"

#include "common/failpoint.h"
#include "common/random_id.h"
#include "replicator/capture_extension/slipway_capture.h"
#include "replicator/source_history.h"
#include "replicator/table_sql.h"
#include "sql/embedded.h"

namespace slipway::replicator {
namespace {

std::string Trigger(const std::string& name, const std::string& when, const std::string& table,
                    const std::string& cond, int tid, const std::vector<std::string>& keys, const char* row) {
  std::string cols = "tid", vals = std::to_string(tid);
  for (size_t i = 0; i < keys.size(); ++i) {
    cols += ", k" + std::to_string(i + 1);
    vals += std::string(", ") + row + "." + keys[i];
  }
  return "CREATE TRIGGER " + QuoteSqliteIdent(name) + " " + when + " ON " + table + (cond.empty() ? "" : " WHEN " + cond) +
         " BEGIN INSERT INTO _slipway_changelog (" + cols + ") VALUES (" + vals + "); END";
}

std::string SqlString(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// The WHEN condition of a session-mode trigger: the trigger records the key
// unless the writing connection's extension has recorded the row. The token
// names the file (migration id) and the table: after a change (':') the
// extension answers for the table's last change, before one ('/', the row a
// REPLACE is about to delete) for whether it records the table's changes.
// Rows with a NULL key are the triggers' in any case (the extension skips
// them).
std::string UnlessSessionRecords(const std::vector<std::string>& keys, const std::vector<const char*>& rows,
                                 const std::string& migration_id, const std::string& table, bool before) {
  std::string cond;
  for (const char* row : rows) {
    for (const auto& k : keys) cond += std::string(row) + "." + k + " IS NULL OR ";
  }
  return cond + "NOT sqlite_compileoption_used(" +
         SqlString(SLIPWAY_CAPTURE_TOKEN + migration_id + (before ? "/" : ":") + table) + ")";
}

// The mode _slipway_meta records (triggers when it records none).
Result<CaptureMode> StoredMode(Db& db) {
  ASSIGN_OR_RETURN(auto mode, db.QueryText("SELECT value FROM _slipway_meta WHERE key = 'capture'"));
  return mode.value_or("") == "session" ? CaptureMode::kSession : CaptureMode::kTriggers;
}

std::string And(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return "(" + a + ") AND (" + b + ")";
}

}  // namespace

const char* CaptureModeName(CaptureMode m) { return m == CaptureMode::kSession ? "session" : "triggers"; }

Result<CaptureMode> ParseCaptureMode(const std::string& text) {
  if (text == "session") return CaptureMode::kSession;
  if (text == "triggers") return CaptureMode::kTriggers;
  return Status(Code::kInvalidArgument, "--capture must be session or triggers, not " + text);
}

std::vector<std::string> CaptureTriggerSql(const schema::Table& table, const schema::TableMapping& tm, int tid,
                                           const std::string& session_migration_id) {
  std::vector<std::string> out;
  const std::string qt = QuoteSqliteIdent(table.name);
  const std::string p = std::string(kTriggerPrefix) + std::to_string(tid) + "_";
  std::vector<std::string> keys;
  if (tm.key_kind == schema::KeyKind::kRowid) {
    keys.push_back(FreeRowidName(tm));
  } else {
    for (const auto& k : tm.key_source) keys.push_back(QuoteSqliteIdent(k));
  }
  // The session records only tables with a declared primary key and
  // without generated columns (slipway_capture.cc, RecordableTable).
  bool generated = false;
  for (const auto& c : table.columns) generated = generated || c.generated != schema::Generated::kNone;
  const bool session = !session_migration_id.empty() && tm.key_kind == schema::KeyKind::kPrimaryKey && !generated;
  auto unless = [&](std::vector<const char*> rows, bool before = false) {
    return session ? UnlessSessionRecords(keys, rows, session_migration_id, table.name, before) : std::string();
  };
  out.push_back(Trigger(p + "ins", "AFTER INSERT", qt, unless({"NEW"}), tid, keys, "NEW"));
  out.push_back(Trigger(p + "upd", "AFTER UPDATE", qt, unless({"OLD", "NEW"}), tid, keys, "NEW"));
  out.push_back(Trigger(p + "del", "AFTER DELETE", qt, unless({"OLD"}), tid, keys, "OLD"));
  // A key that changes: the old key is touched too. UPDATE OF keeps the cost
  // off updates that do not name a key column.
  std::string changed;
  for (const auto& k : keys) changed += (changed.empty() ? "" : " OR ") + ("OLD." + k + " IS NOT NEW." + k);
  if (tm.key_kind == schema::KeyKind::kRowid) {
    out.push_back(Trigger(p + "key", "AFTER UPDATE", qt, changed, tid, keys, "OLD"));
  } else {
    std::string of;
    for (const auto& k : keys) of += (of.empty() ? "" : ", ") + k;
    out.push_back(Trigger(p + "key", "AFTER UPDATE OF " + of, qt, And(changed, unless({"OLD", "NEW"})), tid, keys, "OLD"));
  }
  // INSERT OR REPLACE / UPDATE OR REPLACE can delete a *different* row that
  // holds the same value of a secondary UNIQUE index; that delete fires no
  // trigger unless the app's connection enabled recursive_triggers. Record the
  // key of any row holding the new unique value before the write.
  int n = 0;
  for (const auto& ix : table.indexes) {
    if (!ix.unique || ix.origin == schema::IndexOrigin::kPrimaryKey) continue;
    bool plain = true;
    for (const auto& ic : ix.columns) plain = plain && !ic.name.empty();
    if (!plain || ix.columns.empty()) continue;
    std::string match, of;
    for (const auto& ic : ix.columns) {
      std::string c = QuoteSqliteIdent(ic.name);
      match += (match.empty() ? "" : " AND ") + c + " = NEW." + c;
      of += (of.empty() ? "" : ", ") + c;
    }
    std::string cols = "tid", sel = std::to_string(tid);
    for (size_t i = 0; i < keys.size(); ++i) {
      cols += ", k" + std::to_string(i + 1);
      sel += ", " + keys[i];
    }
    std::string body = " BEGIN INSERT INTO _slipway_changelog (" + cols + ") SELECT " + sel + " FROM " + qt + " WHERE " +
                       match + "; END";
    std::string idx = std::to_string(++n);
    // The session records a row that REPLACE deletes, as a delete.
    const std::string when = session ? " WHEN " + unless({}, /*before=*/true) : "";
    out.push_back("CREATE TRIGGER " + QuoteSqliteIdent(p + "uqi" + idx) + " BEFORE INSERT ON " + qt + when + body);
    out.push_back("CREATE TRIGGER " + QuoteSqliteIdent(p + "uqu" + idx) + " BEFORE UPDATE OF " + of + " ON " + qt + when +
                  body);
  }
  return out;
}

Result<CaptureInfo> ReadCapture(Db& db) {
  CaptureInfo info;
  ASSIGN_OR_RETURN(auto has, db.QueryInt("SELECT count(*) FROM sqlite_schema WHERE name = '_slipway_meta'"));
  if (!has || *has == 0) {
    return Status(Code::kNoCapture, "capture is not installed in this file: run `slipway snapshot` on it first");
  }
  ASSIGN_OR_RETURN(auto id, db.QueryText("SELECT value FROM _slipway_meta WHERE key = 'migration_id'"));
  info.migration_id = id.value_or("");
  ASSIGN_OR_RETURN(auto history, db.QueryText("SELECT value FROM _slipway_meta WHERE key = 'history'"));
  info.history = history.value_or("");
  ASSIGN_OR_RETURN(info.mode, StoredMode(db));
  ASSIGN_OR_RETURN(info.tids, ReadTids(db));
  return info;
}

Result<std::map<std::string, int>> ReadTids(Db& db) {
  std::map<std::string, int> tids;
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT tid, name FROM main._slipway_tables"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    tids[st.Text(1)] = static_cast<int>(st.Int(0));
  }
  return tids;
}

Result<CaptureInfo> InstallCapture(Db& db, const schema::SourceSchema& schema, const schema::Plan& plan,
                                   std::optional<CaptureMode> mode) {
  for (const auto& tm : plan.tables) {
    if (tm.key_target.size() > static_cast<size_t>(kMaxKeyColumns)) {
      return Status(Code::kBlocked, "table " + tm.source + ": primary keys of more than " +
                                        std::to_string(kMaxKeyColumns) + " columns are not supported");
    }
  }
  // One write transaction: the app sees all of capture or none of it.
  RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto rollback = [&](Status s) {
    (void)db.Exec("ROLLBACK");
    return s;
  };
  auto before = ReadSchemaStamp(db);
  if (!before.ok()) return rollback(before.status());
  Status s = db.Exec(sql::sqlite_control);
  if (!s.ok()) return rollback(s.Annotate("create control tables"));
  auto id = db.QueryText("SELECT value FROM _slipway_meta WHERE key = 'migration_id'");
  if (!id.ok()) return rollback(id.status());
  CaptureInfo info;
  info.migration_id = id->value_or("");
  if (info.migration_id.empty()) {
    info.migration_id = RandomHexId();
    auto st = db.Prepare("INSERT INTO _slipway_meta (key, value) VALUES ('migration_id', ?)");
    if (!st.ok()) return rollback(st.status());
    st->Bind(1, std::string_view(info.migration_id));
    s = st->Run();
    if (!s.ok()) return rollback(s);
    // A new migration starts a new history; the snapshot gives the target
    // the same token.
    auto h = db.Prepare("INSERT INTO _slipway_meta (key, value) VALUES ('history', ?)");
    if (!h.ok()) return rollback(h.status());
    info.history = NewHistoryToken();
    h->Bind(1, std::string_view(info.history));
    s = h->Run();
    if (!s.ok()) return rollback(s);
  } else {
    auto h = db.QueryText("SELECT value FROM _slipway_meta WHERE key = 'history'");
    if (!h.ok()) return rollback(h.status());
    info.history = h->value_or("");
  }
  {
    auto stored = StoredMode(db);
    if (!stored.ok()) return rollback(stored.status());
    info.mode = mode.value_or(*stored);
    auto st = db.Prepare("INSERT INTO _slipway_meta (key, value) VALUES ('capture', ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    if (!st.ok()) return rollback(st.status());
    st->Bind(1, std::string_view(CaptureModeName(info.mode)));
    s = st->Run();
    if (!s.ok()) return rollback(s);
  }
  const std::string session_id = info.mode == CaptureMode::kSession ? info.migration_id : "";
  for (const auto& tm : plan.tables) {
    const schema::Table* t = schema.FindTable(tm.source);
    if (t == nullptr) return rollback(Status(Code::kSchemaChanged, "table " + tm.source + " no longer exists"));
    auto reg = db.Prepare("INSERT INTO _slipway_tables (name) VALUES (?) ON CONFLICT (name) DO NOTHING");
    if (!reg.ok()) return rollback(reg.status());
    reg->Bind(1, std::string_view(tm.source));
    s = reg->Run();
    if (!s.ok()) return rollback(s);
    auto q = db.Prepare("SELECT tid FROM _slipway_tables WHERE name = ?");
    if (!q.ok()) return rollback(q.status());
    q->Bind(1, std::string_view(tm.source));
    auto row = q->Step();
    if (!row.ok()) return rollback(row.status());
    int tid = static_cast<int>(q->Int(0));
    info.tids[tm.source] = tid;
    // Drop this table's old triggers (a refresh), then create them anew.
    auto old = db.Prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE ? ESCAPE '\\'");
    if (!old.ok()) return rollback(old.status());
    old->Bind(1, std::string_view("\\_slipway\\_" + std::to_string(tid) + "\\_%"));
    std::vector<std::string> names;
    while (true) {
      auto r = old->Step();
      if (!r.ok()) return rollback(r.status());
      if (!*r) break;
      names.push_back(old->Text(0));
    }
    for (const auto& n : names) {
      s = db.Exec("DROP TRIGGER " + QuoteSqliteIdent(n));
      if (!s.ok()) return rollback(s);
    }
    for (const auto& sql : CaptureTriggerSql(*t, tm, tid, session_id)) {
      s = db.Exec(sql);
      if (!s.ok()) return rollback(s.Annotate("install capture on " + tm.source));
    }
  }
  auto after = ReadSchemaStamp(db);
  if (!after.ok()) return rollback(after.status());
  info.stamp_before = *before;
  info.stamp = *after;
  if (!(*before == *after)) {
    s = RecordCaptureRefresh(db, *before, *after);
    if (!s.ok()) return rollback(s);
  }
  s = FailpointStatus("capture.before_commit");
  if (!s.ok()) return rollback(s);
  RETURN_IF_ERROR(db.Exec("COMMIT"));
  return info;
}

Status RemoveCapture(Db& db, bool keep_fence) {
  RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  std::vector<std::pair<std::string, std::string>> objects;
  {
    auto st = db.Prepare(
        "SELECT type, name FROM sqlite_schema WHERE name LIKE '\\_slipway\\_%' ESCAPE '\\' AND type IN ('trigger', 'table')"
        " ORDER BY type = 'table'");
    if (!st.ok()) {
      (void)db.Exec("ROLLBACK");
      return st.status();
    }
    while (true) {
      auto r = st->Step();
      if (!r.ok()) {
        (void)db.Exec("ROLLBACK");
        return r.status();
      }
      if (!*r) break;
      std::string name = st->Text(1);
      if (keep_fence && (name == "_slipway_meta" || name.rfind("_slipway_fence_", 0) == 0)) continue;
      objects.emplace_back(st->Text(0), std::move(name));
    }
  }
  for (const auto& [type, name] : objects) {
    Status s = db.Exec("DROP " + std::string(type == "table" ? "TABLE " : "TRIGGER ") + QuoteSqliteIdent(name));
    if (!s.ok()) {
      (void)db.Exec("ROLLBACK");
      return s;
    }
  }
  return db.Exec("COMMIT");
}

}  // namespace slipway::replicator
