// GET /v1/events/export: the offline store. Every event the edge stored, in the order it was
// stored, from a cursor, for the trainer (`vireo refresh`). A consumer that saves `next` after
// it has kept a page reads every event exactly once, across restarts of either side. Events
// received more than EVENT_RETENTION_MS ago move out of the database into the blob store (R2 on
// Workers) in batches, one batch per export call; reads past them are the same.
// See docs/ARCHITECTURE.md, section 7, "The event log".
import { createRoute, z } from '@hono/zod-openapi';
import { ApiError } from '../errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { errorSchema, exportCursor, exportLimit } from '../schemas.ts';
import type { LoggedEvent } from '../storage/types.ts';
import { bearer, type EdgeApp, type RouteDeps } from './deps.ts';

/** Events stay in the database (and count as duplicates by event_id) for this long, then are archived. */
export const EVENT_RETENTION_MS = 7 * 86_400_000;
/** Events archived per export call at most. */
const ARCHIVE_BATCH = 1000;

/**
 * Refuses (400) a cursor past the end of a log (`last`, its largest number): it was not handed out by this
 * database (a new data folder, a restored backup), and reading after it would skip every event stored until
 * the numbers pass it, without a word.
 * @example refuseCursorPastEnd('events', after, page.last);
 */
export function refuseCursorPastEnd(log: 'events' | 'features', after: number, last: number | undefined): void {
  if (last === undefined || after <= last) return;
  throw new ApiError(
    'invalid_request',
    `The cursor after=${after} is past the end of this edge's ${log === 'events' ? 'event' : 'feature'} log ` +
      `(${last}): it comes from another database (a new data folder or a restored backup), so read again from after=0.`,
    { after: String(after), last: String(last) },
  );
}

const exportQuery = z.object({
  after: exportCursor('events'),
  limit: exportLimit('Events per page, 1 to 1,000 (default 500); fewer when the page would pass 4 MiB.'),
});

const loggedEventSchema = z
  .object({
    seq: z.number(),
    event_id: z.string(),
    user_id: z.string(),
    item_id: z.string(),
    type: z.string(),
    value: z.number().nullable(),
    ts: z.number().openapi({ description: 'Event time, ms since the epoch' }),
    context: z.record(z.string(), z.unknown()),
    received_at: z.number().openapi({ description: 'When the edge stored it, ms since the epoch' }),
  })
  .openapi('LoggedEvent');

const exportResponseSchema = z
  .object({
    events: z.array(loggedEventSchema),
    next: z.string().openapi({ description: 'The cursor to ask after next (the same cursor when no event is new)' }),
  })
  .openapi('EventExport');

const wire = (e: LoggedEvent) => ({
  seq: e.seq,
  event_id: e.eventId,
  user_id: e.userId,
  item_id: e.itemId,
  type: e.type,
  value: e.value,
  ts: e.ts,
  context: e.context,
  received_at: e.receivedAt,
});

export function exportRoutes(app: EdgeApp, deps: RouteDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/events/export',
      tags: ['events'],
      summary: 'Read stored events back in order from a cursor (the offline store)',
      description:
        'Every accepted event once, in the order the edge stored it. Save `next` once the page is kept and ask ' +
        'after it: nothing is read twice or lost, across restarts. Events older than the retention (7 days) are ' +
        'archived as batches in the blob store and read back the same way. A page holds at most `limit` events ' +
        'and about 4 MiB (always one event, so `next` moves). A cursor past the end of the log (from another ' +
        'database: a new data folder, a restored backup) is a 400.',
      security: bearer('events:export'),
      middleware: [requireScope('events:export')] as const,
      request: { query: exportQuery },
      responses: {
        200: { description: 'A page of events', content: { 'application/json': { schema: exportResponseSchema } } },
        400: { description: 'Bad cursor or limit', content: { 'application/json': { schema: errorSchema } } },
        401: { description: 'No valid token', content: { 'application/json': { schema: errorSchema } } },
        403: { description: 'Missing scope', content: { 'application/json': { schema: errorSchema } } },
      },
    }),
    async (c) => {
      const { after, limit } = c.req.valid('query');
      const start = Number(after ?? '0');
      const page = await deps.storage.eventLog.read(start, limit ?? 500, deps.limits.responseBytes);
      refuseCursorPastEnd('events', start, page.last);
      const now = deps.now();
      await deps.storage.eventLog.archive(now - EVENT_RETENTION_MS, ARCHIVE_BATCH, now);
      return c.json({ events: page.events.map(wire), next: String(page.next) }, 200);
    },
  );
}
