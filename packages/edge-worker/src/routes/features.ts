// Feature routes: one entity's row (GET /v1/users/:id/features, /v1/items/:id/features), the
// Feast-style batch lookup (POST /v1/features/online) and the bulk upsert (POST /v1/features/push).
import { createRoute, z } from '@hono/zod-openapi';
import { featureView, type Feature } from '@vireo/core';
import { ApiError } from '../errors.ts';
import {
  featuresBySource,
  isEntityKey,
  modelReady,
  modelReadyOne,
  specProblems,
  type ActiveSpec,
} from '../features/spec.ts';
import { assertResponseSize, jsonSize } from '../features/budget.ts';
import {
  column,
  isRealtimeColumn,
  itemRealtimeColumns,
  itemRealtimeJson,
  mergeColumns,
  rawValues,
  userRealtimeColumns,
  userRealtimeJson,
} from '../features/rows.ts';
import { requireActsFor, requireScope } from '../middleware/auth.ts';
import { jsonBody } from '../middleware/json-body.ts';
import {
  entityFeaturesQuerySchema,
  entityFeaturesResponseSchema,
  errorSchema,
  FEATURE_NAME,
  idSchema,
  onlineRequestSchema,
  onlineResponseSchema,
  pushRequestSchema,
  pushResponseSchema,
} from '../schemas.ts';
import type { EdgeMetrics } from '../metrics.ts';
import type { EntityKind, FeatureRow, StoredFeature, UserRealtime } from '../storage/types.ts';
import { bearer, toMillis, type EdgeApp, type RouteDeps } from './deps.ts';

type Status = 'PRESENT' | 'NOT_FOUND' | 'OUTSIDE_MAX_AGE';

const errors = {
  400: { description: 'Bad request', content: { 'application/json': { schema: errorSchema } } },
  401: { description: 'No valid token', content: { 'application/json': { schema: errorSchema } } },
  403: {
    description: "Missing scope, or another user's data without the service scope",
    content: { 'application/json': { schema: errorSchema } },
  },
  413: { description: 'The answer would be too large', content: { 'application/json': { schema: errorSchema } } },
  429: { description: 'Rate limited', content: { 'application/json': { schema: errorSchema } } },
};

type LoadedRow = {
  row: Record<string, StoredFeature>;
  realtime: Record<string, unknown> | null;
  counters: UserRealtime['counters'];
};

/** Rows of `ids` with real-time columns merged; ids with neither are absent. Counts lookups unless `count` is false. */
async function loadRows(
  deps: RouteDeps,
  entity: EntityKind,
  ids: string[],
  now: number,
  count = true,
): Promise<Map<string, LoadedRow>> {
  const [stored, realtime] = await Promise.all([
    deps.storage.features.read(entity, ids),
    entity === 'user'
      ? deps.storage.events.users(ids, deps.realtime, now)
      : deps.storage.events.items(ids, deps.realtime, now),
  ]);
  const out = new Map<string, LoadedRow>();
  for (const id of ids) {
    const rt = realtime.get(id);
    const s = stored.get(id);
    if (count) deps.metrics.featureLookups.inc({ entity, result: !rt && !s ? 'miss' : 'hit' });
    if (!rt && !s) continue;
    const columns = rt
      ? entity === 'user'
        ? userRealtimeColumns(rt as never)
        : itemRealtimeColumns(rt as never)
      : null;
    const json = rt ? (entity === 'user' ? userRealtimeJson(rt as never) : itemRealtimeJson(rt as never)) : null;
    const counters = entity === 'user' ? (rt as UserRealtime | undefined)?.counters : undefined;
    out.set(id, { row: mergeColumns(s, columns), realtime: json, counters });
  }
  return out;
}

/** Refuses (413) a push of more feature values than `max`, before its schema walks them. */
function checkPushSize(json: unknown, max: number): void {
  const rows = (json as { rows?: unknown } | null)?.rows;
  // Over 5,000 rows is the schema's 400; it is refused here, before the schema walks every row.
  if (!Array.isArray(rows)) return;
  if (rows.length > 5000) throw new ApiError('invalid_request', 'Invalid json: rows: expected at most 5000 rows.');
  let values = 0;
  for (const r of rows) {
    const features = (r as { features?: unknown } | null)?.features;
    if (!features || typeof features !== 'object') continue;
    values += Object.keys(features).length;
  }
  if (values > max)
    throw new ApiError(
      'too_much_work',
      `The push holds ${values} feature values, over this edge's ${max} per request: split it into smaller pushes.`,
      { values, max_values: max },
    );
}

function statusOf(feature: StoredFeature | undefined, maxAgeMs: number | undefined, now: number): Status {
  if (!feature) return 'NOT_FOUND';
  if (maxAgeMs !== undefined && now - feature.eventTs > maxAgeMs) return 'OUTSIDE_MAX_AGE';
  return 'PRESENT';
}

async function requireSpec(deps: RouteDeps, model: string | undefined): Promise<ActiveSpec> {
  const active = await deps.specs.resolve(model);
  if (!active) {
    throw new ApiError(
      'model_not_found',
      model
        ? `Model '${model}' has no promoted version, so there is no feature spec to transform with.`
        : 'No model is promoted, so there is no feature spec to transform with: promote one or name it with model=.',
      { model: model ?? null },
    );
  }
  return active;
}

function entityRoute(entity: EntityKind) {
  return createRoute({
    method: 'get',
    path: `/v1/${entity}s/{id}/features`,
    tags: ['features'],
    summary: `One ${entity}'s features: pushed values and real-time features from events`,
    description:
      (entity === 'user'
        ? "The token's own user only (`sub`), unless it has the `service` scope (403 `forbidden_user`). "
        : 'Any item (catalogue data). ') +
      'At most 256 names in `features=`; an answer over 4 MiB is a 413 `too_much_work`.',
    security: bearer('features:read'),
    middleware: [requireScope('features:read')] as const,
    request: { params: z.object({ id: idSchema }), query: entityFeaturesQuerySchema },
    responses: {
      200: {
        description: `The ${entity}'s row (found=false for an unknown ${entity})`,
        content: { 'application/json': { schema: entityFeaturesResponseSchema } },
      },
      ...errors,
    },
  });
}

/** What one entity read answers and what it counts (counted by the caller, once it answers). */
export type EntityRead = {
  body: z.infer<typeof entityFeaturesResponseSchema>;
  found: boolean;
  present: number;
  notFound: number;
  stale: number;
  /** A user's category counters undecayed: `body` holds them decayed to the read's time (node-lane.ts). */
  counters?: UserRealtime['counters'];
};

/**
 * One entity's row as GET /v1/{users,items}/:id/features answers it, without touching metrics: the
 * Hono route and the Node fast lane (node-lane.ts) both answer with it, so they answer the same.
 * Throws ApiError (a bad features= list, a missing spec, an answer over the response limit).
 */
export async function readEntity(
  deps: RouteDeps,
  entity: EntityKind,
  id: string,
  query: z.infer<typeof entityFeaturesQuerySchema> = {},
  now = deps.now(),
): Promise<EntityRead> {
  let names: string[] | null = null;
  if (query.features !== undefined) {
    names = [
      ...new Set(
        query.features
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ];
    const bad = names.filter((n) => !FEATURE_NAME.test(n));
    if (bad.length > 0)
      throw new ApiError(
        'invalid_request',
        `features=: '${bad[0].slice(0, 64)}' is not a feature name (letters, digits and _ . -, at most 64 characters).`,
        { invalid: bad.slice(0, 10).map((n) => n.slice(0, 64)) },
      );
    if (names.length > 256)
      throw new ApiError('invalid_request', 'features= takes up to 256 comma-separated feature names.', {
        invalid: [],
      });
  }
  const transform = query.transform === 'true' || query.transform === '1';
  const active = transform ? await requireSpec(deps, query.model) : null;
  const found = (await loadRows(deps, entity, [id], now, false)).get(id);
  const row = found?.row ?? {};
  const maxAgeMs = query.max_age_s === undefined ? undefined : query.max_age_s * 1000;
  // Objects without a prototype: a feature named `constructor` or `toString` is only a name.
  const features: Record<string, unknown> = Object.create(null);
  const statuses: Record<string, Status> = Object.create(null);
  const timestamps: Record<string, number | null> = Object.create(null);
  const selected = names ?? Object.keys(row).sort();
  let bytes = 0;
  for (const name of selected) bytes += name.length * 3 + 40 + jsonSize(column(row, name)?.value ?? null);
  assertResponseSize(bytes, deps.limits.responseBytes, 'ask for fewer features with features=');
  let present = 0;
  let notFound = 0;
  for (const name of selected) {
    const f = column(row, name);
    const status = statusOf(f, maxAgeMs, now);
    if (status === 'PRESENT') present++;
    else if (status === 'NOT_FOUND') notFound++;
    statuses[name] = status;
    features[name] = f?.value ?? null;
    timestamps[name] = f?.eventTs ?? null;
  }
  const body: z.infer<typeof entityFeaturesResponseSchema> = {
    entity,
    id,
    found: found !== undefined,
    features,
    statuses,
    event_timestamps: timestamps,
    realtime: found?.realtime ?? null,
  };
  if (active)
    body.model_ready = {
      model: active.model,
      version: active.version,
      values: modelReady(active, entity, rawValues(row), id),
    };
  const stale = selected.length - present - notFound;
  return { body, found: found !== undefined, present, notFound, stale, counters: found?.counters };
}

/** What an entity read counts in metrics. */
export type EntityCounts = Pick<EntityRead, 'found' | 'present' | 'notFound' | 'stale'>;

/** Counts an answered entity read: one lookup, and one metrics update per status seen (not per value). */
export function countEntityRead(metrics: EdgeMetrics, entity: EntityKind, read: EntityCounts): void {
  metrics.featureLookups.inc({ entity, result: read.found ? 'hit' : 'miss' });
  if (read.present > 0) metrics.featureValues.inc({ status: 'PRESENT' }, read.present);
  if (read.notFound > 0) metrics.featureValues.inc({ status: 'NOT_FOUND' }, read.notFound);
  if (read.stale > 0) metrics.featureValues.inc({ status: 'OUTSIDE_MAX_AGE' }, read.stale);
}

export function featureRoutes(app: EdgeApp, deps: RouteDeps): void {
  for (const entity of ['user', 'item'] as const) {
    app.openapi(entityRoute(entity), async (c) => {
      const { id } = c.req.valid('param');
      // Item features are catalogue data; a user's are that user's (or a service's).
      if (entity === 'user') requireActsFor(c.get('principal'), [id], 'read the features of');
      const read = await readEntity(deps, entity, id, c.req.valid('query'));
      countEntityRead(deps.metrics, entity, read);
      return c.json(read.body, 200);
    });
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/features/online',
      tags: ['features'],
      summary: 'Feast-style batch lookup: entities and feature references → values, statuses and event timestamps',
      description:
        "Every `user_id` must be the token's own `sub` unless it has the `service` scope (403 `forbidden_user`). " +
        'At most 256 features and 1,000 ids per entity list (400), a 256 KiB body (413 `payload_too_large`), and ' +
        '10,000 values (rows × distinct features) and a 4 MiB answer (413 `too_much_work`).',
      security: bearer('features:read'),
      middleware: [requireScope('features:read'), jsonBody({ maxBytes: deps.limits.onlineBodyBytes })] as const,
      request: { body: { required: true, content: { 'application/json': { schema: onlineRequestSchema } } } },
      responses: {
        200: {
          description: 'One result per column: entity keys first, then each feature',
          content: { 'application/json': { schema: onlineResponseSchema } },
        },
        ...errors,
      },
    }),
    async (c) => {
      const req = c.req.valid('json');
      const now = deps.now();
      const keys = (['user_id', 'item_id'] as const).filter((k) => req.entities[k] !== undefined);
      if (keys.length === 0)
        throw new ApiError('invalid_request', 'entities needs user_id or item_id (a list of ids).');
      const rows = req.entities[keys[0]]!.length;
      for (const k of keys) {
        if (req.entities[k]!.length !== rows)
          throw new ApiError('invalid_request', 'Every entity list must have the same length (one entry per row).', {
            lengths: Object.fromEntries(keys.map((x) => [x, req.entities[x]!.length])),
          });
      }
      if (req.entities.user_id)
        requireActsFor(c.get('principal'), new Set(req.entities.user_id), 'look up the features of');
      // A feature named twice is answered once: repeats cannot multiply the work.
      const featureRefs = [...new Set(req.features)];
      if (rows * featureRefs.length > deps.limits.onlineCells)
        throw new ApiError(
          'too_much_work',
          `${rows} rows × ${featureRefs.length} features is over this edge's ${deps.limits.onlineCells} values ` +
            'per lookup: split the lookup into smaller ones.',
          { rows, features: featureRefs.length, max_values: deps.limits.onlineCells },
        );
      const active = req.transform ? await requireSpec(deps, req.model) : null;
      const specByName = new Map<string, Feature>(active ? active.spec.features.map((f) => [f.name, f]) : []);
      const views = new Set<EntityKind>();
      for (const ref of featureRefs) {
        const view = featureView(ref);
        if (view === 'context')
          throw new ApiError(
            'invalid_request',
            `'${ref}': context features come with the request, not from the store.`,
          );
        if (req.entities[`${view}_id`] === undefined)
          throw new ApiError('invalid_request', `'${ref}' needs entities.${view}_id.`);
        if (active && !specByName.has(ref))
          throw new ApiError(
            'unknown_feature',
            `'${ref}' is not a feature of ${active.model}@${active.version}'s spec.`,
            { known: [...specByName.keys()].filter((n) => featureView(n) === view) },
          );
        views.add(view);
      }
      const loaded = new Map<EntityKind, Awaited<ReturnType<typeof loadRows>>>();
      await Promise.all(
        [...views].map(async (view) =>
          loaded.set(view, await loadRows(deps, view, [...new Set(req.entities[`${view}_id`]!)], now)),
        ),
      );
      const maxAgeMs = req.max_age_s === undefined ? undefined : req.max_age_s * 1000;
      // Each (feature, distinct id) is read and transformed once, and the answer's size is known
      // before it is built: repeated ids share one value.
      type Cell = { value: unknown; status: Status; ts: number | null; bytes: number };
      let bytes = keys.reduce((n, k) => n + req.entities[k]!.reduce((m, id) => m + id.length + 30, 0), 0);
      const columns: Array<{ ids: string[]; cells: Map<string, Cell> }> = [];
      for (const ref of featureRefs) {
        const view = featureView(ref) as EntityKind;
        const ids = req.entities[`${view}_id`]!;
        const entityRows = loaded.get(view)!;
        const feature = specByName.get(ref);
        const source = feature ? (feature.source ?? ref.slice(ref.indexOf(':') + 1)) : ref.slice(ref.indexOf(':') + 1);
        const cells = new Map<string, Cell>();
        const key = isEntityKey({ name: ref }, view);
        for (const id of ids) {
          let cell = cells.get(id);
          if (!cell && key) {
            // The entity's own id: present for every id, whatever the store holds.
            const value = active && feature ? modelReadyOne(active, feature, id) : id;
            cell = { value, status: 'PRESENT', ts: null, bytes: jsonSize(value) + 30 };
            cells.set(id, cell);
          }
          if (!cell) {
            const f = column(entityRows.get(id)?.row, source);
            const value = active && feature ? modelReadyOne(active, feature, f?.value) : (f?.value ?? null);
            cell = { value, status: statusOf(f, maxAgeMs, now), ts: f?.eventTs ?? null, bytes: jsonSize(value) + 30 };
            cells.set(id, cell);
          }
          bytes += cell.bytes;
        }
        assertResponseSize(bytes, deps.limits.responseBytes, 'ask for fewer ids or features per lookup');
        columns.push({ ids, cells });
      }
      const results: Array<{ values: unknown[]; statuses: Status[]; event_timestamps: Array<number | null> }> =
        keys.map((k) => ({
          values: req.entities[k]!,
          statuses: req.entities[k]!.map((): Status => 'PRESENT'),
          event_timestamps: req.entities[k]!.map(() => null),
        }));
      for (const { ids, cells } of columns) {
        const values: unknown[] = new Array(rows);
        const statuses: Status[] = new Array(rows);
        const timestamps: Array<number | null> = new Array(rows);
        for (let i = 0; i < rows; i++) {
          const cell = cells.get(ids[i])!;
          values[i] = cell.value;
          statuses[i] = cell.status;
          timestamps[i] = cell.ts;
          deps.metrics.featureValues.inc({ status: cell.status });
        }
        results.push({ values, statuses, event_timestamps: timestamps });
      }
      return c.json(
        {
          metadata: {
            feature_names: [...keys, ...featureRefs],
            model: active ? { name: active.model, version: active.version } : null,
          },
          results,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/features/push',
      tags: ['features'],
      summary: 'Bulk upsert of user and item features, validated against the feature spec (all or nothing)',
      description:
        'At most 5,000 rows and 256 features a row (400), 5,000 values in all (413 `too_much_work`), and a body ' +
        'of 2 MiB (413 `payload_too_large`).',
      security: bearer('models:publish'),
      middleware: [
        requireScope('models:publish'),
        jsonBody({ maxBytes: deps.limits.pushBodyBytes, check: (json) => checkPushSize(json, deps.limits.pushValues) }),
      ] as const,
      request: { body: { required: true, content: { 'application/json': { schema: pushRequestSchema } } } },
      responses: {
        200: {
          description: 'Values written and stale values kept out',
          content: { 'application/json': { schema: pushResponseSchema } },
        },
        ...errors,
        422: {
          description: 'Values that do not fit the feature spec',
          content: { 'application/json': { schema: errorSchema } },
        },
      },
    }),
    async (c) => {
      const req = c.req.valid('json');
      const now = deps.now();
      const active = await deps.specs.resolve(req.model);
      if (req.model && !active)
        throw new ApiError('model_not_found', `Model '${req.model}' has no promoted version to validate against.`);
      const bySource = active
        ? { user: featuresBySource(active.spec, 'user'), item: featuresBySource(active.spec, 'item') }
        : null;
      const problems: Array<{ row: number; problems: string[] }> = [];
      const reserved: Array<{ row: number; columns: string[] }> = [];
      const rows: FeatureRow[] = req.rows.map((r, i) => {
        const taken = Object.keys(r.features).filter((n) => isRealtimeColumn(r.entity, n));
        if (taken.length > 0) reserved.push({ row: i, columns: taken });
        if (active && bySource) {
          const p = specProblems(active.spec, r.entity, r.features, bySource[r.entity]);
          if (p.length > 0) problems.push({ row: i, problems: p });
        }
        const eventTs = r.event_ts === undefined ? now : toMillis(r.event_ts);
        if (!Number.isFinite(eventTs))
          throw new ApiError('invalid_request', `Row ${i}: event_ts '${String(r.event_ts)}' is not a time.`);
        return { entity: r.entity, id: r.id, features: r.features, eventTs };
      });
      if (reserved.length > 0)
        throw new ApiError(
          'invalid_request',
          `Row ${reserved[0].row} writes '${reserved[0].columns[0]}', a real-time feature computed from events.`,
          { rows: reserved.slice(0, 100) },
        );
      if (problems.length > 0) {
        throw new ApiError(
          problems.some((p) => p.problems.some((m) => m.includes('is not a'))) ? 'unknown_feature' : 'spec_violation',
          `Row ${problems[0].row}: ${problems[0].problems[0]} ` +
            `(spec of ${active!.model}@${active!.version}); nothing was written.` +
            (req.model ? '' : ` To validate against another model's spec, name it: "model": "NAME" in the body.`),
          { rows: problems.slice(0, 100) },
        );
      }
      const { written, stale } = await deps.storage.features.push(rows, now);
      deps.metrics.featureRowsWritten.inc({ result: 'written' }, written);
      deps.metrics.featureRowsWritten.inc({ result: 'stale' }, stale);
      return c.json(
        { rows: rows.length, written, stale, spec: active ? { model: active.model, version: active.version } : null },
        200,
      );
    },
  );
}
