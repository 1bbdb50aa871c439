-- Event ids are unique per user, not across users (docs/ARCHITECTURE.md, "The event log"): the key of `events`
-- was event_id alone, so a visitor's event whose id another visitor had used was dropped as a duplicate (and the
-- answer told that the id existed). The key is now (event_id, user_id). user_history's key, (user_id, ts,
-- event_id), was per user already. The table is rebuilt as 0005 built it: every row keeps its `seq`, and the next
-- number follows the largest handed out (archives included), so a consumer's saved cursor stays valid.
CREATE TABLE events_per_user (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id    TEXT    NOT NULL,
  user_id     TEXT    NOT NULL,
  item_id     TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  value       REAL,
  ts          INTEGER NOT NULL,
  context     TEXT    NOT NULL,
  received_at INTEGER NOT NULL,
  -- event_id first: an index led by user_id would tempt SQLite to scan all of it for the ingest's
  -- `GROUP BY user_id` over the new rows (storage/plans.test.ts), where it reads a rowid range.
  UNIQUE (event_id, user_id)
);
INSERT INTO events_per_user (seq, event_id, user_id, item_id, type, value, ts, context, received_at)
SELECT seq, event_id, user_id, item_id, type, value, ts, context, received_at FROM events ORDER BY seq;
-- AUTOINCREMENT remembers the largest number a table ever held: one placeholder row at the last number an archive
-- handed out, when that is past every row kept, deleted at once, carries it over.
INSERT INTO events_per_user (seq, event_id, user_id, item_id, type, ts, context, received_at)
SELECT m, '', '', '', '', 0, '{}', 0 FROM (SELECT coalesce((SELECT max(last_seq) FROM event_archive), 0) AS m)
WHERE m > coalesce((SELECT max(seq) FROM events_per_user), 0);
DELETE FROM events_per_user WHERE user_id = '' AND event_id = '';
DROP TABLE events;
ALTER TABLE events_per_user RENAME TO events;
