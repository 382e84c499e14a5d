/* slipway session capture: a SQLite extension that records each write
 * transaction of the app's connection as one changeset in slipway's changelog,
 * inside that transaction.
 *
 * Load it into every connection that writes the replicated file:
 *   - as a loadable extension: libslipway_capture.so (entry point
 *     sqlite3_slipwaycapture_init), from any driver that uses the system's
 *     libsqlite3;
 *   - from C/C++ that links libsqlite3: link libslipway_capture.so and call
 *     slipway_capture_register() once before opening connections.
 *
 * In each explicit transaction call `SELECT slipway_capture()` (or
 * slipway_commit() from C) just before COMMIT. Writes outside an explicit
 * transaction (autocommit) need nothing: they are recorded by slipway's
 * triggers. A COMMIT of a transaction that changed a replicated table after
 * its last slipway_capture() fails with SQLITE_CONSTRAINT_COMMITHOOK and the
 * transaction rolls back: a write is refused, never lost.
 */
#ifndef SLIPWAY_CAPTURE_H
#define SLIPWAY_CAPTURE_H

#include <sqlite3.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the capture triggers of a session-mode file pass to
 * sqlite_compileoption_used(), followed by the file's migration id, ':' and
 * the table's name. On a connection with the extension loaded, the function
 * answers 1 for the connection's main file inside an explicit transaction
 * when the extension recorded the table's last change (the trigger stays
 * silent); everywhere else it is SQLite's own function, which answers 0, and
 * the trigger records the key. */
#define SLIPWAY_CAPTURE_TOKEN "slipway-session:"

#define SLIPWAY_CAPTURE_API __attribute__((visibility("default")))

/* The loadable extension's entry point. */
SLIPWAY_CAPTURE_API int sqlite3_slipwaycapture_init(sqlite3* db, char** err, const struct sqlite3_api_routines* api);

/* Loads the extension into every connection opened after the call
 * (sqlite3_auto_extension). Returns an SQLite result code. */
SLIPWAY_CAPTURE_API int slipway_capture_register(void);

/* Loads the extension into one open connection. */
SLIPWAY_CAPTURE_API int slipway_capture_attach(sqlite3* db);

/* SELECT slipway_capture(); COMMIT — in one call. */
SLIPWAY_CAPTURE_API int slipway_commit(sqlite3* db);

#ifdef __cplusplus
}
#endif

#endif
