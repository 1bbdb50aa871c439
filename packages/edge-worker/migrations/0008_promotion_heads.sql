-- Promotion state without replaying the history (docs/ARCHITECTURE.md, "Model registry").
-- The promoted version and the one a rollback returns to were found by replaying a model's whole promotion history
-- on every read (`latest`, the listing, each promote, rollback and delete): work that grew by one row per promotion.
-- The stack is now kept as links: each promote row names the promote row beneath it (`below`; 0 when none), and
-- model_heads holds, per model, the last entry (`seq`, the condition of every conditional write), the promote row
-- on top of the stack after it (`top`; 0 when empty) and when it was written (`at`). A promote pushes (below = the
-- old top), a rollback pops (top = below of the old top): each read and write is a lookup by primary key.
ALTER TABLE model_promotions ADD COLUMN below INTEGER;
CREATE TABLE IF NOT EXISTS model_heads (
  name TEXT    PRIMARY KEY,
  seq  INTEGER NOT NULL,
  top  INTEGER NOT NULL,
  at   INTEGER NOT NULL
) WITHOUT ROWID;

-- The links of the existing history. A model's entries are numbered 1, 2, … with no gap (appendPromotion writes
-- the last one plus one). The stack's depth after each entry: a promote adds one, a rollback takes one (none below
-- zero). A push at depth d writes position d of the stack and a pop leaves the positions under it alone, so the top
-- after entry k is the last promote at or before k that left the same depth, and the row under a promote of depth
-- d is the last promote before it that left depth d - 1.
CREATE TABLE promotion_depths AS
WITH RECURSIVE walk (name, seq, action, depth) AS (
  SELECT name, seq, action, CASE WHEN action = 'promote' THEN 1 ELSE 0 END FROM model_promotions WHERE seq = 1
  UNION ALL
  SELECT p.name, p.seq, p.action, CASE WHEN p.action = 'promote' THEN w.depth + 1 ELSE max(w.depth - 1, 0) END
  FROM walk AS w JOIN model_promotions AS p ON p.name = w.name AND p.seq = w.seq + 1
)
SELECT name, seq, action, depth FROM walk;
CREATE INDEX promotion_depths_by_depth ON promotion_depths (name, action, depth, seq);

UPDATE model_promotions SET below = coalesce((
  SELECT max(j.seq) FROM promotion_depths AS k JOIN promotion_depths AS j
    ON j.name = k.name AND j.action = 'promote' AND j.depth = k.depth - 1 AND j.seq < k.seq
  WHERE k.name = model_promotions.name AND k.seq = model_promotions.seq
), 0)
WHERE action = 'promote';

INSERT INTO model_heads (name, seq, top, at)
SELECT k.name, k.seq, coalesce((
  SELECT max(j.seq) FROM promotion_depths AS j
  WHERE j.name = k.name AND j.action = 'promote' AND j.depth = k.depth AND j.seq <= k.seq AND k.depth > 0
), 0), p.at
FROM promotion_depths AS k JOIN model_promotions AS p ON p.name = k.name AND p.seq = k.seq
WHERE k.seq = (SELECT max(m.seq) FROM model_promotions AS m WHERE m.name = k.name);

DROP TABLE promotion_depths;
