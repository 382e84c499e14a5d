#pragma once
// The race-timing benchmark schema: the single copy of its DDL, used by
// gen_racetiming (which also prints it with --print-schema) and described for
// app_writer. It is shaped to exercise what a SQLite -> PostgreSQL move has to
// get right: AUTOINCREMENT ids (sqlite_sequence), foreign keys, JSON held in
// TEXT, ISO dates and timestamps in TEXT, 0/1 values declared BOOLEAN, REAL
// times with fractions, UNIQUE constraints and secondary indexes.

#include <cstdint>

namespace slipway::bench {

// Tables first; the generator creates kRaceTimingIndexes after loading (a
// sorted index build is faster and packs pages like a long-lived database).
inline constexpr const char* kRaceTimingTables =
    R"sql(-- Race-timing benchmark schema (slipway bench/racetiming_schema.h).
CREATE TABLE events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  name        TEXT NOT NULL,
  city        TEXT NOT NULL,
  country     TEXT NOT NULL,
  event_date  TEXT NOT NULL,                     -- 'YYYY-MM-DD'
  status      TEXT NOT NULL DEFAULT 'scheduled', -- scheduled|open|closed|finished|cancelled
  settings    TEXT NOT NULL DEFAULT '{}',        -- JSON object
  created_at  TEXT NOT NULL,                     -- 'YYYY-MM-DD HH:MM:SS' UTC
  updated_at  TEXT NOT NULL
);

CREATE TABLE races (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id         INTEGER NOT NULL REFERENCES events(id),
  name             TEXT NOT NULL,
  distance_m       INTEGER NOT NULL,
  start_time       TEXT NOT NULL,                -- 'YYYY-MM-DD HH:MM:SS' local
  max_participants INTEGER,
  is_chip_timed    BOOLEAN NOT NULL DEFAULT 1,
  status           TEXT NOT NULL DEFAULT 'scheduled',
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);

CREATE TABLE participants (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  first_name  TEXT NOT NULL,
  last_name   TEXT NOT NULL,
  email       TEXT NOT NULL UNIQUE,
  birth_date  TEXT,                              -- 'YYYY-MM-DD'
  gender      TEXT,                              -- F|M|X
  club        TEXT,
  city        TEXT,
  is_member   BOOLEAN NOT NULL DEFAULT 0,
  metadata    TEXT,                              -- JSON object
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);

CREATE TABLE results (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  race_id         INTEGER NOT NULL REFERENCES races(id),
  participant_id  INTEGER NOT NULL REFERENCES participants(id),
  bib             INTEGER NOT NULL,
  status          TEXT NOT NULL DEFAULT 'registered', -- registered|finished|dnf|dns|dq
  finish_seconds  REAL,                          -- NULL until finished
  laps            INTEGER NOT NULL DEFAULT 0,    -- counter: bumped by app_writer updates
  dnf             BOOLEAN NOT NULL DEFAULT 0,
  splits          TEXT NOT NULL DEFAULT '[]',    -- JSON array of split times (seconds)
  notes           TEXT,
  created_at      TEXT NOT NULL,                 -- registered, or recorded at the finish
  updated_at      TEXT,                          -- NULL until the row is first changed
  UNIQUE (race_id, bib)
);
)sql";

inline constexpr const char* kRaceTimingIndexes = R"sql(
CREATE INDEX results_race_finish ON results (race_id, finish_seconds);
CREATE INDEX results_participant ON results (participant_id);
)sql";

// Row-count proportions events : races : participants : results, taken from a
// real deployment (1M rows ~ 1.3k events, 2.8k races, 237k participants, 760k
// results).
inline constexpr int64_t kEventsShare = 13;
inline constexpr int64_t kRacesShare = 28;
inline constexpr int64_t kParticipantsShare = 2382;
inline constexpr int64_t kResultsShare = 7645;

}  // namespace slipway::bench
