-- The feature log: which entities' pushed features changed, in the order they last changed, so
-- that a consumer reads them back from a cursor (GET /v1/features/export; vireo refresh embeds
-- the items pushed since its last look). One row per entity: a push that writes a value of an
-- entity moves it to the end of the log (a new seq), so a page lists each entity once, with its
-- current values. Triggers keep it, in the push's own transaction: they fire for the values a
-- push writes, not for stale ones (the upsert's WHERE keeps those out). AUTOINCREMENT: a number
-- is never handed out twice.
CREATE TABLE IF NOT EXISTS feature_log (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  entity     TEXT    NOT NULL,
  entity_id  TEXT    NOT NULL,
  written_at INTEGER NOT NULL,
  UNIQUE (entity, entity_id)
);
CREATE INDEX IF NOT EXISTS feature_log_by_entity ON feature_log (entity, seq);

CREATE TRIGGER IF NOT EXISTS feature_log_on_insert AFTER INSERT ON features
BEGIN
  DELETE FROM feature_log WHERE entity = NEW.entity AND entity_id = NEW.entity_id;
  INSERT INTO feature_log (entity, entity_id, written_at) VALUES (NEW.entity, NEW.entity_id, NEW.written_at);
END;

CREATE TRIGGER IF NOT EXISTS feature_log_on_update AFTER UPDATE ON features
BEGIN
  DELETE FROM feature_log WHERE entity = NEW.entity AND entity_id = NEW.entity_id;
  INSERT INTO feature_log (entity, entity_id, written_at) VALUES (NEW.entity, NEW.entity_id, NEW.written_at);
END;

-- Entities pushed before this migration enter the log in the order they were last written.
INSERT OR IGNORE INTO feature_log (entity, entity_id, written_at)
SELECT entity, entity_id, max(written_at) FROM features GROUP BY entity, entity_id
ORDER BY max(written_at), entity, entity_id;
