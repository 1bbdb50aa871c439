-- The edge's schema: one file for SQLite (Node) and D1 (Workers); both run SQLite's dialect.
-- Times are milliseconds since the epoch. Feature values are JSON text.

-- Pushed feature values, one row per (entity, id, feature); the newest event_ts wins.
CREATE TABLE IF NOT EXISTS features (
  entity     TEXT    NOT NULL,
  entity_id  TEXT    NOT NULL,
  name       TEXT    NOT NULL,
  value      TEXT    NOT NULL,
  event_ts   INTEGER NOT NULL,
  written_at INTEGER NOT NULL,
  PRIMARY KEY (entity, entity_id, name)
) WITHOUT ROWID;

-- Interaction events; event_id is the idempotency key. batch_id marks the request that inserted
-- a row, so the real-time updates of that request touch exactly the events it inserted.
CREATE TABLE IF NOT EXISTS events (
  event_id    TEXT    NOT NULL PRIMARY KEY,
  batch_id    TEXT    NOT NULL,
  user_id     TEXT    NOT NULL,
  item_id     TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  value       REAL,
  ts          INTEGER NOT NULL,
  context     TEXT    NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_batch ON events (batch_id);
CREATE INDEX IF NOT EXISTS events_user_ts ON events (user_id, ts);

-- The last N interactions per user (trimmed on every batch).
CREATE TABLE IF NOT EXISTS user_history (
  user_id  TEXT    NOT NULL,
  ts       INTEGER NOT NULL,
  event_id TEXT    NOT NULL,
  item_id  TEXT    NOT NULL,
  type     TEXT    NOT NULL,
  PRIMARY KEY (user_id, ts, event_id)
) WITHOUT ROWID;

-- Time-decayed counters: value is as of updated_at and decays with the kind's half-life.
-- kind 'item_popularity' (entity item, key = event type), 'user_category' (entity user, key = category).
CREATE TABLE IF NOT EXISTS counters (
  kind       TEXT    NOT NULL,
  entity_id  TEXT    NOT NULL,
  key        TEXT    NOT NULL,
  value      REAL    NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (kind, entity_id, key)
) WITHOUT ROWID;

-- First/last seen and event count per user and per item.
CREATE TABLE IF NOT EXISTS activity (
  entity     TEXT    NOT NULL,
  entity_id  TEXT    NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL,
  events     INTEGER NOT NULL,
  PRIMARY KEY (entity, entity_id)
) WITHOUT ROWID;

-- Model registry: a version is created by its manifest; its files are uploaded one by one.
CREATE TABLE IF NOT EXISTS model_versions (
  name            TEXT    NOT NULL,
  version         TEXT    NOT NULL,
  manifest_sha256 TEXT    NOT NULL,
  manifest_size   INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  created_by      TEXT    NOT NULL,
  PRIMARY KEY (name, version)
);

CREATE TABLE IF NOT EXISTS model_files (
  name        TEXT    NOT NULL,
  version     TEXT    NOT NULL,
  file        TEXT    NOT NULL,
  size        INTEGER NOT NULL,
  sha256      TEXT    NOT NULL,
  uploaded_at INTEGER,
  PRIMARY KEY (name, version, file)
);

-- Promotions and roll-backs, in order; replaying them gives the promoted version.
CREATE TABLE IF NOT EXISTS model_promotions (
  name    TEXT    NOT NULL,
  seq     INTEGER NOT NULL,
  action  TEXT    NOT NULL,
  version TEXT    NOT NULL,
  at      INTEGER NOT NULL,
  by_sub  TEXT    NOT NULL,
  PRIMARY KEY (name, seq)
);
