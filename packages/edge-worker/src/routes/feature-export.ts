// GET /v1/features/export: the entities whose pushed features changed since a cursor, each with
// its current pushed values, oldest change first, for the trainer (`vireo refresh` embeds the
// items pushed since its last look without retraining). The same cursor rules as
// GET /v1/events/export (routes/export.ts): save `next` once the page is kept and ask after it.
// An entity appears once, at its latest change; real-time columns are not part of it (they come
// from events). See docs/ARCHITECTURE.md, section 7, "The feature log".
import { createRoute, z } from '@hono/zod-openapi';
import { jsonSize } from '../features/budget.ts';
import { requireScope } from '../middleware/auth.ts';
import { errorSchema, exportCursor, exportLimit, featureValueSchema } from '../schemas.ts';
import { bearer, type EdgeApp, type RouteDeps } from './deps.ts';
import { refuseCursorPastEnd } from './export.ts';

const exportQuery = z.object({
  entity: z
    .enum(['item', 'user'], { error: "expected 'item' or 'user'" })
    .optional()
    .openapi({ description: "Which entities: 'item' (the default) or 'user'." }),
  after: exportCursor('entities changed'),
  limit: exportLimit('Entities per page, 1 to 1,000 (default 500); fewer when the page would pass 4 MiB.'),
});

const exportedRowSchema = z
  .object({
    seq: z.number().openapi({ description: "The entity's place in the log (its latest change)" }),
    id: z.string(),
    features: z.record(z.string(), featureValueSchema).openapi({ description: 'Pushed values by source name' }),
    event_ts: z.number().openapi({ description: 'Newest event time of its values, ms since the epoch' }),
    written_at: z.number().openapi({ description: 'When a push last wrote one of its values, ms since the epoch' }),
  })
  .openapi('ExportedFeatureRow');

const exportResponseSchema = z
  .object({
    entity: z.enum(['item', 'user']),
    rows: z.array(exportedRowSchema),
    next: z.string().openapi({ description: 'The cursor to ask after next (the same cursor when nothing changed)' }),
  })
  .openapi('FeatureExport');

export function featureExportRoutes(app: EdgeApp, deps: RouteDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/features/export',
      tags: ['features'],
      summary: 'Entities whose pushed features changed since a cursor, with their values (for the trainer)',
      description:
        'Each entity once, at its latest push, oldest first, with its current pushed values (not the real-time ' +
        'columns). Save `next` once the page is kept and ask after it: an entity pushed again later comes again. ' +
        'A cursor past the end of the log (from another database) is a 400.',
      security: bearer('features:export'),
      middleware: [requireScope('features:export')] as const,
      request: { query: exportQuery },
      responses: {
        200: { description: 'A page of entities', content: { 'application/json': { schema: exportResponseSchema } } },
        400: { description: 'Bad entity, cursor or limit', content: { 'application/json': { schema: errorSchema } } },
        401: { description: 'No valid token', content: { 'application/json': { schema: errorSchema } } },
        403: { description: 'Missing scope', content: { 'application/json': { schema: errorSchema } } },
      },
    }),
    async (c) => {
      const { entity = 'item', after, limit } = c.req.valid('query');
      const start = Number(after ?? '0');
      const page = await deps.storage.featureLog.read(entity, start, limit ?? 500);
      refuseCursorPastEnd('features', start, page.last);
      const stored = await deps.storage.features.read(
        entity,
        page.entries.map((e) => e.id),
      );
      // Bounded answer: stop before the page passes the response cap (always at least one row, so
      // the cursor moves; a row is at most one push's size).
      const rows = [];
      let bytes = 64;
      let next = start;
      for (const e of page.entries) {
        const row = stored.get(e.id) ?? {};
        const features: Record<string, unknown> = {};
        let eventTs = 0;
        for (const [name, v] of Object.entries(row)) {
          features[name] = v.value;
          eventTs = Math.max(eventTs, v.eventTs);
        }
        const size = jsonSize(features) + e.id.length + 96;
        if (rows.length > 0 && bytes + size > deps.limits.responseBytes) break;
        bytes += size;
        rows.push({ seq: e.seq, id: e.id, features, event_ts: eventTs, written_at: e.writtenAt });
        next = e.seq;
      }
      return c.json({ entity, rows, next: String(next) } as never, 200);
    },
  );
}
