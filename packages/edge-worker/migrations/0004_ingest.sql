-- Fewer index writes per ingested event (docs/ARCHITECTURE.md, "Node edge", "The ingest path").
-- The statements of one ingest find the rows it inserted by rowid: a rowid table numbers a new row
-- one past its largest rowid, so within the ingest's transaction its rows are exactly those above
-- the largest rowid seen when it began, kept in `ingest_mark`. That replaces batch_id and its
-- index; events_user_ts served no query. What remains per event: the events table and its
-- event_id key, the event log, and the real-time tables.
CREATE TABLE IF NOT EXISTS ingest_mark (
  k           INTEGER PRIMARY KEY CHECK (k = 0),
  after_rowid INTEGER NOT NULL
);
DROP INDEX IF EXISTS events_batch;
DROP INDEX IF EXISTS events_user_ts;
ALTER TABLE events DROP COLUMN batch_id;
