-- The event log: every stored event gets a sequence number in the order it was stored, so that
-- consumers (vireo refresh) read events back in order from a cursor (GET /v1/events/export).
-- AUTOINCREMENT: a number is never handed out twice, even after the newest rows are archived.
CREATE TABLE IF NOT EXISTS event_log (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT    NOT NULL UNIQUE
);
-- Events stored before this migration enter the log in the order they arrived.
INSERT OR IGNORE INTO event_log (event_id) SELECT event_id FROM events ORDER BY received_at, ts, event_id;

-- Older events leave the database in batches: one NDJSON object in the blob store (R2 on
-- Workers, files on Node) per contiguous range of sequence numbers; export reads them back.
CREATE TABLE IF NOT EXISTS event_archive (
  first_seq   INTEGER NOT NULL PRIMARY KEY,
  last_seq    INTEGER NOT NULL,
  events      INTEGER NOT NULL,
  blob        TEXT    NOT NULL,
  bytes       INTEGER NOT NULL,
  sha256      TEXT    NOT NULL,
  archived_at INTEGER NOT NULL
);
