#include "replicator/source_history.h"

#include <chrono>
#include <thread>

#include "common/random_id.h"

namespace slipway::replicator {
namespace {

// What the file says about its history. An absent token is "".
struct FileSide {
  bool bound = false;  // capture installed: a migration id and a changelog
  std::string migration_id;
  std::string token;
  std::string previous;
  int64_t newest_seq = 0;
};

struct TargetSide {
  bool bound = false;  // the target holds a migration
  std::string migration_id;
  std::string token;
  int64_t position = 0;  // every change at or below it is in the target
};

std::string Short(const std::string& token) { return token.empty() ? "(none)" : token.substr(0, 8); }

Status Refuse(const std::string& path, const std::string& what) {
  return Status(Code::kWrongSource,
                "the source " + path + " is not the file this target followed: " + what +
                    "; nothing was written. To move this file, run `slipway snapshot` into a fresh target (a new "
                    "database, or one cleared with `slipway cleanup --target URI`); to give up this move, "
                    "`slipway cleanup`");
}

Result<std::string> MetaValue(Db& db, const char* key) {
  ASSIGN_OR_RETURN(Db::Lent st, db.Cached("SELECT value FROM _slipway_meta WHERE key = ?"));
  st->Bind(1, std::string_view(key));
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row || st->IsNull(0)) return std::string();
  return st->Text(0);
}

Result<FileSide> ReadFileSide(Db& db) {
  FileSide f;
  ASSIGN_OR_RETURN(auto tables, db.QueryInt("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                                            "('_slipway_meta', '_slipway_changelog')"));
  if (tables.value_or(0) < 2) return f;
  f.bound = true;
  ASSIGN_OR_RETURN(f.migration_id, MetaValue(db, "migration_id"));
  ASSIGN_OR_RETURN(f.token, MetaValue(db, kHistoryKey));
  ASSIGN_OR_RETURN(f.previous, MetaValue(db, kHistoryPrevKey));
  ASSIGN_OR_RETURN(auto newest, db.QueryInt("SELECT max(seq) FROM _slipway_changelog"));
  f.newest_seq = newest.value_or(0);
  return f;
}

Result<TargetSide> ReadTargetSide(PgConn& pg) {
  TargetSide t;
  ASSIGN_OR_RETURN(PgResult exists, pg.Exec("SELECT to_regclass('slipway.migration') IS NOT NULL"));
  if (exists.Get(0, 0) != "t") return t;
  // to_jsonb: a target made before the column existed is read without DDL.
  ASSIGN_OR_RETURN(PgResult r, pg.Exec("SELECT coalesce(to_jsonb(m) ->> 'migration_id', ''), "
                                       "coalesce(to_jsonb(m) ->> 'history', ''), "
                                       "greatest(applied_seq, (SELECT coalesce(max(start_seq), 0) FROM slipway.tables)) "
                                       "FROM slipway.migration m"));
  // A state schema without a migration id binds nothing.
  if (r.Rows() == 0 || r.Get(0, 0).empty()) return t;
  t.bound = true;
  t.migration_id = r.Str(0, 0);
  t.token = r.Str(0, 1);
  t.position = std::stoll(r.Str(0, 2));
  return t;
}

Status Decide(const FileSide& f, const TargetSide& t, const std::string& path) {
  if (!f.bound || !t.bound) return Status::Ok();
  if (f.migration_id != t.migration_id) {
    return Refuse(path, "it carries migration " + f.migration_id + ", the target migration " + t.migration_id);
  }
  // The previous token: an attach that wrote the file and not yet the target.
  // Two empty tokens: a migration made before tokens existed.
  if (f.token != t.token && f.previous != t.token) {
    return Refuse(path, "its history token " + Short(f.token) + " is not the target's " + Short(t.token) +
                            " (a copy of the file, a restored backup, or another file of the same migration that "
                            "an applier followed since)");
  }
  if (f.newest_seq < t.position) {
    return Refuse(path, "its changelog ends at seq " + std::to_string(f.newest_seq) + " but the target holds changes "
                            "up to seq " + std::to_string(t.position) + " (the file went back: a restored backup or "
                            "an older copy)");
  }
  return Status::Ok();
}

Status SetMeta(Db& db, const char* key, const std::string& value) {
  ASSIGN_OR_RETURN(Stmt st, db.Prepare("INSERT INTO _slipway_meta (key, value) VALUES (?, ?) "
                                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  st.Bind(1, std::string_view(key)).Bind(2, std::string_view(value));
  return st.Run();
}

// BEGIN IMMEDIATE, waiting for the app's write transactions to end.
Status BeginWrite(Db& db) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    Status s = db.Exec("BEGIN IMMEDIATE");
    if (s.ok() || !IsRetryable(s.code()) || std::chrono::steady_clock::now() > deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

std::string NewHistoryToken() { return RandomHexId(); }

Status CheckSourceHistory(Db& db, PgConn& pg, const std::string& source_path) {
  ASSIGN_OR_RETURN(TargetSide t, ReadTargetSide(pg));
  ASSIGN_OR_RETURN(FileSide f, ReadFileSide(db));
  return Decide(f, t, source_path);
}

Result<std::string> AttachSourceHistory(Db& db, PgConn& pg, const std::string& source_path) {
  ASSIGN_OR_RETURN(TargetSide t, ReadTargetSide(pg));
  RETURN_IF_ERROR(BeginWrite(db));
  auto rollback = [&](Status s) {
    (void)db.Exec("ROLLBACK");
    return s;
  };
  auto f = ReadFileSide(db);
  if (!f.ok()) return rollback(f.status());
  Status s = Decide(*f, t, source_path);
  if (!s.ok()) return rollback(s);
  if (!f->bound || !t.bound) {
    (void)db.Exec("ROLLBACK");
    return std::string();
  }
  // The file first, keeping the token the target still holds: a crash before
  // the target is written leaves the two matching through history_prev.
  const std::string token = NewHistoryToken();
  s = SetMeta(db, kHistoryKey, token);
  if (s.ok()) s = SetMeta(db, kHistoryPrevKey, t.token);
  if (!s.ok()) return rollback(s);
  RETURN_IF_ERROR(db.Exec("COMMIT"));
  RETURN_IF_ERROR(pg.ExecParams("UPDATE slipway.migration SET history = $1", {token}).status());
  return token;
}

Status CheckSourceRound(Db& db, const std::string& token, int64_t newest_seq, int64_t applied,
                        const std::string& source_path) {
  if (!token.empty()) {
    ASSIGN_OR_RETURN(std::string now, MetaValue(db, kHistoryKey));
    if (now != token) {
      return Refuse(source_path, "its history token changed to " + Short(now) + " while this applier ran (the file "
                                 "was replaced by a copy or a backup, or another applier attached to it)");
    }
  }
  if (newest_seq < applied) {
    return Refuse(source_path, "its changelog ends at seq " + std::to_string(newest_seq) + " but the target holds "
                               "changes up to seq " + std::to_string(applied) + " (the file went back: a restored "
                               "backup or an older copy)");
  }
  return Status::Ok();
}

}  // namespace slipway::replicator
