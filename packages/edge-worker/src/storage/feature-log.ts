// The feature log in SQL (migrations/0003_feature_log.sql), shared by SQLite and D1: triggers on
// `features` record the entities a push wrote a value of, in the push's transaction, and
// GET /v1/features/export reads them back from a cursor (see docs/ARCHITECTURE.md, section 7,
// "The feature log").
import type { EntityKind, FeatureLog, SqlDriver } from './types.ts';

const LOG_PAGE_SQL =
  'SELECT seq, entity_id, written_at FROM feature_log WHERE entity = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3';

// The last number handed out (a re-pushed entity leaves its old number for a larger one).
const LOG_LAST_SQL = 'SELECT coalesce(max(seq), 0) AS last FROM feature_log';

type LogRow = { seq: number; entity_id: string; written_at: number };

/** The feature log over a SQL driver. */
export function sqlFeatureLog(driver: SqlDriver): FeatureLog {
  return {
    async read(entity: EntityKind, after: number, limit: number) {
      const rows = await driver.query<LogRow>(LOG_PAGE_SQL, [entity, after, limit]);
      if (rows.length === 0) {
        // Nothing after the cursor: say where the log ends, so that a cursor from elsewhere is told apart.
        const [{ last }] = await driver.query<{ last: number }>(LOG_LAST_SQL, []);
        return { entries: [], next: after, last };
      }
      return {
        entries: rows.map((r) => ({ seq: r.seq, id: r.entity_id, writtenAt: r.written_at })),
        next: rows.at(-1)?.seq ?? after,
      };
    },
  };
}
