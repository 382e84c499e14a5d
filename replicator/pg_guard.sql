-- Refuses writes to a replicated table from anyone but slipway (slipway's
-- sessions run with session_replication_role = replica, which skips this
-- trigger) until the cutover lifts it.
CREATE OR REPLACE FUNCTION slipway.guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'slipway: %.% refuses writes: the app''s database is SQLite (before the cutover, or after a rollback); reconnect with the current configuration and retry',
    TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'read_only_sql_transaction',
          HINT = 'the app writes to SQLite; it moves here at `slipway cutover`';
END
$$;
