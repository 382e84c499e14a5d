-- slipway's objects inside the app's SQLite file. Created in one write
-- transaction together with the capture triggers.

-- One row per setting: migration_id ties this file to one target; history
-- (and history_prev) to the target's current history token
-- (replicator/source_history.h).
CREATE TABLE IF NOT EXISTS _slipway_meta (
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;

-- Replicated tables, numbered; the number is what the changelog records.
CREATE TABLE IF NOT EXISTS _slipway_tables (
  tid  INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);

-- One row per touched key, written by the capture triggers inside the app's
-- own transaction, so it commits (or rolls back) with the app's write. seq is
-- commit order (SQLite has one writer at a time); it is never reused because
-- the newest row is never pruned. k1..k4 hold the key values in key order (the
-- rowid for tables keyed by rowid); the applier reads the row's current state.
-- ts is the commit's julian day, for lag.
CREATE TABLE IF NOT EXISTS _slipway_changelog (
  seq INTEGER PRIMARY KEY,
  tid INTEGER NOT NULL,
  k1, k2, k3, k4,
  ts REAL NOT NULL DEFAULT (julianday('now'))
);
