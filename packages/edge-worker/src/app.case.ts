// The app's behaviour through HTTP, as one suite run on Node (SQLite + files, app.test.ts) and
// inside workerd (D1 + KV + R2, worker.workers.test.ts): auth, features, events, registry, errors.
import { hashBucket, sha256Hex, type FeatureSpecInput } from '@vireo/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signHs256 } from './auth/jwt.ts';
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

export type AppFactory = () => Promise<{ app: EdgeApp; env?: unknown; cleanup: () => Promise<void> }>;

const DAY = 86_400_000;
const enc = (s: string) => new TextEncoder().encode(s) as Bytes;

export function runAppCases(label: string, factory: AppFactory): void {
  describe(`edge app: ${label}`, () => {
    let app: EdgeApp;
    let api: Client;
    let cleanup: () => Promise<void>;
    let env: unknown;
    beforeEach(async () => {
      ({ app, env, cleanup } = await factory());
      api = client(app, await token(ALL_SCOPES), env);
    });
    afterEach(async () => {
      await cleanup();
    });
    const as = async (scope: string) => client(app, await token(scope), env);

    describe('auth', () => {
      const protectedRoutes: Array<[string, string, unknown?]> = [
        ['GET', '/v1/users/u1/features'],
        ['GET', '/v1/items/i1/features'],
        ['POST', '/v1/features/online', { features: ['user:a'], entities: { user_id: ['u1'] } }],
        ['POST', '/v1/features/push', { rows: [{ entity: 'user', id: 'u1', features: { a: 1 } }] }],
        ['POST', '/v1/events', { events: [apiEvent('e1')] }],
        ['GET', '/v1/models/ranker'],
        ['GET', '/v1/models/ranker/latest'],
        ['GET', '/v1/models/ranker/1/manifest.json'],
        ['PUT', '/v1/models/ranker/1/manifest.json', {}],
        ['POST', '/v1/models/ranker/1/promote'],
        ['POST', '/v1/models/ranker/rollback'],
        ['DELETE', '/v1/models/ranker/1'],
      ];

      it('answers 401 without a token, on every /v1 route, with a Bearer challenge', async () => {
        for (const [method, path, body] of protectedRoutes) {
          const res = await api.call(method, path, { body, token: null });
          expect(res.status, `${method} ${path}`).toBe(401);
          expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="vireo"/);
          expect((await errorOf(res)).code).toBe('unauthorized');
        }
      });

      it('answers 401 for a bad signature, a tampered payload, alg none, a malformed header and garbage', async () => {
        const good = await token(ALL_SCOPES);
        const [h, p, s] = good.split('.');
        const forged = { sub: 'root', scope: 'admin', exp: NOW / 1000 + 3600 };
        const tampered = `${h}.${btoa(JSON.stringify(forged)).replace(/=+$/, '')}.${s}`;
        const none = `${btoa(JSON.stringify({ alg: 'none', typ: 'JWT' })).replace(/=+$/, '')}.${p}.`;
        const cases: Array<[string, string]> = [
          [
            await signHs256({ sub: 'x', scope: ALL_SCOPES, exp: NOW / 1000 + 3600 }, 'another-secret-0123456789'),
            'invalid_token',
          ],
          [tampered, 'invalid_token'],
          [none, 'invalid_token'],
          ['not.a.jwt', 'invalid_token'],
          ['abc', 'invalid_token'],
          [`${h}.${p}`, 'invalid_token'],
        ];
        for (const [t, code] of cases) {
          const res = await api.get('/v1/users/u1/features', { token: t });
          expect(res.status, t).toBe(401);
          expect((await errorOf(res)).code).toBe(code);
        }
        const basic = await api.get('/v1/users/u1/features', {
          token: null,
          headers: { authorization: 'Basic dXNlcjpwYXNz' },
        });
        expect(basic.status).toBe(401);
        expect((await errorOf(basic)).code).toBe('unauthorized');
      });

      it('answers 401 token_expired for an expired token', async () => {
        const expired = await token(ALL_SCOPES, { exp: NOW / 1000 - 120 });
        const res = await api.get('/v1/users/u1/features', { token: expired });
        expect(res.status).toBe(401);
        const err = await errorOf(res);
        expect(err.code).toBe('token_expired');
        expect(err.message).toContain('expired');
      });

      it('answers 403 insufficient_scope when the token lacks the route scope', async () => {
        const reader = await as('features:read');
        const writer = await as('events:write');
        const checks: Array<[Client, string, string, unknown?, string?]> = [
          [writer, 'GET', '/v1/users/u1/features', undefined, 'features:read'],
          [
            writer,
            'POST',
            '/v1/features/online',
            { features: ['user:a'], entities: { user_id: ['u1'] } },
            'features:read',
          ],
          [reader, 'POST', '/v1/events', { events: [apiEvent('e1')] }, 'events:write'],
          [
            reader,
            'POST',
            '/v1/features/push',
            { rows: [{ entity: 'user', id: 'u1', features: { a: 1 } }] },
            'models:publish',
          ],
          [reader, 'PUT', '/v1/models/ranker/1/manifest.json', {}, 'models:publish'],
          [reader, 'POST', '/v1/models/ranker/1/promote', undefined, 'models:publish'],
          [reader, 'DELETE', '/v1/models/ranker/1', undefined, 'models:publish'],
          [writer, 'GET', '/v1/models/ranker/latest', undefined, 'features:read'],
          [reader, 'GET', '/v1/events/export', undefined, 'events:export'],
          [reader, 'GET', '/v1/features/export?entity=item', undefined, 'features:export'],
        ];
        for (const [c, method, path, body, scope] of checks) {
          const res = await c.call(method, path, { body });
          expect(res.status, `${method} ${path}`).toBe(403);
          const err = await errorOf(res);
          expect(err.code).toBe('insufficient_scope');
          expect((err.details as { required: string[] }).required).toContain(scope);
        }
        // The admin scope passes every check.
        const admin = await as('admin');
        expect((await admin.post('/v1/events', { events: [apiEvent('adm')] })).status).toBe(202);
      });

      it('serves /healthz, /metrics and /openapi.json without a token', async () => {
        expect((await api.get('/healthz', { token: null })).status).toBe(200);
        expect((await api.get('/metrics', { token: null })).status).toBe(200);
        expect((await api.get('/openapi.json', { token: null })).status).toBe(200);
      });
    });

    describe('features', () => {
      it('pushes rows and reads them back with statuses and event timestamps', async () => {
        const push = await api.post('/v1/features/push', {
          rows: [
            { entity: 'user', id: 'u1', features: { age: 35, country: 'FR', tags: ['a', 'b'] }, event_ts: NOW - DAY },
            {
              entity: 'item',
              id: 'i1',
              features: { price: 9, genres: ['drama'] },
              event_ts: new Date(NOW - 2 * DAY).toISOString(),
            },
          ],
        });
        expect(push.status).toBe(200);
        expect(await push.json()).toEqual({ rows: 2, written: 5, stale: 0, spec: null });
        const res = await api.get('/v1/users/u1/features');
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({
          entity: 'user',
          id: 'u1',
          found: true,
          features: { age: 35, country: 'FR', tags: ['a', 'b'] },
          statuses: { age: 'PRESENT', country: 'PRESENT', tags: 'PRESENT' },
          event_timestamps: { age: NOW - DAY, country: NOW - DAY, tags: NOW - DAY },
          realtime: null,
        });
        const item = await (await api.get('/v1/items/i1/features')).json();
        expect(item.features).toEqual({ price: 9, genres: ['drama'] });
        expect(item.event_timestamps.price).toBe(NOW - 2 * DAY);
        const unknown = await (await api.get('/v1/users/nobody/features')).json();
        expect(unknown).toMatchObject({ found: false, features: {}, realtime: null });
      });

      it('selects features, marks NOT_FOUND and OUTSIDE_MAX_AGE', async () => {
        await api.post('/v1/features/push', {
          rows: [
            { entity: 'user', id: 'u1', features: { fresh: 1 }, event_ts: NOW - 1000 },
            { entity: 'user', id: 'u1', features: { old: 2 }, event_ts: NOW - 10 * DAY },
          ],
        });
        const body = await (await api.get('/v1/users/u1/features?features=fresh,old,missing&max_age_s=86400')).json();
        expect(body.statuses).toEqual({ fresh: 'PRESENT', old: 'OUTSIDE_MAX_AGE', missing: 'NOT_FOUND' });
        expect(body.features).toEqual({ fresh: 1, old: 2, missing: null });
        expect(body.event_timestamps.missing).toBeNull();
        const bad = await api.get('/v1/users/u1/features?features=ok,no%20spaces');
        expect(bad.status).toBe(400);
      });

      it('keeps newer values: a push with an older event time is stale', async () => {
        await api.post('/v1/features/push', {
          rows: [{ entity: 'user', id: 'u1', features: { a: 2 }, event_ts: NOW }],
        });
        const r = await (
          await api.post('/v1/features/push', {
            rows: [{ entity: 'user', id: 'u1', features: { a: 1 }, event_ts: NOW - 5 }],
          })
        ).json();
        expect(r).toMatchObject({ written: 0, stale: 1 });
        expect((await (await api.get('/v1/users/u1/features')).json()).features.a).toBe(2);
      });

      it('refuses pushes of real-time columns', async () => {
        const res = await api.post('/v1/features/push', {
          rows: [{ entity: 'user', id: 'u1', features: { recent_items: ['x'] } }],
        });
        expect(res.status).toBe(400);
        expect((await errorOf(res)).message).toContain('recent_items');
      });

      it('answers Feast-style batch lookups: entity columns, then one column per feature', async () => {
        await api.post('/v1/features/push', {
          rows: [
            { entity: 'user', id: 'u1', features: { age: 30 }, event_ts: NOW - 1 },
            { entity: 'user', id: 'u3', features: { age: 40 }, event_ts: NOW - 2 },
            { entity: 'item', id: 'i9', features: { price: 3 }, event_ts: NOW - 3 },
          ],
        });
        const res = await api.post('/v1/features/online', {
          features: ['user:age', 'item:price'],
          entities: { user_id: ['u1', 'u2', 'u3'], item_id: ['i9', 'i9', 'none'] },
        });
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({
          metadata: { feature_names: ['user_id', 'item_id', 'user:age', 'item:price'], model: null },
          results: [
            {
              values: ['u1', 'u2', 'u3'],
              statuses: ['PRESENT', 'PRESENT', 'PRESENT'],
              event_timestamps: [null, null, null],
            },
            {
              values: ['i9', 'i9', 'none'],
              statuses: ['PRESENT', 'PRESENT', 'PRESENT'],
              event_timestamps: [null, null, null],
            },
            {
              values: [30, null, 40],
              statuses: ['PRESENT', 'NOT_FOUND', 'PRESENT'],
              event_timestamps: [NOW - 1, null, NOW - 2],
            },
            {
              values: [3, 3, null],
              statuses: ['PRESENT', 'PRESENT', 'NOT_FOUND'],
              event_timestamps: [NOW - 3, NOW - 3, null],
            },
          ],
        });
        const mismatch = await api.post('/v1/features/online', {
          features: ['user:age'],
          entities: { user_id: ['a'], item_id: ['x', 'y'] },
        });
        expect(mismatch.status).toBe(400);
        const context = await api.post('/v1/features/online', {
          features: ['context:hour'],
          entities: { user_id: ['a'] },
        });
        expect(context.status).toBe(400);
        const noEntity = await api.post('/v1/features/online', {
          features: ['item:price'],
          entities: { user_id: ['a'] },
        });
        expect((await errorOf(noEntity)).message).toContain('item_id');
      });

      it('validates pushes against the promoted feature spec, all or nothing', async () => {
        await publish(api, await makeBundle());
        const unknown = await api.post('/v1/features/push', {
          rows: [
            { entity: 'user', id: 'u1', features: { age: 20 } },
            { entity: 'user', id: 'u2', features: { shoe_size: 44 } },
          ],
        });
        expect(unknown.status).toBe(422);
        const err = await errorOf(unknown);
        expect(err.code).toBe('unknown_feature');
        expect(err.message).toBe(
          "Row 1: 'shoe_size' is not a user feature source in the spec (known: age, country, recent_items) " +
            "(spec of ranker@1); nothing was written. To validate against another model's spec, name it: " +
            '"model": "NAME" in the body.',
        );
        expect((await (await api.get('/v1/users/u1/features')).json()).found).toBe(false);
        const wrongKind = await api.post('/v1/features/push', {
          rows: [{ entity: 'user', id: 'u1', features: { age: 'old' } }],
        });
        expect(wrongKind.status).toBe(422);
        expect((await errorOf(wrongKind)).code).toBe('spec_violation');
        const ok = await api.post('/v1/features/push', {
          rows: [
            { entity: 'user', id: 'u1', features: { age: 35, country: 'FR' } },
            { entity: 'item', id: 'i1', features: { genres: ['comedy', 'drama'], price: 9, category: 'horror' } },
          ],
        });
        expect(ok.status).toBe(200);
        expect((await ok.json()).spec).toEqual({ model: 'ranker', version: '1' });
      });

      it('answers model-ready values transformed with the shared module', async () => {
        const noSpec = await api.get('/v1/users/u1/features?transform=1');
        expect(noSpec.status).toBe(404);
        expect((await errorOf(noSpec)).code).toBe('model_not_found');
        await publish(api, await makeBundle());
        await api.post('/v1/features/push', {
          rows: [
            { entity: 'user', id: 'u1', features: { age: 35, country: 'FR' } },
            {
              entity: 'item',
              id: 'i1',
              features: { genres: ['comedy', 'drama', 'western'], price: 9, category: 'horror' },
            },
          ],
        });
        await api.post('/v1/events', {
          events: [apiEvent('t1', { item_id: 'a', ts: NOW - 3 }), apiEvent('t2', { item_id: 'b', ts: NOW - 2 })],
        });
        const user = await (await api.get('/v1/users/u1/features?transform=true')).json();
        expect(user.model_ready).toEqual({
          model: 'ranker',
          version: '1',
          values: {
            'user:age_bucket': 2,
            'user:country': hashBucket('FR', 100),
            'user:history': [hashBucket('a', 1000), hashBucket('b', 1000), 0, 0],
          },
        });
        const online = await (
          await api.post('/v1/features/online', {
            features: ['item:genres', 'item:price', 'item:category'],
            entities: { item_id: ['i1', 'zz'] },
            transform: true,
          })
        ).json();
        expect(online.metadata.model).toEqual({ name: 'ranker', version: '1' });
        expect(online.results[1].values).toEqual([
          [3, 2, 1],
          [0, 0, 0],
        ]);
        expect(online.results[2].values[0]).toBeCloseTo(Math.log(10), 6);
        expect(online.results[2].statuses).toEqual(['PRESENT', 'NOT_FOUND']);
        expect(online.results[3].values).toEqual([4, 0]);
        const notInSpec = await api.post('/v1/features/online', {
          features: ['item:nope'],
          entities: { item_id: ['i1'] },
          transform: true,
        });
        expect(notInSpec.status).toBe(422);
      });
      it("answers user:id and item:id as the entity key's index in the bundle's vocabulary, not padding", async () => {
        // The trainer reads `user:id` from the key column (here named `userId`); no pushed row holds it. The edge
        // answered the padding index 0 for every user, so every visitor's engine got the same user vector.
        const spec: FeatureSpecInput = {
          features: [
            { name: 'user:id', kind: 'categorical', source: 'userId' },
            { name: 'user:country', kind: 'categorical', buckets: 100 },
            { name: 'item:id', kind: 'categorical' },
          ],
        };
        const vocab = { 'user:id': ['u0', 'u1', 'u2'], 'item:id': ['i0', 'i1'] };
        await publish(api, await makeBundle('ranker', '1', undefined, spec, vocab));
        await api.post('/v1/features/push', { rows: [{ entity: 'user', id: 'u1', features: { country: 'FR' } }] });
        const values = async (path: string) => (await (await api.get(`${path}?transform=1`)).json()).model_ready.values;
        // PAD 0, OOV 1, then the vocabulary from 2.
        expect(await values('/v1/users/u1/features')).toEqual({ 'user:id': 3, 'user:country': hashBucket('FR', 100) });
        expect((await values('/v1/users/u2/features'))['user:id']).toBe(4);
        expect((await values('/v1/users/stranger/features'))['user:id']).toBe(1);
        expect(await values('/v1/items/i1/features')).toEqual({ 'item:id': 3 });
        const online = await (
          await api.post('/v1/features/online', {
            features: ['user:id', 'user:country'],
            entities: { user_id: ['u0', 'u1', 'stranger'] },
            transform: true,
          })
        ).json();
        expect(online.results[1]).toMatchObject({ values: [2, 3, 1], statuses: ['PRESENT', 'PRESENT', 'PRESENT'] });
        const raw = await (
          await api.post('/v1/features/online', { features: ['user:id'], entities: { user_id: ['u1', 'stranger'] } })
        ).json();
        expect(raw.results[1].values).toEqual(['u1', 'stranger']);
      });
    });

    describe('events', () => {
      it('answers 202 with counts, and is idempotent on event_id', async () => {
        const batch = {
          events: [
            apiEvent('e1'),
            apiEvent('e2', {
              ts: new Date(NOW - 500).toISOString(),
              value: 4.5,
              context: { device: 'ios', category: 'drama' },
            }),
          ],
        };
        const first = await api.post('/v1/events', batch);
        expect(first.status).toBe(202);
        expect(await first.json()).toEqual({ accepted: 2, duplicate: 0, rejected: 0, rejections: [] });
        const retry = await (await api.post('/v1/events', batch)).json();
        expect(retry).toEqual({ accepted: 0, duplicate: 2, rejected: 0, rejections: [] });
        const rt = (await (await api.get('/v1/users/u1/features')).json()).realtime;
        expect(rt.event_count).toBe(2);
        expect(rt.history).toHaveLength(2);
      });

      it(
        'rejects invalid events with reasons and keeps the ' + 'valid ones; a batch of only invalid events is a 400',
        async () => {
          const res = await api.post('/v1/events', {
            events: [
              apiEvent('ok1'),
              apiEvent('bad-ts', { ts: 'yesterday' }),
              apiEvent('future', { ts: NOW + 2 * DAY }),
              apiEvent('seconds', { ts: Math.floor(NOW / 1000) }),
              { ...apiEvent('extra'), surprise: 1 },
              apiEvent("x'; DROP TABLE events;--"),
              apiEvent('bad-type', { type: 'Click Me' }),
              apiEvent('bad-value', { value: 'NaN' }),
              'not an object',
            ],
          });
          expect(res.status).toBe(202);
          const body = await res.json();
          expect(body).toMatchObject({ accepted: 1, duplicate: 0, rejected: 8 });
          expect(body.rejections.map((r: { index: number }) => r.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
          expect(body.rejections[1].reasons[0]).toContain('future');
          expect(body.rejections[2].reasons[0]).toContain('after 2000');
          expect(body.rejections[0].event_id).toBe('bad-ts');
          const none = await api.post('/v1/events', { events: [apiEvent('x', { user_id: '' })] });
          expect(none.status).toBe(400);
          expect((await errorOf(none)).code).toBe('invalid_events');
          const tooMany = await api.post('/v1/events', {
            events: Array.from({ length: 1001 }, (_, i) => apiEvent(`m${i}`)),
          });
          expect(tooMany.status).toBe(400);
        },
      );

      it('updates real-time features: history, decayed counters, last seen', async () => {
        await api.post('/v1/features/push', {
          rows: [{ entity: 'item', id: 'film', features: { category: 'drama' } }],
        });
        await api.post('/v1/events', {
          events: [
            apiEvent('r1', { item_id: 'film', ts: NOW - 3000 }),
            apiEvent('r2', { item_id: 'film', type: 'view', ts: NOW - 2000 }),
            apiEvent('r3', { item_id: 'show', ts: NOW - 1000, context: { category: ['comedy', 'drama'] } }),
            apiEvent('r4', { user_id: 'u2', item_id: 'film', type: 'purchase', value: 12, ts: NOW - 4000 }),
            apiEvent('r5', { user_id: 'u3', item_id: 'doc', type: 'rating', value: 3.5, ts: NOW - 2000 }),
            apiEvent('r6', { user_id: 'u3', item_id: 'show', type: 'rating', value: 4, ts: NOW - 1000 }),
          ],
        });
        // The history holds the positives only, as the trainer's does: not u1's view, not u3's rating under 4.
        const user = await (await api.get('/v1/users/u1/features')).json();
        expect(user.realtime.history.map((h: { item_id: string }) => h.item_id)).toEqual(['show', 'film']);
        expect(user.features.recent_items).toEqual(['film', 'show']);
        expect(user.features.recent_types).toEqual(['click', 'click']);
        expect((await (await api.get('/v1/users/u3/features')).json()).features.recent_items).toEqual(['show']);
        expect(user.realtime.category_counts.drama).toBeCloseTo(3, 4);
        expect(user.realtime.category_counts.comedy).toBeCloseTo(1, 4);
        expect(user.features.top_categories).toEqual(['drama', 'comedy']);
        expect(user.realtime).toMatchObject({ first_seen: NOW - 3000, last_seen: NOW - 1000, event_count: 3 });
        const item = await (await api.get('/v1/items/film/features')).json();
        expect(item.realtime.popularity.click).toBeCloseTo(1, 4);
        expect(item.realtime.popularity.view).toBeCloseTo(1, 4);
        expect(item.realtime.popularity.purchase).toBeCloseTo(1, 4);
        expect(item.features.popularity).toBeCloseTo(3, 4);
        expect(item.features.category).toBe('drama');
        expect(item.realtime.event_count).toBe(3);
        const online = await (
          await api.post('/v1/features/online', {
            features: ['user:recent_items', 'user:last_seen'],
            entities: { user_id: ['u1', 'u2'] },
          })
        ).json();
        expect(online.results[1].values).toEqual([['film', 'show'], ['film']]);
        expect(online.results[2].values).toEqual([NOW - 1000, NOW - 4000]);
      });

      it('counts each event once when the same batch arrives concurrently', async () => {
        const batch = { events: Array.from({ length: 20 }, (_, i) => apiEvent(`c${i}`, { ts: NOW - i })) };
        const results = await Promise.all(
          Array.from({ length: 4 }, () => api.post('/v1/events', batch).then((r) => r.json())),
        );
        expect(results.reduce((n, r) => n + r.accepted, 0)).toBe(20);
        expect(results.reduce((n, r) => n + r.duplicate, 0)).toBe(60);
        const rt = (await (await api.get('/v1/users/u1/features')).json()).realtime;
        expect(rt.event_count).toBe(20);
        expect((await (await api.get('/v1/items/i1/features')).json()).realtime.popularity.click).toBeCloseTo(20, 4);
      });

      it("stores a visitor's event whose event_id another visitor already used: ids are unique per user", async () => {
        const visitor = async (sub: string) => client(app, await token('events:write features:read', { sub }), env);
        const [alice, bob] = [await visitor('alice'), await visitor('bob')];
        const post = async (as: Client, events: unknown[]) => (await as.post('/v1/events', { events })).json();
        expect(await post(alice, [apiEvent('shared', { user_id: 'alice' })])).toMatchObject({ accepted: 1 });
        // Was 202 { accepted: 0, duplicate: 1 }: Bob's event dropped, and Bob told that the id was taken.
        expect(await post(bob, [apiEvent('shared', { user_id: 'bob', item_id: 'i2' })])).toMatchObject({
          accepted: 1,
          duplicate: 0,
        });
        expect(await post(bob, [apiEvent('shared', { user_id: 'bob', item_id: 'i2' })])).toMatchObject({
          accepted: 0,
          duplicate: 1,
        });
        const history = async (as: Client, user: string) =>
          (await (await as.get(`/v1/users/${user}/features`)).json()).realtime.history.map(
            (h: { item_id: string }) => h.item_id,
          );
        expect(await history(bob, 'bob')).toEqual(['i2']);
        expect(await history(alice, 'alice')).toEqual(['i1']);
        // A service's batch across users: the id once per user, a user's repeat a duplicate.
        const mixed = ['carol', 'dave', 'carol', 'alice'].map((u) => apiEvent('shared', { user_id: u }));
        expect(await post(api, mixed)).toMatchObject({ accepted: 2, duplicate: 2 });
      });

      // Auth0's subjects hold a '|' (`auth0|5f3a9b`, `google-oauth2|1234`): refused as ids before, so every
      // features read and event of such a visitor was a 400 while its token was accepted.
      it("takes an Auth0 subject as the visitor's id, as is or percent-encoded in a path", async () => {
        const sub = 'auth0|5f3a9b';
        const visitor = client(app, await token('events:write features:read', { sub }), env);
        expect(
          await (await visitor.post('/v1/events', { events: [apiEvent('a1', { user_id: sub })] })).json(),
        ).toMatchObject({ accepted: 1, rejected: 0 });
        for (const path of [`/v1/users/${sub}/features`, `/v1/users/${encodeURIComponent(sub)}/features`]) {
          const res = await visitor.get(path);
          expect(res.status, path).toBe(200);
          const body = await res.json();
          expect(body.id).toBe(sub);
          expect(body.realtime.history.map((h: { item_id: string }) => h.item_id)).toEqual(['i1']);
        }
        // Still one visitor's: another '|' id is refused to it.
        expect((await visitor.get('/v1/users/auth0|other/features')).status).toBe(403);
      });
    });

    describe('model registry', () => {
      it('pages through a model with more versions than the limit, each version once, in creation order', async () => {
        // Created out of name order; manifests alone (versions need not be complete to be listed).
        const order = ['3', '1', '5', '2', '4'];
        for (const v of order) {
          const res = await api.put(`/v1/models/ranker/${v}/manifest.json`, (await makeBundle('ranker', v)).manifest);
          expect(res.status).toBe(201);
        }
        await publish(api, await makeBundle('other', '1'));
        const seen: string[] = [];
        const pages: number[] = [];
        // At most as many pages as versions (an edge that ignores the cursor must not loop here forever).
        for (let after = '0', n = 0; n < order.length; n++) {
          const res = await api.get(`/v1/models/ranker?limit=2&after=${after}`);
          expect(res.status).toBe(200);
          const page = await res.json();
          seen.push(...page.versions.map((v: { version: string }) => v.version));
          pages.push(page.versions.length);
          if (page.next === null) break;
          after = page.next;
        }
        expect(seen).toEqual(order);
        expect(pages).toEqual([2, 2, 1]);
        // One page holds them all: no next page.
        expect(await (await api.get('/v1/models/ranker')).json()).toMatchObject({ next: null, promoted: null });
        for (const query of ['limit=0', 'limit=1001', 'limit=x', 'after=-1', 'after=abc']) {
          const bad = await api.get(`/v1/models/ranker?${query}`);
          expect(bad.status, query).toBe(400);
          expect((await errorOf(bad)).code).toBe('invalid_request');
        }
        expect((await api.get('/v1/models/nothing?after=5')).status).toBe(404);
        // Past the last version: an empty page of a model that exists.
        expect(await (await api.get('/v1/models/ranker?after=999999')).json()).toMatchObject({
          versions: [],
          next: null,
        });
      });

      it('refuses to publish a deleted version again: its files were served as immutable', async () => {
        await publish(api, await makeBundle('ranker', '1'), false);
        await publish(api, await makeBundle('ranker', '2'));
        expect((await api.call('DELETE', '/v1/models/ranker/1')).status).toBe(200);
        // Was 201: a new bundle under ranker@1, whose file URLs browsers and CDNs may answer with the old bytes.
        for (const bundle of [
          await makeBundle('ranker', '1'),
          await makeBundle('ranker', '1', { 'x.bin': enc('new') }),
        ]) {
          const again = await api.put('/v1/models/ranker/1/manifest.json', bundle.manifest);
          expect(again.status).toBe(409);
          const err = await errorOf(again);
          expect(err.code).toBe('version_deleted');
          expect(err.message).toBe(
            'ranker@1 was deleted and browsers or CDNs may still cache its files, so it cannot be published again: ' +
              'publish it under a new version.',
          );
        }
        expect((await api.get('/v1/models/ranker/1/manifest.json')).status).toBe(404);
        const model = await (await api.get('/v1/models/ranker')).json();
        expect(model.versions.map((v: { version: string }) => v.version)).toEqual(['2']);
        // Another model's version 1, and a new version of this one, are published as ever.
        await publish(api, await makeBundle('other', '1'));
        await publish(api, await makeBundle('ranker', '3'));
      });

      it('uploads a bundle file by file, checks sizes and sha256, promotes, serves latest with an ETag', async () => {
        const bundle = await makeBundle('ranker', '1', {
          'ranking.bin': enc('W'.repeat(300)),
          'sub/items.bin': enc('I'.repeat(50)),
        });
        const base = '/v1/models/ranker/1';
        const created = await api.put(`${base}/manifest.json`, bundle.manifest);
        expect(created.status).toBe(201);
        expect(await created.json()).toEqual({
          name: 'ranker',
          version: '1',
          file: 'manifest.json',
          result: 'created',
          missing: ['ranking.bin', 'sub/items.bin'],
        });
        expect((await api.put(`${base}/manifest.json`, bundle.manifest)).status).toBe(200);
        const other = await api.put(
          `${base}/manifest.json`,
          (await makeBundle('ranker', '1', { 'ranking.bin': enc('other') })).manifest,
        );
        expect(other.status).toBe(409);
        expect((await errorOf(other)).code).toBe('version_exists');

        const early = await api.post(`${base}/promote`);
        expect(early.status).toBe(409);
        expect((await errorOf(early)).details).toEqual({ missing: ['ranking.bin', 'sub/items.bin'] });

        const corrupt = await api.put(`${base}/ranking.bin`, enc('X'.repeat(300)));
        expect(corrupt.status).toBe(422);
        expect((await errorOf(corrupt)).code).toBe('checksum_mismatch');
        const short = await api.put(`${base}/ranking.bin`, enc('W'.repeat(299)));
        expect(short.status).toBe(422);
        expect((await errorOf(short)).code).toBe('size_mismatch');
        expect((await api.put(`${base}/unlisted.bin`, enc('x'))).status).toBe(404);
        expect((await api.put('/v1/models/ranker/9/ranking.bin', enc('x'))).status).toBe(404);

        expect((await api.put(`${base}/ranking.bin`, bundle.files['ranking.bin'])).status).toBe(201);
        expect((await api.put(`${base}/ranking.bin`, bundle.files['ranking.bin'])).status).toBe(200);
        const last = await api.put(`${base}/sub/items.bin`, bundle.files['sub/items.bin']);
        expect(await last.json()).toMatchObject({ result: 'stored', missing: [] });
        const promoted = await api.post(`${base}/promote`);
        expect(await promoted.json()).toEqual({ name: 'ranker', promoted: '1', previous: null });

        const latest = await api.get('/v1/models/ranker/latest');
        expect(latest.status).toBe(200);
        const etag = `"${await sha256Hex(bundle.manifest)}"`;
        expect(latest.headers.get('etag')).toBe(etag);
        expect(latest.headers.get('cache-control')).toBe('no-cache');
        expect(latest.headers.get('vireo-model-version')).toBe('1');
        expect(latest.headers.get('content-type')).toContain('application/json');
        expect(new Uint8Array(await latest.arrayBuffer())).toEqual(bundle.manifest);
        const notModified = await api.get('/v1/models/ranker/latest', { headers: { 'if-none-match': etag } });
        expect(notModified.status).toBe(304);
        expect(await notModified.text()).toBe('');
      });

      it('serves versioned files with ETag, Range and immutable caching', async () => {
        const bytes = enc(Array.from({ length: 100 }, (_, i) => String.fromCharCode(65 + (i % 26))).join(''));
        await publish(api, await makeBundle('ranker', '1', { 'w.bin': bytes }));
        const path = '/v1/models/ranker/1/w.bin';
        const whole = await api.get(path);
        expect(whole.status).toBe(200);
        expect(whole.headers.get('etag')).toBe(`"${await sha256Hex(bytes)}"`);
        expect(whole.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(whole.headers.get('accept-ranges')).toBe('bytes');
        expect(whole.headers.get('content-length')).toBe('100');
        expect(new Uint8Array(await whole.arrayBuffer())).toEqual(bytes);
        const part = await api.get(path, { headers: { range: 'bytes=10-19' } });
        expect(part.status).toBe(206);
        expect(part.headers.get('content-range')).toBe('bytes 10-19/100');
        expect(await part.text()).toBe('KLMNOPQRST');
        const suffix = await api.get(path, { headers: { range: 'bytes=-5' } });
        expect(await suffix.text()).toBe(new TextDecoder().decode(bytes.slice(95)));
        const open = await api.get(path, { headers: { range: 'bytes=98-' } });
        expect(open.headers.get('content-range')).toBe('bytes 98-99/100');
        const outside = await api.get(path, { headers: { range: 'bytes=100-200' } });
        expect(outside.status).toBe(416);
        expect(outside.headers.get('content-range')).toBe('bytes */100');
        expect((await errorOf(outside)).code).toBe('range_not_satisfiable');
        const staleIfRange = await api.get(path, { headers: { range: 'bytes=0-1', 'if-range': '"other"' } });
        expect(staleIfRange.status).toBe(200);
        expect((await api.get(path, { headers: { 'if-none-match': whole.headers.get('etag')! } })).status).toBe(304);
        const head = await api.call('HEAD', path);
        expect(head.status).toBe(200);
        expect(head.headers.get('content-length')).toBe('100');
        expect(await head.text()).toBe('');
        expect((await api.get('/v1/models/ranker/1/missing.bin')).status).toBe(404);
        expect((await api.get('/v1/models/ranker/2/w.bin')).status).toBe(404);
      });

      it('promotes and rolls back versions, and lists the model', async () => {
        await publish(api, await makeBundle('ranker', '1'));
        await publish(api, await makeBundle('ranker', '2', { 'ranking.safetensors': safetensorsBytes(51) }));
        expect((await api.get('/v1/models/ranker/latest')).headers.get('vireo-model-version')).toBe('2');
        const back = await api.post('/v1/models/ranker/rollback');
        expect(await back.json()).toEqual({ name: 'ranker', promoted: '1', previous: '2' });
        expect((await api.get('/v1/models/ranker/latest')).headers.get('vireo-model-version')).toBe('1');
        const none = await api.post('/v1/models/ranker/rollback');
        expect(none.status).toBe(409);
        expect((await errorOf(none)).code).toBe('nothing_to_roll_back');
        const model = await (await api.get('/v1/models/ranker')).json();
        expect(model.promoted).toBe('1');
        expect(model.versions.map((v: { version: string; complete: boolean }) => [v.version, v.complete])).toEqual([
          ['1', true],
          ['2', true],
        ]);
        expect(model.history.map((h: { action: string; version: string }) => `${h.action}:${h.version}`)).toEqual([
          'promote:1',
          'promote:2',
          'rollback:1',
        ]);
        expect(model.history[0].by).toBe('tester');
        expect((await api.get('/v1/models/nothing')).status).toBe(404);
        expect((await api.get('/v1/models/nothing/latest')).status).toBe(404);
        expect((await api.post('/v1/models/ranker/7/promote')).status).toBe(404);
      });

      it('lists the newest promotions with the model, and pages through the whole history', async () => {
        for (const v of ['1', '2', '3']) await publish(api, await makeBundle('ranker', v));
        // 3 promotions by publish, then 22 more by hand and one rollback: 26 entries.
        for (let i = 0; i < 22; i++)
          expect((await api.post(`/v1/models/ranker/${1 + (i % 3)}/promote`)).status).toBe(200);
        expect((await api.post('/v1/models/ranker/rollback')).status).toBe(200);
        const model = await (await api.get('/v1/models/ranker')).json();
        // The 22nd promoted 1 over 3 (21st): rolled back to 3, a rollback would return to 2.
        expect([model.promoted, model.rollbackTo]).toEqual(['3', '2']);
        expect(model.history.map((h: { seq: number }) => h.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 7 + i));
        expect(model.historyBefore).toBe('7');
        const older = await (
          await api.get(`/v1/models/ranker/promotions?before=${model.historyBefore}&limit=4`)
        ).json();
        expect(older.promotions.map((h: { seq: number; action: string }) => h.seq)).toEqual([3, 4, 5, 6]);
        expect(older.before).toBe('3');
        const first = await (await api.get('/v1/models/ranker/promotions?before=3')).json();
        expect(first.promotions.map((h: { action: string; version: string }) => `${h.action}:${h.version}`)).toEqual([
          'promote:1',
          'promote:2',
        ]);
        expect(first.before).toBeNull();
        const newest = await (await api.get('/v1/models/ranker/promotions?limit=1')).json();
        expect(newest.promotions).toEqual([
          { seq: 26, action: 'rollback', version: '3', at: expect.any(Number), by: 'tester' },
        ]);
        for (const query of ['before=0', 'before=x', 'limit=0', 'limit=1001'])
          expect((await api.get(`/v1/models/ranker/promotions?${query}`)).status, query).toBe(400);
        const none = await api.get('/v1/models/nothing/promotions');
        expect([none.status, (await errorOf(none)).code]).toEqual([404, 'model_not_found']);
        // A model published but never promoted: an empty history, not a 404.
        await publish(api, await makeBundle('other', '1'), false);
        expect(await (await api.get('/v1/models/other/promotions')).json()).toEqual({
          name: 'other',
          promotions: [],
          before: null,
        });
      });

      it('deletes a version neither promoted nor the rollback target: its files go, the others stay', async () => {
        const weights = safetensorsBytes(50);
        for (const v of ['1', '2', '3']) await publish(api, await makeBundle('ranker', v));
        // Not promoted, with the same file bytes as 1: its files are its own.
        const four = await makeBundle('ranker', '4');
        await publish(api, four, false);
        const visitor = client(app, await token('features:read', { sub: 'visitor' }), env);
        const forbidden = await visitor.call('DELETE', '/v1/models/ranker/1');
        expect(forbidden.status).toBe(403);
        expect((await errorOf(forbidden)).code).toBe('insufficient_scope');
        for (const path of ['/v1/models/Bad_Name/1', '/v1/models/ranker/-1', '/v1/models/ranker/latest'])
          expect((await api.call('DELETE', path)).status, path).toBe(400);
        const noModel = await api.call('DELETE', '/v1/models/nothing/1');
        expect([noModel.status, (await errorOf(noModel)).code]).toEqual([404, 'model_not_found']);
        const noVersion = await api.call('DELETE', '/v1/models/ranker/9');
        expect([noVersion.status, (await errorOf(noVersion)).code]).toEqual([404, 'version_not_found']);

        // Promoted: 3; a rollback would return to 2. Both refused, with one sentence.
        const promoted = await api.call('DELETE', '/v1/models/ranker/3');
        expect(promoted.status).toBe(409);
        const p = await errorOf(promoted);
        expect(p.code).toBe('version_promoted');
        expect(p.message).toBe(
          'ranker@3 is the promoted version: promote another one (or roll back) before deleting it.',
        );
        const target = await api.call('DELETE', '/v1/models/ranker/2');
        expect(target.status).toBe(409);
        const t = await errorOf(target);
        expect(t.code).toBe('rollback_target');
        expect(t.message).toBe(
          'ranker@2 is the version a rollback would return to now: promote another one before deleting it.',
        );

        const deleted = await api.call('DELETE', '/v1/models/ranker/1');
        expect(deleted.status).toBe(200);
        const manifest1 = (await makeBundle('ranker', '1')).manifest;
        expect(await deleted.json()).toEqual({
          name: 'ranker',
          version: '1',
          files: 2,
          bytes: manifest1.byteLength + weights.byteLength,
        });
        for (const file of ['manifest.json', 'ranking.safetensors'])
          expect((await api.get(`/v1/models/ranker/1/${file}`)).status, file).toBe(404);
        expect((await api.call('DELETE', '/v1/models/ranker/1')).status).toBe(404);
        expect((await api.post('/v1/models/ranker/1/promote')).status).toBe(404);
        // The others are as they were, the history too.
        const model = await (await api.get('/v1/models/ranker')).json();
        expect(model.promoted).toBe('3');
        expect(model.versions.map((v: { version: string }) => v.version)).toEqual(['2', '3', '4']);
        expect(model.history.map((h: { action: string; version: string }) => `${h.action}:${h.version}`)).toEqual([
          'promote:1',
          'promote:2',
          'promote:3',
        ]);
        const kept = await api.get('/v1/models/ranker/4/ranking.safetensors');
        expect(new Uint8Array(await kept.arrayBuffer())).toEqual(four.files['ranking.safetensors']);
        expect((await api.get('/v1/models/ranker/latest')).headers.get('vireo-model-version')).toBe('3');
        expect(await (await api.call('DELETE', '/v1/models/ranker/4')).json()).toMatchObject({
          version: '4',
          files: 2,
        });

        // Rolled back to 2, a rollback would return to 1, which is gone: refused, 2 stays promoted.
        expect((await api.post('/v1/models/ranker/rollback')).status).toBe(200);
        const gone = await api.post('/v1/models/ranker/rollback');
        expect(gone.status).toBe(409);
        expect((await errorOf(gone)).message).toBe(
          'ranker@1, the version a rollback would return to, was deleted: promote a version instead.',
        );
        expect((await api.get('/v1/models/ranker/latest')).headers.get('vireo-model-version')).toBe('2');
        // 3 is neither promoted nor the rollback target any more.
        expect((await api.call('DELETE', '/v1/models/ranker/3')).status).toBe(200);
        // The listing names the largest whole-number version deleted (4, then 3 and 1), and the stack's top two.
        const after = await (await api.get('/v1/models/ranker')).json();
        expect([after.highestDeleted, after.promoted, after.rollbackTo]).toEqual(['4', '2', '1']);
        expect(after.versions.map((v: { version: string }) => v.version)).toEqual(['2']);
      });

      it('refuses invalid manifests with the path of the problem', async () => {
        const res = await api.put(
          '/v1/models/ranker/1/manifest.json',
          enc(JSON.stringify({ name: 'ranker', version: '1', files: [] })),
        );
        expect(res.status).toBe(422);
        const err = await errorOf(res);
        expect(err.code).toBe('invalid_manifest');
        expect((err.details as { issues: string[] }).issues.length).toBeGreaterThan(0);
        const wrongName = await api.put('/v1/models/other/1/manifest.json', (await makeBundle('ranker', '1')).manifest);
        expect(wrongName.status).toBe(422);
        expect((await errorOf(wrongName)).message).toContain('ranker@1');
        expect((await api.put('/v1/models/ranker/1/manifest.json', enc('{not json'))).status).toBe(422);
        expect((await api.put('/v1/models/ranker/latest/manifest.json', enc('{}'))).status).toBe(400);
        expect((await api.put('/v1/models/Bad Name/1/manifest.json', enc('{}'))).status).toBe(400);
      });
    });

    describe('operations', () => {
      it('reports health, metrics in Prometheus text and an OpenAPI document', async () => {
        expect(await (await api.get('/healthz')).json()).toMatchObject({ status: 'ok' });
        await api.post('/v1/events', { events: [apiEvent('m1'), apiEvent('m1'), apiEvent('bad', { ts: -1 })] });
        await api.get('/v1/users/u1/features');
        await api.get('/v1/users/ghost/features');
        const metrics = await api.get('/metrics');
        expect(metrics.headers.get('content-type')).toContain('text/plain');
        const text = await metrics.text();
        expect(text).toContain('vireo_events_total{outcome="accepted"} 1');
        expect(text).toContain('vireo_events_total{outcome="duplicate"} 1');
        expect(text).toContain('vireo_events_total{outcome="rejected"} 1');
        expect(text).toContain('vireo_feature_lookups_total{entity="user",result="hit"} 1');
        expect(text).toContain('vireo_feature_lookups_total{entity="user",result="miss"} 1');
        expect(text).toMatch(/vireo_http_requests_total\{method="POST",route="\/v1\/events",status="202"\} 1/);
        expect(text).toContain(
          'vireo_http_request_duration_seconds_bucket' +
            '{method="GET",route="/v1/users/:id/features",status="200",le="+Inf"} 2',
        );
        const doc = await (await api.get('/openapi.json')).json();
        expect(doc.openapi).toBe('3.0.3');
        for (const path of [
          '/v1/users/{id}/features',
          '/v1/items/{id}/features',
          '/v1/features/online',
          '/v1/features/push',
          '/v1/events',
          '/v1/models/{name}',
          '/v1/models/{name}/latest',
          '/v1/models/{name}/{version}/{file}',
          '/v1/models/{name}/{version}/promote',
          '/v1/models/{name}/rollback',
          '/healthz',
        ]) {
          expect(doc.paths[path], path).toBeDefined();
        }
        expect(doc.components.schemas.Event).toBeDefined();
        expect(doc.components.securitySchemes.bearerAuth.scheme).toBe('bearer');
      });

      it('answers unknown routes and methods with the error shape, and echoes request ids', async () => {
        const res = await api.get('/v1/nothing/here', { headers: { 'x-request-id': 'req-123' } });
        expect(res.status).toBe(404);
        expect((await errorOf(res)).code).toBe('not_found');
        expect(res.headers.get('x-request-id')).toBe('req-123');
        const generated = await api.get('/healthz', { headers: { 'x-request-id': 'bad id with spaces' } });
        expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
        // A route's path with a method it does not take: 405 and the methods it does (a 404 "No route" before).
        const wrong = await api.call('DELETE', '/v1/events');
        expect(wrong.status).toBe(405);
        expect(wrong.headers.get('allow')).toBe('POST');
        expect(await errorOf(wrong)).toMatchObject({
          code: 'method_not_allowed',
          message: '/v1/events takes POST, not DELETE.',
        });
        const file = await api.call('POST', '/v1/models/m/1/dir/w.safetensors');
        expect(file.status).toBe(405);
        expect(file.headers.get('allow')).toBe('PUT, GET');
        expect((await api.call('PATCH', '/v1/models/m/1')).headers.get('allow')).toBe('DELETE');
        expect((await api.call('DELETE', '/v1/nothing')).status).toBe(404);
      });

      it('says what is wrong with a body of the wrong shape in plain words', async () => {
        // Before: "Invalid json: (root): Invalid input: expected object, received array".
        const array = await api.post('/v1/features/online', [1, 2]);
        expect(array.status).toBe(400);
        expect((await errorOf(array)).message).toBe('Invalid body: expected object, received array');
        const field = await api.post('/v1/features/online', { features: 'user:age', entities: { user_id: ['u1'] } });
        expect((await errorOf(field)).message).toBe('Invalid body: features: expected array, received string');
      });
    });
  });
}
