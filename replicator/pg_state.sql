-- slipway's state in the target: one place, so any machine that reaches both
-- databases can resume.
CREATE SCHEMA IF NOT EXISTS slipway;

CREATE TABLE IF NOT EXISTS slipway.migration (
  singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  migration_id       text NOT NULL,
  source_path        text NOT NULL,
  source_fingerprint text NOT NULL,
  plan               jsonb NOT NULL,
  phase              text NOT NULL,
  -- Stream position: every changelog row with seq <= applied_seq is in the
  -- target. Advanced in the same transaction as the changes it covers.
  applied_seq        bigint NOT NULL DEFAULT 0,
  applied_at         timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS slipway.tables (
  source_table text PRIMARY KEY,
  target_table text NOT NULL,
  tid          integer NOT NULL UNIQUE,
  -- pending -> copying -> loaded (data, key, indexes) -> done (foreign keys)
  state        text NOT NULL DEFAULT 'pending',
  -- max(changelog seq) read in the same SQLite transaction that began the
  -- copy: changes after it are applied by the stream.
  start_seq    bigint,
  copied_rows  bigint NOT NULL DEFAULT 0,
  -- The last key copied (JSON), so a resumed copy continues after it.
  resume_after jsonb,
  started_at   timestamptz,
  finished_at  timestamptz
);

-- Rowid ranges of a table's copy, planned when the copy starts; each is
-- copied and marked done in one transaction.
CREATE TABLE IF NOT EXISTS slipway.chunks (
  source_table text NOT NULL REFERENCES slipway.tables (source_table),
  chunk_no     integer NOT NULL,
  lo           bigint NOT NULL,
  hi           bigint NOT NULL,
  done         boolean NOT NULL DEFAULT false,
  rows         bigint,
  PRIMARY KEY (source_table, chunk_no)
);

-- The running applier's heartbeat and figures, for `slipway status`.
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS stream_host text;
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS stream_pid integer;
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS stream_heartbeat timestamptz;
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS stream_stats jsonb;
-- Set by `slipway cutover` to ask a running stream to hand over applying.
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS handover_requested boolean NOT NULL DEFAULT false;
-- Cutover: an operator's release of a postponed cutover, and what the app
-- was pointed at.
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS release_requested boolean NOT NULL DEFAULT false;
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS cutover_seq bigint;
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS cutover_at timestamptz;
-- Tables to copy whole in the next apply transaction (after a schema change
-- the stream carried over); cleared in that transaction.
ALTER TABLE slipway.tables ADD COLUMN IF NOT EXISTS resync boolean NOT NULL DEFAULT false;
-- Reverse position, per cutover: the snapshot taken inside the transaction
-- that armed capture (no captured write is visible in it), and a number that
-- tells one cutover's reverse stream from the next.
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS reverse_cycle integer NOT NULL DEFAULT 0;
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS reverse_start text;
-- The source history this target follows (replicator/source_history.h): the
-- same random token as the SQLite file's _slipway_meta 'history', renewed on
-- both sides whenever an applier attaches.
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS history text;
-- What the running cutover or rollback was asked to rewrite (direction, flip
-- file, key, the app URL or only that it is the target URI; never a
-- password), so that a stream can finish it if it dies after its fence.
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS move_options jsonb;
-- The source's schema cookie and schema text hash the target last applied
-- under (replicator/schema_stamp.h): a cookie that moved with the schema text
-- unchanged means a VACUUM may have renumbered rowids.
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS source_schema_version bigint;
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS source_schema_hash text;
-- What the last cutover's check found in the fenced file that PostgreSQL
-- does not hold and no trigger captured (cutover/uncaptured_check.h): the
-- tables compared, the differing keys, shown by `slipway status`.
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS uncaptured_check jsonb;
-- The last cutover or rollback that finished: when, its freeze and the
-- freeze's steps with their timings, shown by the stream's status page.
ALTER TABLE slipway.migration ADD COLUMN IF NOT EXISTS last_move jsonb;
-- The stream's background verifier (cutover/continuous_verifier.h), per
-- table: where the pass under way has got to and what the last complete
-- pass proved. A chunk is read at min(source changelog head, target
-- position): each key it compared is equal there, or changed after it.
CREATE TABLE IF NOT EXISTS slipway.verify_progress (
  source_table      text PRIMARY KEY,
  pass              bigint NOT NULL DEFAULT 1,
  -- 'rows': SQLite's rows in its key order; 'extras': PostgreSQL's keys in
  -- its own order, for keys SQLite does not hold (tables not keyed by one integer).
  walk              text NOT NULL DEFAULT 'rows',
  after_key         jsonb,              -- the walk's last key (NULL: from the start)
  after_text        text,
  pass_started_at   timestamptz,
  pass_from         bigint,             -- min over this pass's chunks of the position they were read at
  pass_rows         bigint NOT NULL DEFAULT 0,
  pass_stamp        text,               -- migration stamp (plan, schema, cutover cycle) at the pass's start
  completed_pass    bigint,
  completed_at      timestamptz,
  completed_from    bigint,
  completed_rows    bigint,
  completed_stamp   text,
  completed_seconds double precision,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
-- Keys the background verifier found different and not changed since.
CREATE TABLE IF NOT EXISTS slipway.verify_mismatch (
  source_table text NOT NULL,
  key          jsonb NOT NULL,          -- the key as SQLite holds it (continuous_verifier.h)
  key_text     text NOT NULL,
  what         text NOT NULL,
  found_at     timestamptz NOT NULL DEFAULT now(),
  checked_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source_table, key)
);
-- What a running long step (the snapshot, a verify, the full verify before a
-- cutover's or rollback's freeze) has done: rows done of the total, the rate
-- and the time left, overall and per table, written by the command running
-- it about once a second (replicator/step_progress.h), for `slipway status`.
CREATE TABLE IF NOT EXISTS slipway.step_progress (
  step        text PRIMARY KEY,         -- 'snapshot', 'verify', 'cutover verify', 'rollback verify'
  host        text,
  pid         integer,
  started_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  outcome     text,                     -- NULL while it runs, then 'done' or 'failed'
  figures     jsonb NOT NULL            -- rows_done, rows_total, rate, eta_seconds[, tables]
);
