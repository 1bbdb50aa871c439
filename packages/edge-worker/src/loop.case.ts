// What the training loop needs from the edge, as one suite run on Node (SQLite + files,
// loop.test.ts) and inside workerd (D1 + R2, loop.workers.test.ts): the event export in order
// from a cursor, across the archive; the registry refusing an incomplete bundle over a complete one.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_RETENTION_MS } from './routes/export.ts';
import type { EdgeApp } from './routes/deps.ts';
import {
  type Bytes,
  ALL_SCOPES,
  apiEvent,
  client,
  errorOf,
  makeBundle,
  NOW,
  publish,
  safetensorsBytes,
  token,
  type Client,
} from '../test/helpers.ts';

export type LoopAppFactory = (
  now: () => number,
) => Promise<{ app: EdgeApp; env?: unknown; cleanup: () => Promise<void> }>;

type Exported = { events: Array<{ seq: number; event_id: string; user_id: string; ts: number }>; next: string };

export function runLoopCases(label: string, factory: LoopAppFactory): void {
  describe(`edge for the training loop: ${label}`, () => {
    let now = NOW;
    let api: Client;
    let exporter: Client;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      now = NOW;
      const made = await factory(() => now);
      cleanup = made.cleanup;
      api = client(made.app, await token(ALL_SCOPES), made.env);
      exporter = client(made.app, await token('events:export', { sub: 'trainer' }), made.env);
    });
    afterEach(async () => {
      await cleanup();
    });

    /** Every event after `after`, page by page, as vireo refresh reads them. */
    async function exportAll(after = '0', limit = 3): Promise<{ ids: string[]; next: string }> {
      const ids: string[] = [];
      for (;;) {
        const res = await exporter.get(`/v1/events/export?after=${after}&limit=${limit}`);
        expect(res.status).toBe(200);
        const page = (await res.json()) as Exported;
        if (page.events.length === 0) {
          expect(page.next).toBe(after);
          return { ids, next: after };
        }
        ids.push(...page.events.map((e) => e.event_id));
        after = page.next;
      }
    }

    it('exports every accepted event once, in order, from a cursor; needs events:export', async () => {
      const ev = (id: string, user: string, dt: number) => ({ ...apiEvent(id), user_id: user, ts: NOW - 1000 + dt });
      expect((await api.post('/v1/events', { events: [ev('a', 'u1', 2), ev('b', 'u2', 1)] })).status).toBe(202);
      expect((await api.post('/v1/events', { events: [ev('a', 'u1', 2), ev('c', 'u1', 3)] })).status).toBe(202);
      const all = await exportAll('0', 2);
      expect(all.ids).toEqual(['b', 'a', 'c']);
      const first = (await (await exporter.get('/v1/events/export')).json()) as Exported;
      expect(first.events[0]).toMatchObject({ event_id: 'b', user_id: 'u2', ts: NOW - 999, received_at: NOW });
      // A consumer that kept the first page resumes after it and gets the rest only.
      expect((await exportAll(String(first.events[0].seq))).ids).toEqual(['a', 'c']);

      const refused = await api.get('/v1/events/export', { token: await token('features:read events:write service') });
      expect(refused.status).toBe(403);
      expect((await errorOf(refused)).code).toBe('insufficient_scope');
      for (const bad of ['after=-1', 'after=abc', 'after=01', 'limit=0', 'limit=1001', 'limit=x']) {
        const res = await exporter.get(`/v1/events/export?${bad}`);
        expect(res.status, bad).toBe(400);
        expect((await errorOf(res)).code).toBe('invalid_request');
      }
    });

    it('archives events past the retention as it exports, and exports them the same afterwards', async () => {
      const events = Array.from({ length: 25 }, (_, i) => ({ ...apiEvent(`old-${i}`), ts: NOW - 60_000 + i }));
      expect((await api.post('/v1/events', { events })).status).toBe(202);
      const before = await exportAll('0', 7);
      expect(before.ids.length).toBe(25);
      now = NOW + EVENT_RETENTION_MS + 1;
      expect((await api.post('/v1/events', { events: [{ ...apiEvent('new'), ts: now - 10 }] })).status).toBe(202);
      // The first export call moves the old events out; the event_id is no longer a duplicate then.
      const after = await exportAll('0', 4);
      expect(after.ids).toEqual([...before.ids, 'new']);
      const again = await api.post('/v1/events', { events: [{ ...apiEvent('old-0'), ts: now - 10 }] });
      expect(((await again.json()) as { accepted: number }).accepted).toBe(1);
      expect((await exportAll(after.next)).ids).toEqual(['old-0']);
    });

    it('exports the entities whose pushed features changed, once each, from a cursor (features:export)', async () => {
      type FeatureExport = {
        entity: string;
        rows: Array<{ seq: number; id: string; features: Record<string, unknown>; event_ts: number }>;
        next: string;
      };
      const trainer = await token('features:export', { sub: 'trainer' });
      const features = { get: (path: string) => api.get(path, { token: trainer }) };
      const push = async (rows: unknown[]) => expect((await api.post('/v1/features/push', { rows })).status).toBe(200);
      /** Every changed entity after `after`, page by page, as vireo refresh reads them. */
      const exportAll = async (after: string, limit: number, entity = 'item') => {
        const rows: FeatureExport['rows'] = [];
        for (;;) {
          const res = await features.get(`/v1/features/export?entity=${entity}&after=${after}&limit=${limit}`);
          expect(res.status).toBe(200);
          const page = (await res.json()) as FeatureExport;
          expect(page.entity).toBe(entity);
          if (page.rows.length === 0) {
            expect(page.next).toBe(after);
            return { rows, next: after };
          }
          rows.push(...page.rows);
          after = page.next;
        }
      };
      await push([
        { entity: 'item', id: 'i1', features: { price: 3, category: 'drama' }, event_ts: NOW - 100 },
        { entity: 'item', id: 'i2', features: { price: 5 }, event_ts: NOW - 100 },
        { entity: 'user', id: 'u1', features: { age: 31 }, event_ts: NOW - 100 },
      ]);
      const first = await exportAll('0', 1);
      expect(first.rows.map((r) => [r.id, r.features, r.event_ts])).toEqual([
        ['i1', { price: 3, category: 'drama' }, NOW - 100],
        ['i2', { price: 5 }, NOW - 100],
      ]);
      expect((await exportAll('0', 10, 'user')).rows.map((r) => [r.id, r.features])).toEqual([['u1', { age: 31 }]]);
      // A stale push writes nothing and moves nothing; a newer value moves i1 after the cursor, with all its values.
      await push([{ entity: 'item', id: 'i1', features: { price: 1 }, event_ts: NOW - 200 }]);
      expect((await exportAll(first.next, 10)).rows).toEqual([]);
      await push([{ entity: 'item', id: 'i1', features: { price: 4 }, event_ts: NOW - 50 }]);
      const changed = await exportAll(first.next, 10);
      expect(changed.rows.map((r) => [r.id, r.features])).toEqual([['i1', { price: 4, category: 'drama' }]]);
      expect((await exportAll('0', 10)).rows.map((r) => r.id)).toEqual(['i2', 'i1']);

      const refused = await exporter.get('/v1/features/export');
      expect(refused.status).toBe(403);
      expect((await errorOf(refused)).code).toBe('insufficient_scope');
      for (const bad of ['entity=model', 'after=-1', 'after=01', 'limit=0', 'limit=1001', 'limit=x']) {
        const res = await features.get(`/v1/features/export?${bad}`);
        expect(res.status, bad).toBe(400);
        expect((await errorOf(res)).code).toBe('invalid_request');
      }
    });

    it('refuses to promote a bundle without its ranker over a complete one, unless it is retrieval-only', async () => {
      const weights = safetensorsBytes(50);
      const complete = await makeBundle('loop', '1', {
        'retrieval.safetensors': weights,
        'ranking.safetensors': weights,
      });
      await publish(api, complete);
      const partial = await makeBundle('loop', '2', { 'retrieval.safetensors': weights });
      await publish(api, partial, false);
      const refused = await api.post('/v1/models/loop/2/promote');
      expect(refused.status).toBe(409);
      const error = await errorOf(refused);
      expect(error.code).toBe('incomplete_version');
      expect(error.message).toContain('ranking.safetensors');
      expect(error.details).toMatchObject({ lacking: ['ranking.safetensors'], promoted: '1' });
      const latest = await api.get('/v1/models/loop/latest');
      expect(latest.headers.get('vireo-model-version')).toBe('1');

      const byDesign = await makeBundle('loop', '3', { 'retrieval.safetensors': weights });
      const manifest = JSON.parse(new TextDecoder().decode(byDesign.manifest));
      byDesign.manifest = new TextEncoder().encode(JSON.stringify({ ...manifest, retrievalOnly: true })) as Bytes;
      await publish(api, byDesign);
      expect((await api.get('/v1/models/loop/latest')).headers.get('vireo-model-version')).toBe('3');
      // Over a version without a ranker, another one is fine (nothing complete to protect).
      await publish(api, await makeBundle('loop', '4', { 'retrieval.safetensors': weights }));
    });
  });
}
