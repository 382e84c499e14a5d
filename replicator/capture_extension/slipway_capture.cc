// slipway session capture, the SQLite side (see slipway_capture.h).
//
// Per connection:
//  - A preupdate hook (the hook SQLite's session extension is built on)
//    records each row change of the main file's tables that have a declared
//    primary key, inside explicit transactions, as a patchset record: the
//    format sqlite3session_patchset() writes and sqlite3changeset_start()
//    reads and sqlite3changeset_apply() applies. A change of a key is a
//    DELETE of the old key and an INSERT of the new row, as the session
//    writes it. Records are kept in order, one per row change, not folded
//    per key. (A session object costs SQLite 3.40 two statement
//    compilations per transaction: its table's columns, and the query that
//    builds the changeset.)
//  - sqlite_compileoption_used() is overloaded. A session-mode capture
//    trigger calls it with SLIPWAY_CAPTURE_TOKEN + the file's migration id +
//    ':' + the table in its WHEN clause after each row it watches changes.
//    Inside an explicit transaction on the connection's main file it answers
//    1 when the hook recorded the table's last change (the trigger stays
//    silent) and marks the transaction as needing a capture; 0 otherwise, so
//    a row the hook did not record, for whatever reason, is the trigger's. The hook records from the moment the connection
//    opens a file in session mode; on a connection opened before that, the
//    first time the function is asked it starts recording and answers 0, so
//    that row goes to the changelog through the trigger and the hook records
//    the rest. Autocommit writes and other files get 0: the trigger records
//    the key.
//  - slipway_capture() writes the transaction's patchset into
//    _slipway_changelog (tid 0, the changeset in k1) inside the app's
//    transaction; the changeset commits, or rolls back, with the writes it
//    records.
//  - A commit hook refuses (rolls back) a COMMIT whose transaction changed a
//    replicated table after its last slipway_capture().
//  - The statement that writes the changelog is prepared once per
//    connection. An eponymous virtual table, slipway_capture_state, is
//    connected when the extension is registered: SQLite disconnects virtual
//    tables first when a connection closes, before it looks for unfinalized
//    statements, so its xDisconnect finalizes that statement and a plain
//    sqlite3_close() still succeeds.
//
// The preupdate hook is not in SQLite's extension API table, so this library
// links the system's libsqlite3 and refuses to load into a process whose
// connection comes from another copy of SQLite.

#define SQLITE_CORE 1
#include "replicator/capture_extension/slipway_capture.h"

#include <sqlite3ext.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

constexpr size_t kTokenLength = sizeof(SLIPWAY_CAPTURE_TOKEN) - 1;

// A table as its changeset records describe it.
struct Table {
  std::string name;
  bool read = false;        // columns read since the last schema check
  bool recordable = false;  // a declared primary key and no generated column
  int ncol = 0;
  std::vector<unsigned char> pk;  // per column: its place in the primary key, 0 if none
  std::vector<bool> real;         // per column: REAL affinity (integral values stored as integers)
  bool rowid_key = false;         // the key is the rowid (an INTEGER PRIMARY KEY column)
  std::string records;            // this transaction's records, not yet captured
  bool touched = false;           // in Conn::touched
  // Whether the hook recorded the table's last change, for the transaction
  // Conn::transaction counts (a flag of an earlier one says nothing).
  uint64_t last_change_in = 0;
  bool last_change_recorded = false;
};

struct Conn {
  sqlite3* db = nullptr;
  bool armed = false;          // the main file is in session mode: the hook records
  bool needs_capture = false;  // a session-mode trigger left a row to the hook since the last capture
  bool asked = false;          // a session-mode trigger asked in this transaction
  bool recorded = false;       // the hook recorded a row in this transaction
  int error = SQLITE_OK;       // a row the hook could not record in this transaction
  std::string migration_id;    // of the main file, as last read
  uint64_t transaction = 1;    // counts the connection's transactions
  std::unordered_map<std::string, Table> tables;
  Table* last = nullptr;  // the table of the last change, looked up again by name only when it differs
  std::vector<Table*> touched;
  std::string changeset;           // the buffer slipway_capture() writes from
  sqlite3_stmt* insert = nullptr;  // INSERT INTO main._slipway_changelog, prepared once
  int prepared_again = 0;          // times SQLite prepared it again for a changed schema
  bool closing = false;            // slipway_capture_state was disconnected: prepare per call
  bool utf8 = false;               // the main file's text encoding is UTF-8
};

// --- changeset encoding (the session extension's format) ---

void PutVarint(std::string& out, uint64_t v) {
  unsigned char buf[10];
  if (v & (static_cast<uint64_t>(0xff000000) << 32)) {
    unsigned char p[9];
    p[8] = static_cast<unsigned char>(v);
    v >>= 8;
    for (int i = 7; i >= 0; --i) {
      p[i] = static_cast<unsigned char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out.append(reinterpret_cast<const char*>(p), 9);
    return;
  }
  int n = 0;
  do {
    buf[n++] = static_cast<unsigned char>((v & 0x7f) | 0x80);
    v >>= 7;
  } while (v != 0);
  buf[0] &= 0x7f;
  for (int j = n - 1; j >= 0; --j) out.push_back(static_cast<char>(buf[j]));
}

void PutBigEndian64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i, v >>= 8) b[i] = static_cast<char>(v & 0xff);
  out.append(b, 8);
}

void PutReal(std::string& out, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  out.push_back(SQLITE_FLOAT);
  PutBigEndian64(out, bits);
}

// A column of REAL affinity reads back as a REAL what the record stores as
// an integer: written as the session writes it (it reads the row back).
void PutValue(std::string& out, sqlite3_value* v, bool utf8, bool real) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      if (real) {
        PutReal(out, static_cast<double>(sqlite3_value_int64(v)));
        return;
      }
      out.push_back(SQLITE_INTEGER);
      PutBigEndian64(out, static_cast<uint64_t>(sqlite3_value_int64(v)));
      return;
    case SQLITE_FLOAT:
      PutReal(out, sqlite3_value_double(v));
      return;
    case SQLITE_TEXT: {
      // A text value read from a record is not NUL-terminated:
      // sqlite3_value_text() would copy it to add one. In a UTF-8 file its
      // bytes are the UTF-8 text already.
      const void* text = utf8 ? sqlite3_value_blob(v) : sqlite3_value_text(v);
      const int n = sqlite3_value_bytes(v);
      out.push_back(SQLITE_TEXT);
      PutVarint(out, static_cast<uint64_t>(n));
      if (n > 0) out.append(static_cast<const char*>(text), static_cast<size_t>(n));
      return;
    }
    case SQLITE_BLOB: {
      const void* blob = sqlite3_value_blob(v);
      const int n = sqlite3_value_bytes(v);
      out.push_back(SQLITE_BLOB);
      PutVarint(out, static_cast<uint64_t>(n));
      if (n > 0) out.append(static_cast<const char*>(blob), static_cast<size_t>(n));
      return;
    }
    default:
      out.push_back(SQLITE_NULL);
  }
}

// The same value, as the session compares an old key with a new one.
bool SameValue(sqlite3_value* a, sqlite3_value* b) {
  const int type = sqlite3_value_type(a);
  if (type != sqlite3_value_type(b)) return false;
  switch (type) {
    case SQLITE_INTEGER:
      return sqlite3_value_int64(a) == sqlite3_value_int64(b);
    case SQLITE_FLOAT: {
      const double x = sqlite3_value_double(a), y = sqlite3_value_double(b);
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
      const void* x = type == SQLITE_TEXT ? static_cast<const void*>(sqlite3_value_text(a)) : sqlite3_value_blob(a);
      const void* y = type == SQLITE_TEXT ? static_cast<const void*>(sqlite3_value_text(b)) : sqlite3_value_blob(b);
      const int n = sqlite3_value_bytes(a);
      return n == sqlite3_value_bytes(b) && (n == 0 || std::memcmp(x, y, static_cast<size_t>(n)) == 0);
    }
    default:
      return true;
  }
}

// --- tables ---

int ReadTable(Conn* c, Table* t) {
  t->read = true;
  t->recordable = false;
  t->rowid_key = false;
  t->ncol = 0;
  t->pk.clear();
  t->real.clear();
  sqlite3_stmt* st = nullptr;
  // REAL affinity, by SQLite's rules for a declared type.
  int rc = sqlite3_prepare_v2(c->db,
                              "SELECT pk, hidden, CASE WHEN upper(type) GLOB '*INT*' OR upper(type) GLOB '*CHAR*' OR "
                              "upper(type) GLOB '*CLOB*' OR upper(type) GLOB '*TEXT*' OR upper(type) GLOB '*BLOB*' "
                              "THEN 0 ELSE upper(type) GLOB '*REAL*' OR upper(type) GLOB '*FLOA*' OR "
                              "upper(type) GLOB '*DOUB*' END FROM pragma_table_xinfo(?1, 'main') ORDER BY cid",
                              -1, &st, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(st);
    return rc;
  }
  sqlite3_bind_text(st, 1, t->name.c_str(), -1, SQLITE_STATIC);
  bool generated = false, keyed = false;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const int pk = sqlite3_column_int(st, 0);
    generated = generated || sqlite3_column_int(st, 1) != 0;
    keyed = keyed || pk > 0;
    t->pk.push_back(static_cast<unsigned char>(pk));
    t->real.push_back(sqlite3_column_int(st, 2) != 0);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return rc;
  t->ncol = static_cast<int>(t->pk.size());
  // An INTEGER PRIMARY KEY is the rowid, the preupdate hook's keys: the only
  // single-column key without an index of its own.
  int keys = 0;
  for (unsigned char k : t->pk) keys += k != 0 ? 1 : 0;
  if (keys == 1) {
    rc = sqlite3_prepare_v2(c->db, "SELECT count(*) FROM pragma_index_list(?1, 'main') WHERE origin = 'pk'", -1, &st,
                            nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(st);
      return rc;
    }
    sqlite3_bind_text(st, 1, t->name.c_str(), -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    t->rowid_key = rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
  }
  // SQLite 3.40's session cannot record a table with generated columns or
  // without a declared primary key: those are the triggers' (capture.cc
  // installs their triggers without the session test).
  t->recordable = keyed && !generated;
  return SQLITE_OK;
}

Table* FindTable(Conn* c, const char* name) {
  if (c->last != nullptr && c->last->name == name) return c->last;
  auto it = c->tables.find(name);
  if (it == c->tables.end()) {
    it = c->tables.emplace(name, Table{}).first;
    it->second.name = name;
  }
  c->last = &it->second;
  return c->last;
}

bool SameFileAsMain(Conn* c, const char* schema) {
  const char* file = sqlite3_db_filename(c->db, schema);
  const char* main = sqlite3_db_filename(c->db, "main");
  return file != nullptr && main != nullptr && file[0] != '\0' && std::strcmp(file, main) == 0;
}

// --- recording ---

// The new row, every column.
void PutRow(std::string& out, sqlite3* db, const Table& t, bool utf8, int* rc) {
  for (int i = 0; i < t.ncol; ++i) {
    sqlite3_value* v = nullptr;
    const int r = sqlite3_preupdate_new(db, i, &v);
    if (r != SQLITE_OK || v == nullptr) {
      *rc = r != SQLITE_OK ? r : SQLITE_ERROR;
      return;
    }
    PutValue(out, v, utf8, t.real[i]);
  }
}

// The key of the row before (old) or after the change: false when a key
// column is NULL (the trigger records such a row: the session skips it).
bool KeyIsSet(sqlite3* db, const Table& t, bool old_values) {
  for (int i = 0; i < t.ncol; ++i) {
    if (t.pk[i] == 0) continue;
    sqlite3_value* v = nullptr;
    const int r = old_values ? sqlite3_preupdate_old(db, i, &v) : sqlite3_preupdate_new(db, i, &v);
    if (r != SQLITE_OK || v == nullptr || sqlite3_value_type(v) == SQLITE_NULL) return false;
  }
  return true;
}

// A patchset's DELETE: the key's fields only.
void PutKey(std::string& out, sqlite3* db, const Table& t, bool utf8, sqlite3_int64 rowid, int* rc) {
  if (t.rowid_key) {
    out.push_back(SQLITE_INTEGER);
    PutBigEndian64(out, static_cast<uint64_t>(rowid));
    return;
  }
  for (int i = 0; i < t.ncol; ++i) {
    if (t.pk[i] == 0) continue;
    sqlite3_value* v = nullptr;
    const int r = sqlite3_preupdate_old(db, i, &v);
    if (r != SQLITE_OK || v == nullptr) {
      *rc = r != SQLITE_OK ? r : SQLITE_ERROR;
      return;
    }
    PutValue(out, v, utf8, t.real[i]);
  }
}

// Whether the change moved the row to another key.
int KeyChanged(sqlite3* db, const Table& t, sqlite3_int64 key1, sqlite3_int64 key2, bool* changed) {
  if (t.rowid_key) {
    *changed = key1 != key2;
    return SQLITE_OK;
  }
  *changed = false;
  for (int i = 0; i < t.ncol && !*changed; ++i) {
    if (t.pk[i] == 0) continue;
    sqlite3_value *o = nullptr, *n = nullptr;
    if (sqlite3_preupdate_old(db, i, &o) != SQLITE_OK || sqlite3_preupdate_new(db, i, &n) != SQLITE_OK) {
      return SQLITE_ERROR;
    }
    *changed = !SameValue(o, n);
  }
  return SQLITE_OK;
}

// One row change as patchset records: an INSERT with the new row, a DELETE
// with the old key, an UPDATE with the key and every column's new value (so
// applying it sets the row the change left, whichever columns it changed).
// A change of the key is a DELETE and an INSERT, as the session writes it.
int RecordChange(Conn* c, Table* t, int op, sqlite3_int64 key1, sqlite3_int64 key2) {
  sqlite3* db = c->db;
  const bool old_key = op != SQLITE_INSERT, new_key = op != SQLITE_DELETE;
  if (!t->rowid_key && ((old_key && !KeyIsSet(db, *t, true)) || (new_key && !KeyIsSet(db, *t, false)))) {
    return SQLITE_OK;
  }
  const char indirect = sqlite3_preupdate_depth(db) > 0 ? 1 : 0;
  std::string& out = t->records;
  const size_t mark = out.size();
  int rc = SQLITE_OK;
  bool moved = false;
  if (op == SQLITE_UPDATE) rc = KeyChanged(db, *t, key1, key2, &moved);
  if (rc == SQLITE_OK && (op == SQLITE_DELETE || moved)) {
    out.push_back(SQLITE_DELETE);
    out.push_back(indirect);
    PutKey(out, db, *t, c->utf8, key1, &rc);
  }
  if (rc == SQLITE_OK && op != SQLITE_DELETE) {
    out.push_back(op == SQLITE_INSERT || moved ? SQLITE_INSERT : SQLITE_UPDATE);
    out.push_back(indirect);
    PutRow(out, db, *t, c->utf8, &rc);
  }
  if (rc != SQLITE_OK) {
    out.resize(mark);
    return rc;
  }
  if (!t->touched) {
    t->touched = true;
    c->touched.push_back(t);
  }
  c->recorded = true;
  t->last_change_recorded = true;
  return SQLITE_OK;
}

void PreUpdate(void* arg, sqlite3* db, int op, const char* schema, const char* name, sqlite3_int64 key1,
               sqlite3_int64 key2) {
  Conn* c = static_cast<Conn*>(arg);
  if (!c->armed || sqlite3_get_autocommit(db)) return;
  if (std::strncmp(name, "_slipway_", 9) == 0 || std::strncmp(name, "sqlite_", 7) == 0) return;
  // The main file, also when it is ATTACHed again under another name: its
  // session-mode triggers answer by migration id.
  if (std::strcmp(schema, "main") != 0 && !SameFileAsMain(c, schema)) return;
  Table* t = FindTable(c, name);
  t->last_change_in = c->transaction;
  t->last_change_recorded = false;
  int rc = SQLITE_OK;
  if (!t->read) rc = ReadTable(c, t);
  if (rc == SQLITE_OK && t->recordable && t->ncol != sqlite3_preupdate_count(db)) {
    // A column added or dropped. Records of this transaction made before
    // have the old columns, which one table header cannot describe with
    // the new: the transaction cannot be captured (and so not committed).
    const bool pending = !t->records.empty();
    rc = ReadTable(c, t);
    if (rc == SQLITE_OK && (pending || (t->recordable && t->ncol != sqlite3_preupdate_count(db)))) rc = SQLITE_SCHEMA;
  }
  if (rc == SQLITE_OK && t->recordable) rc = RecordChange(c, t, op, key1, key2);
  if (rc != SQLITE_OK && c->error == SQLITE_OK) c->error = rc;
}

// The records written, or given up: nothing is left to capture.
void ClearRecords(Conn* c) {
  for (Table* t : c->touched) {
    t->records.clear();
    t->touched = false;
  }
  c->touched.clear();
  c->needs_capture = false;
}

void ForgetTransaction(Conn* c) {
  ClearRecords(c);
  c->asked = false;
  c->recorded = false;
  c->error = SQLITE_OK;
  ++c->transaction;
}

// --- the connection's hooks ---

int CommitHook(void* arg);
void RollbackHook(void* arg);

// Another preupdate, commit or rollback hook set on the connection after the
// extension's would make the hook miss rows the triggers leave to it: take
// the hooks back (the one who replaced them loses them) and say so.
bool HooksInPlace(Conn* c) {
  const bool pre = sqlite3_preupdate_hook(c->db, PreUpdate, c) == c;
  const bool commit = sqlite3_commit_hook(c->db, CommitHook, c) == c;
  const bool rollback = sqlite3_rollback_hook(c->db, RollbackHook, c) == c;
  return pre && commit && rollback;
}

bool MainFileIs(Conn* c, std::string_view id) {
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

// 1 when the hook has recorded this write, 0 when the trigger must. `arg`
// is the trigger's "<migration id>:<table>" (after a change: 1 only when the
// hook recorded the table's last change in this transaction; a table the
// hook skipped, with what it knew of its columns, is read again) or
// "<migration id>/<table>" (before a change, about the row a REPLACE would
// delete, which the hook records as a delete).
int HookRecords(Conn* c, const char* arg) {
  if (sqlite3_get_autocommit(c->db)) return 0;
  // The migration id is hex: the first ':' or '/' ends it.
  const char* sep = std::strpbrk(arg, ":/");
  if (sep == nullptr) return 0;  // a token without the table: the trigger records
  if (!MainFileIs(c, std::string_view(arg, static_cast<size_t>(sep - arg)))) return 0;
  c->asked = true;
  // Asked at every row: the hooks could have been taken since the last
  // (the commit hook too, and with it the end of the transaction).
  if (!HooksInPlace(c)) return 0;  // this row was not recorded; the rest will be
  if (!c->armed) {
    c->armed = true;
    return 0;
  }
  Table* t = FindTable(c, sep + 1);
  if (*sep == '/') {
    // Before a change: the hook will record it, and the delete of a row a
    // REPLACE displaces, if it records the table (as far as it knows now;
    // a table it has not read yet is read at its first change).
    if (!t->read || !t->recordable) return 0;
    c->needs_capture = true;
    return 1;
  }
  if (t->last_change_in != c->transaction || !t->last_change_recorded) {
    if (t->last_change_in == c->transaction) t->read = false;
    return 0;
  }
  c->needs_capture = true;
  return 1;
}

void CompileOptionUsed(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const char* name = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  if (name == nullptr) return;  // NULL, as SQLite's own function answers
  if (std::strncmp(name, SLIPWAY_CAPTURE_TOKEN, kTokenLength) == 0) {
    sqlite3_result_int(ctx, HookRecords(static_cast<Conn*>(sqlite3_user_data(ctx)), name + kTokenLength));
    return;
  }
  sqlite3_result_int(ctx, sqlite3_compileoption_used(name));
}

int WriteChangeset(Conn* c) {
  std::string& cs = c->changeset;
  cs.clear();
  for (Table* t : c->touched) {
    if (t->records.empty()) continue;
    cs.push_back('P');
    PutVarint(cs, static_cast<uint64_t>(t->ncol));
    cs.append(reinterpret_cast<const char*>(t->pk.data()), t->pk.size());
    cs.append(t->name.c_str(), t->name.size() + 1);
    cs += t->records;
  }
  if (cs.empty()) return SQLITE_DONE;
  sqlite3_stmt* st = c->insert;
  int rc = SQLITE_OK;
  if (st == nullptr) {
    rc = sqlite3_prepare_v3(c->db, "INSERT INTO main._slipway_changelog (tid, k1) VALUES (0, ?1)", -1,
                            c->closing ? 0 : SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(st);
      return rc;
    }
    if (!c->closing) c->insert = st;
  }
  sqlite3_bind_blob(st, 1, cs.data(), static_cast<int>(cs.size()), SQLITE_STATIC);
  rc = sqlite3_step(st);
  rc = rc == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->db);
  // The schema changed since the statement was prepared: the tables' columns
  // are read again from the next transaction on. (A column added or dropped
  // is seen at once, by its count.)
  const int again = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_REPREPARE, 0);
  if (again != c->prepared_again) {
    c->prepared_again = again;
    for (auto& [name, t] : c->tables) t.read = false;
  }
  sqlite3_reset(st);
  if (st != c->insert) sqlite3_finalize(st);
  return rc;
}

void Capture(sqlite3_context* ctx, int, sqlite3_value**) {
  Conn* c = static_cast<Conn*>(sqlite3_user_data(ctx));
  if (!c->needs_capture) {
    sqlite3_result_int(ctx, 0);
    return;
  }
  if (c->error != SQLITE_OK) {
    // Not cleared: the COMMIT is refused too.
    sqlite3_result_error(ctx, "slipway_capture: a change of this transaction could not be recorded", -1);
    sqlite3_result_error_code(ctx, c->error);
    return;
  }
  const int rc = WriteChangeset(c);
  if (rc != SQLITE_OK && rc != SQLITE_DONE) {
    std::string msg = std::string("slipway_capture: could not write the changeset: ") + sqlite3_errmsg(c->db);
    sqlite3_result_error(ctx, msg.c_str(), -1);
    sqlite3_result_error_code(ctx, rc);
    return;
  }
  ClearRecords(c);
  sqlite3_result_int(ctx, rc == SQLITE_OK ? 1 : 0);
}

// After a transaction ends. The hook stops recording when a transaction's
// recorded rows were asked about by no trigger: the file has left session
// mode (the next session-mode trigger starts it again).
void EndTransaction(Conn* c) {
  if (c->recorded && !c->asked) c->armed = false;
  ForgetTransaction(c);
}

int CommitHook(void* arg) {
  Conn* c = static_cast<Conn*>(arg);
  if (c->needs_capture) return 1;  // uncaptured changes: the COMMIT becomes a ROLLBACK
  EndTransaction(c);
  return 0;
}

void RollbackHook(void* arg) { EndTransaction(static_cast<Conn*>(arg)); }

// --- slipway_capture_state: one row, what the connection's capture holds ---

struct StateTab {
  sqlite3_vtab base;
  Conn* conn;
};

struct StateCursor {
  sqlite3_vtab_cursor base;
  bool eof;
};

int StateConnect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char**) {
  const int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(armed INTEGER, pending_tables INTEGER)");
  if (rc != SQLITE_OK) return rc;
  auto* tab = static_cast<StateTab*>(sqlite3_malloc(sizeof(StateTab)));
  if (tab == nullptr) return SQLITE_NOMEM;
  std::memset(tab, 0, sizeof *tab);
  tab->conn = static_cast<Conn*>(aux);
  *out = &tab->base;
  return SQLITE_OK;
}

int StateDisconnect(sqlite3_vtab* vtab) {
  auto* tab = reinterpret_cast<StateTab*>(vtab);
  Conn* c = tab->conn;
  c->closing = true;
  sqlite3_finalize(c->insert);
  c->insert = nullptr;
  sqlite3_free(tab);
  return SQLITE_OK;
}

int StateBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  info->estimatedCost = 1;
  info->estimatedRows = 1;
  return SQLITE_OK;
}

int StateOpen(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  auto* cur = static_cast<StateCursor*>(sqlite3_malloc(sizeof(StateCursor)));
  if (cur == nullptr) return SQLITE_NOMEM;
  std::memset(cur, 0, sizeof *cur);
  *out = &cur->base;
  return SQLITE_OK;
}

int StateClose(sqlite3_vtab_cursor* cur) {
  sqlite3_free(cur);
  return SQLITE_OK;
}

int StateFilter(sqlite3_vtab_cursor* cur, int, const char*, int, sqlite3_value**) {
  reinterpret_cast<StateCursor*>(cur)->eof = false;
  return SQLITE_OK;
}

int StateNext(sqlite3_vtab_cursor* cur) {
  reinterpret_cast<StateCursor*>(cur)->eof = true;
  return SQLITE_OK;
}

int StateEof(sqlite3_vtab_cursor* cur) { return reinterpret_cast<StateCursor*>(cur)->eof ? 1 : 0; }

int StateColumn(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
  Conn* c = reinterpret_cast<StateTab*>(cur->pVtab)->conn;
  if (col == 0) {
    sqlite3_result_int(ctx, c->armed ? 1 : 0);
  } else {
    int64_t n = 0;
    for (const Table* t : c->touched) n += t->records.empty() ? 0 : 1;
    sqlite3_result_int64(ctx, c->needs_capture ? n : 0);
  }
  return SQLITE_OK;
}

int StateRowid(sqlite3_vtab_cursor*, sqlite3_int64* rowid) {
  *rowid = 1;
  return SQLITE_OK;
}

sqlite3_module StateModule() {
  sqlite3_module m;
  std::memset(&m, 0, sizeof m);
  m.iVersion = 1;
  m.xCreate = nullptr;  // eponymous only
  m.xConnect = StateConnect;
  m.xBestIndex = StateBestIndex;
  m.xDisconnect = StateDisconnect;
  m.xDestroy = StateDisconnect;
  m.xOpen = StateOpen;
  m.xClose = StateClose;
  m.xFilter = StateFilter;
  m.xNext = StateNext;
  m.xEof = StateEof;
  m.xColumn = StateColumn;
  m.xRowid = StateRowid;
  return m;
}

const sqlite3_module kStateModule = StateModule();

void DestroyConn(void* arg) {
  Conn* c = static_cast<Conn*>(arg);
  sqlite3_finalize(c->insert);
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
  rc = sqlite3_create_module_v2(db, "slipway_capture_state", &kStateModule, c, nullptr);
  if (rc != SQLITE_OK) return rc;
  sqlite3_stmt* st = nullptr;
  // Connects the eponymous table, whose disconnection at close finalizes the
  // changelog statement; without it that statement is prepared per call.
  if (sqlite3_prepare_v2(db, "SELECT armed FROM slipway_capture_state", -1, &st, nullptr) != SQLITE_OK) c->closing = true;
  sqlite3_finalize(st);
  st = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA main.encoding", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char* enc = sqlite3_column_text(st, 0);
    c->utf8 = enc != nullptr && std::strcmp(reinterpret_cast<const char*>(enc), "UTF-8") == 0;
  }
  sqlite3_finalize(st);
  st = nullptr;
  sqlite3_preupdate_hook(db, PreUpdate, c);
  sqlite3_commit_hook(db, CommitHook, c);
  sqlite3_rollback_hook(db, RollbackHook, c);
  // A file already in session mode: record from the first write on. (A
  // query that cannot fail on a file without slipway's tables: a failed
  // one would leave its error on the app's connection.)
  if (sqlite3_prepare_v2(db,
                         "SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = '_slipway_meta'",
                         -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    sqlite3_finalize(st);
    st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT value = 'session' FROM main._slipway_meta WHERE key = 'capture'", -1, &st,
                           nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1) {
      c->armed = true;
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
