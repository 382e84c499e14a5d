// slipway session capture, the SQLite side (see slipway_capture.h).
//
// Per connection:
//  - sqlite_compileoption_used() is overloaded. A session-mode capture
//    trigger calls it with SLIPWAY_CAPTURE_TOKEN + the file's migration id in
//    its WHEN clause after each row it watches changes. Inside an explicit
//    transaction on the connection's main file it answers 1 (the trigger
//    stays silent) and marks the transaction as needing a capture. The
//    session starts when the connection is opened on a file in session
//    mode; on a connection opened before that, the first time the function
//    is asked it starts the session and answers 0, so that row goes to the
//    changelog through the trigger and the session records the rest.
//    Autocommit writes and other files get 0: the trigger records the key.
//  - slipway_capture() writes the session's changeset into
//    _slipway_changelog (tid 0, the changeset in k1) inside the app's
//    transaction and starts a fresh session; the changeset commits, or rolls
//    back, with the writes it records.
//  - A commit hook refuses (rolls back) a COMMIT whose transaction changed a
//    replicated table after its last slipway_capture(); the commit and
//    rollback hooks start a fresh session whenever the old one recorded
//    anything, so each changeset holds one transaction.
//
// The session extension's functions are not part of SQLite's extension API
// table, so this library links the system's libsqlite3 and refuses to load
// into a process whose connection comes from another copy of SQLite.

#define SQLITE_CORE 1
#include "replicator/capture_extension/slipway_capture.h"

#include <sqlite3ext.h>

#include <cstring>
#include <map>
#include <string>

namespace {

constexpr size_t kTokenLength = sizeof(SLIPWAY_CAPTURE_TOKEN) - 1;

struct Conn {
  sqlite3* db = nullptr;
  sqlite3_session* session = nullptr;
  bool needs_capture = false;  // a replicated table changed since the last capture
  bool asked = false;          // a session-mode trigger asked in this transaction
  std::string migration_id;    // of the main file, as last read
  // Tables the session can record, by name: SQLite 3.40's session fails a
  // whole changeset on a table with generated columns, so those are the
  // triggers' (slipway installs their triggers without the session test).
  std::map<std::string, bool> recordable;
};

bool HasGeneratedColumns(sqlite3* db, const char* table) {
  sqlite3_stmt* st = nullptr;
  bool generated = false;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_xinfo(?1, 'main') WHERE hidden IN (2, 3)", -1, &st, nullptr) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
    generated = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return generated;
}

int RecordableTable(void* arg, const char* name) {
  if (std::strncmp(name, "_slipway_", 9) == 0 || std::strncmp(name, "sqlite_", 7) == 0) return 0;
  Conn* c = static_cast<Conn*>(arg);
  auto it = c->recordable.find(name);
  if (it == c->recordable.end()) it = c->recordable.emplace(name, !HasGeneratedColumns(c->db, name)).first;
  return it->second ? 1 : 0;
}

void StopSession(Conn* c) {
  if (c->session != nullptr) sqlite3session_delete(c->session);
  c->session = nullptr;
}

int StartSession(Conn* c) {
  StopSession(c);
  int rc = sqlite3session_create(c->db, "main", &c->session);
  if (rc != SQLITE_OK) {
    c->session = nullptr;
    return rc;
  }
  sqlite3session_table_filter(c->session, RecordableTable, c);
  rc = sqlite3session_attach(c->session, nullptr);
  if (rc != SQLITE_OK) StopSession(c);
  return rc;
}

bool MainFileIs(Conn* c, const char* id) {
  if (c->migration_id == id) return true;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(c->db, "SELECT value FROM main._slipway_meta WHERE key = 'migration_id'", -1, &st, nullptr) !=
      SQLITE_OK) {
    sqlite3_finalize(st);
    return false;
  }
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
    c->migration_id = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return c->migration_id == id;
}

// 1 when the session records this write, 0 when the trigger must.
int SessionRecords(Conn* c, const char* migration_id) {
  if (sqlite3_get_autocommit(c->db)) return 0;
  if (!MainFileIs(c, migration_id)) return 0;
  c->asked = true;
  if (c->session == nullptr) {
    (void)StartSession(c);
    return 0;
  }
  c->needs_capture = true;
  return 1;
}

void CompileOptionUsed(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const char* name = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  if (name == nullptr) return;  // NULL, as SQLite's own function answers
  if (std::strncmp(name, SLIPWAY_CAPTURE_TOKEN, kTokenLength) == 0) {
    sqlite3_result_int(ctx, SessionRecords(static_cast<Conn*>(sqlite3_user_data(ctx)), name + kTokenLength));
    return;
  }
  sqlite3_result_int(ctx, sqlite3_compileoption_used(name));
}

void Capture(sqlite3_context* ctx, int, sqlite3_value**) {
  Conn* c = static_cast<Conn*>(sqlite3_user_data(ctx));
  if (!c->needs_capture || c->session == nullptr) {
    sqlite3_result_int(ctx, 0);
    return;
  }
  int size = 0;
  void* changeset = nullptr;
  int rc = sqlite3session_changeset(c->session, &size, &changeset);
  if (rc != SQLITE_OK) {
    // A table's schema changed under the session: look at every table
    // again for the next transaction.
    c->recordable.clear();
    sqlite3_result_error(ctx, "slipway_capture: could not read the transaction's changes", -1);
    sqlite3_result_error_code(ctx, rc);
    return;
  }
  if (size > 0) {
    sqlite3_stmt* st = nullptr;
    rc = sqlite3_prepare_v2(c->db, "INSERT INTO main._slipway_changelog (tid, k1) VALUES (0, ?1)", -1, &st, nullptr);
    if (rc == SQLITE_OK) {
      sqlite3_bind_blob(st, 1, changeset, size, sqlite3_free);
      changeset = nullptr;
      rc = sqlite3_step(st);
      rc = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->db);
    }
    sqlite3_finalize(st);
    sqlite3_free(changeset);
    if (rc != SQLITE_OK) {
      std::string msg = std::string("slipway_capture: could not write the changeset: ") + sqlite3_errmsg(c->db);
      sqlite3_result_error(ctx, msg.c_str(), -1);
      sqlite3_result_error_code(ctx, rc);
      return;
    }
  } else {
    sqlite3_free(changeset);
  }
  c->needs_capture = false;
  if (StartSession(c) != SQLITE_OK) {
    sqlite3_result_error(ctx, "slipway_capture: could not start a new session", -1);
    return;
  }
  sqlite3_result_int(ctx, size > 0 ? 1 : 0);
}

// After a transaction ends: a fresh session when the old one recorded
// anything; none when the transaction touched no session-mode table (the
// next such write starts one).
void EndTransaction(Conn* c) {
  const bool asked = c->asked;
  c->needs_capture = false;
  c->asked = false;
  if (c->session == nullptr || sqlite3session_isempty(c->session)) return;
  if (asked) {
    (void)StartSession(c);
  } else {
    StopSession(c);
  }
}

int CommitHook(void* arg) {
  Conn* c = static_cast<Conn*>(arg);
  if (c->needs_capture) return 1;  // uncaptured changes: the COMMIT becomes a ROLLBACK
  EndTransaction(c);
  return 0;
}

void RollbackHook(void* arg) { EndTransaction(static_cast<Conn*>(arg)); }

void DestroyConn(void* arg) {
  Conn* c = static_cast<Conn*>(arg);
  StopSession(c);
  delete c;
}

int Register(sqlite3* db) {
  Conn* c = new Conn;
  c->db = db;
  int rc = sqlite3_create_function_v2(db, "slipway_capture", 0, SQLITE_UTF8 | SQLITE_DIRECTONLY, c, Capture, nullptr,
                                      nullptr, DestroyConn);
  if (rc != SQLITE_OK) return rc;  // DestroyConn has run
  rc = sqlite3_create_function_v2(db, "sqlite_compileoption_used", 1, SQLITE_UTF8 | SQLITE_INNOCUOUS, c,
                                  CompileOptionUsed, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return rc;
  sqlite3_commit_hook(db, CommitHook, c);
  sqlite3_rollback_hook(db, RollbackHook, c);
  // A file already in session mode: record from the first write on. (A
  // query that cannot fail on a file without slipway's tables: a failed
  // one would leave its error on the app's connection.)
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = '_slipway_meta'",
                         -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    sqlite3_finalize(st);
    st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT value = 'session' FROM main._slipway_meta WHERE key = 'capture'", -1, &st,
                           nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1) {
      (void)StartSession(c);
    }
  }
  sqlite3_finalize(st);
  return SQLITE_OK;
}

}  // namespace

extern "C" {

int sqlite3_slipwaycapture_init(sqlite3* db, char** err, const sqlite3_api_routines* api) {
  if (api != nullptr && api->libversion_number != &sqlite3_libversion_number) {
    if (err != nullptr) {
      *err = api->mprintf(
          "slipway_capture: this connection comes from a copy of SQLite built into the driver; "
          "the extension needs a driver that uses the system's libsqlite3 (%s)",
          sqlite3_libversion());
    }
    return SQLITE_ERROR;
  }
  int rc = Register(db);
  if (rc != SQLITE_OK && err != nullptr && api != nullptr) {
    *err = api->mprintf("slipway_capture: %s", sqlite3_errstr(rc));
  }
  return rc;
}

int slipway_capture_register(void) {
  return sqlite3_auto_extension(reinterpret_cast<void (*)(void)>(sqlite3_slipwaycapture_init));
}

int slipway_capture_attach(sqlite3* db) { return Register(db); }

int slipway_commit(sqlite3* db) { return sqlite3_exec(db, "SELECT slipway_capture(); COMMIT", nullptr, nullptr, nullptr); }

}  // extern "C"
