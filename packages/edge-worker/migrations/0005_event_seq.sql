-- The event log folded into `events` (docs/ARCHITECTURE.md, "The ingest path"): an event's sequence
-- number is its rowid, `seq`, handed out in the order the ingest inserts (time order within a
-- transaction), so that storing an event writes one table and its event_id key where it wrote two of
-- each. AUTOINCREMENT: a number is never handed out twice, even after the newest rows are archived.
-- Existing events keep their numbers; the next number follows the largest ever handed out (in the
-- log or an archive), so a consumer's saved cursor stays valid.
CREATE TABLE events_seq (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id    TEXT    NOT NULL UNIQUE,
  user_id     TEXT    NOT NULL,
  item_id     TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  value       REAL,
  ts          INTEGER NOT NULL,
  context     TEXT    NOT NULL,
  received_at INTEGER NOT NULL
);
INSERT INTO events_seq (seq, event_id, user_id, item_id, type, value, ts, context, received_at)
SELECT l.seq, e.event_id, e.user_id, e.item_id, e.type, e.value, e.ts, e.context, e.received_at
FROM event_log AS l JOIN events AS e ON e.event_id = l.event_id ORDER BY l.seq;
-- AUTOINCREMENT remembers the largest number a table ever held: one placeholder row past the last
-- number handed out (archived ones included), deleted at once, carries it over.
INSERT INTO events_seq (seq, event_id, user_id, item_id, type, ts, context, received_at)
SELECT m, '', '', '', '', 0, '{}', 0 FROM (
  SELECT max(coalesce((SELECT max(seq) FROM event_log), 0), coalesce((SELECT max(last_seq) FROM event_archive), 0))
    AS m
) WHERE m > coalesce((SELECT max(seq) FROM events_seq), 0);
DELETE FROM events_seq WHERE event_id = '';
DROP TABLE event_log;
DROP TABLE events;
ALTER TABLE events_seq RENAME TO events;
