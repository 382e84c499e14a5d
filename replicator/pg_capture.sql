-- Reverse capture: after the cutover every change the app (or psql, or an
-- ORM's migration) makes to a replicated table in PostgreSQL is recorded
-- here, by statement triggers, inside the writer's own transaction.
-- txid is the writing transaction (pg_current_xact_id()): the reverse stream
-- reads by transaction-snapshot windows (rows whose transaction is visible in
-- the newer snapshot and not in the older one), never by seq, because
-- sequence values are handed out at insert time, not commit time.
-- The triggers are ordinary (ENABLE ORIGIN): slipway's own sessions run with
-- session_replication_role = replica and are never captured.
CREATE TABLE IF NOT EXISTS slipway.changelog (
  seq  bigserial PRIMARY KEY,
  txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  tid  integer NOT NULL,
  k1 text, k2 text, k3 text, k4 text,
  ts   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS changelog_txid ON slipway.changelog (txid);

-- TRUNCATE fires no row trigger and cannot be captured key by key: refused.
CREATE OR REPLACE FUNCTION slipway.refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'slipway: TRUNCATE of %.% cannot be carried back to SQLite', TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'feature_not_supported',
          HINT = 'use DELETE, which slipway captures, while the move can still be rolled back';
END
$$;
