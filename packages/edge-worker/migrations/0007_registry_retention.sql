-- Registry retention (docs/ARCHITECTURE.md, "Model registry").
-- A deleted version leaves a tombstone: its files were served with `Cache-Control: immutable`, so browsers and CDNs
-- may still hold them, and a new version published under the same name and version would be answered from those
-- caches with the old bytes. The registry refuses to publish a tombstoned version again.
CREATE TABLE IF NOT EXISTS model_tombstones (
  name       TEXT    NOT NULL,
  version    TEXT    NOT NULL,
  deleted_at INTEGER,
  PRIMARY KEY (name, version)
) WITHOUT ROWID;
-- Versions deleted before this migration that the promotion history still names (when they went is not known);
-- those never promoted left no trace.
INSERT OR IGNORE INTO model_tombstones (name, version, deleted_at)
SELECT DISTINCT p.name, p.version, NULL FROM model_promotions AS p
WHERE NOT EXISTS (SELECT 1 FROM model_versions AS v WHERE v.name = p.name AND v.version = p.version);

-- Versions are numbered in the order they were created (`seq`), the cursor of GET /v1/models/{name}: a rowid is
-- given out again after the newest row is deleted and VACUUM may renumber rowids, an AUTOINCREMENT key never.
-- Existing versions are numbered in the order they were listed (creation time, then version).
CREATE TABLE model_versions_seq (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  name            TEXT    NOT NULL,
  version         TEXT    NOT NULL,
  manifest_sha256 TEXT    NOT NULL,
  manifest_size   INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  created_by      TEXT    NOT NULL,
  UNIQUE (name, version)
);
INSERT INTO model_versions_seq (name, version, manifest_sha256, manifest_size, created_at, created_by)
SELECT name, version, manifest_sha256, manifest_size, created_at, created_by FROM model_versions
ORDER BY created_at, name, version;
DROP TABLE model_versions;
ALTER TABLE model_versions_seq RENAME TO model_versions;
CREATE INDEX IF NOT EXISTS model_versions_by_name ON model_versions (name, seq);
