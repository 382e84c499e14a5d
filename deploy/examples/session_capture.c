/* Session capture from C: a transfer between two accounts, recorded by
 * slipway as one changeset.
 * Build: cc session_capture.c -lslipway_capture -lsqlite3
 * Usage: ./a.out app.db */
#include <slipway_capture.h>
#include <sqlite3.h>

int main(int argc, char** argv) {
  sqlite3* db = 0;
  if (argc < 2 || slipway_capture_register() != SQLITE_OK) return 2; /* every connection opened from now on */
  if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, 0) != SQLITE_OK) return 2;
  sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0);
  sqlite3_exec(db, "UPDATE accounts SET balance = balance - 10 WHERE id = 1", 0, 0, 0);
  sqlite3_exec(db, "UPDATE accounts SET balance = balance + 10 WHERE id = 2", 0, 0, 0);
  int rc = slipway_commit(db); /* SELECT slipway_capture(); COMMIT */
  sqlite3_close(db);
  return rc == SQLITE_OK ? 0 : 1;
}
