// The attack suite (docs/ARCHITECTURE.md, "Security"): the edge tried as an attacker would, run on
// Node (attack.test.ts: SQLite + files) and inside workerd (attack.workers.test.ts: D1 + KV + R2).
// Cross-user reads and writes, amplification, registry races (20+ trials each), corrupt bundles,
// token issuer checks and a seeded fuzz. Every response is counted; the counts are printed at the end.
import { sha256Hex } from '@vireo/core';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppOptions } from './app.ts';
import { hs256Verifier, jwksVerifier, signHs256 } from './auth/jwt.ts';
import type { EdgeApp } from './routes/deps.ts';
import { promotedStack } from './storage/sql.ts';
import {
  ALL_SCOPES,
  apiEvent,
  type Bytes,
  type TestResponse,
  client,
  errorOf,
  makeBundle,
  NOW,
  publish,
  safetensorsBytes,
  TEST_SECRET,
  TEST_SPEC,
  token,
} from '../test/helpers.ts';

export type AttackAppFactory = (
  options?: Partial<AppOptions>,
) => Promise<{ app: EdgeApp; cleanup: () => Promise<void> }>;

/** Requests sent and statuses answered, per suite. */
export type AttackTally = { requests: number; statuses: Record<number, number>; slowestMs: number };

const enc = (s: string) => new TextEncoder().encode(s) as Bytes;
const USER_SCOPES = 'features:read events:write';

/** A client that counts every response (status and time) into `tally`. */
function counted(app: EdgeApp, defaultToken: string | null, tally: AttackTally) {
  const inner = client(app, defaultToken);
  const count = async (res: Promise<TestResponse>) => {
    const t0 = performance.now();
    const r = await res;
    tally.requests++;
    tally.statuses[r.status] = (tally.statuses[r.status] ?? 0) + 1;
    tally.slowestMs = Math.max(tally.slowestMs, performance.now() - t0);
    return r;
  };
  return {
    get: (path: string, init?: Parameters<typeof inner.get>[1]) => count(inner.get(path, init)),
    post: (path: string, body?: unknown, init?: Parameters<typeof inner.post>[2]) =>
      count(inner.post(path, body, init)),
    put: (path: string, raw: BodyInit, init?: Parameters<typeof inner.put>[2]) => count(inner.put(path, raw, init)),
    call: (...a: Parameters<typeof inner.call>) => count(inner.call(...a)),
  };
}

/** A deterministic generator (mulberry32), so that a fuzz failure can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function runAttackCases(label: string, factory: AttackAppFactory): AttackTally {
  const tally: AttackTally = { requests: 0, statuses: {}, slowestMs: 0 };

  describe(`attack suite: ${label}`, () => {
    let app: EdgeApp;
    let cleanup: () => Promise<void>;
    let service: ReturnType<typeof counted>;
    let asUser: (sub: string, scope?: string) => Promise<ReturnType<typeof counted>>;

    beforeEach(async () => {
      ({ app, cleanup } = await factory());
      service = counted(app, await token(ALL_SCOPES, { sub: 'backend' }), tally);
      asUser = async (sub, scope = USER_SCOPES) => counted(app, await token(scope, { sub }), tally);
    });
    afterEach(async () => cleanup());
    afterAll(() => {
      console.log(`attack suite ${label}: ${JSON.stringify(tally)}`);
    });

    describe('a token acts for the user in its sub only', () => {
      it('answers the cross-user matrix: own data 200/202, another user 403, items and service 200', async () => {
        const users = ['u1', 'u2', 'u3'];
        await service.post('/v1/features/push', {
          rows: users.map((id) => ({ entity: 'user', id, features: { secret: `of-${id}` } })),
        });
        await service.post('/v1/features/push', { rows: [{ entity: 'item', id: 'i1', features: { price: 3 } }] });
        const matrix: string[] = [];
        for (const caller of users) {
          const api = await asUser(caller);
          for (const target of users) {
            const expectOk = caller === target;
            const read = await api.get(`/v1/users/${target}/features`);
            const online = await api.post('/v1/features/online', {
              features: ['user:secret'],
              entities: { user_id: [target] },
            });
            const events = await api.post('/v1/events', {
              events: [apiEvent(`e-${caller}-${target}`, { user_id: target })],
            });
            matrix.push(`${caller}→${target}: ${read.status} ${online.status} ${events.status}`);
            expect([read.status, online.status, events.status]).toEqual(expectOk ? [200, 200, 202] : [403, 403, 403]);
            if (!expectOk) expect((await errorOf(read)).code).toBe('forbidden_user');
            else expect((await read.json()).features.secret).toBe(`of-${caller}`);
          }
          expect((await api.get('/v1/items/i1/features')).status).toBe(200);
        }
        // A service token acts for anyone.
        for (const target of users) expect((await service.get(`/v1/users/${target}/features`)).status).toBe(200);
        expect(matrix).toHaveLength(9);
      });

      it('refuses a whole batch that names another user (403, nothing stored)', async () => {
        const u2 = await asUser('u2');
        const mixed = await u2.post('/v1/events', {
          events: [
            apiEvent('m1', { user_id: 'u2' }),
            apiEvent('m2', { user_id: 'u1' }),
            apiEvent('m3', { user_id: 'u2' }),
          ],
        });
        expect(mixed.status).toBe(403);
        expect((await errorOf(mixed)).message).toContain("'u1'");
        const u1 = await (await service.get('/v1/users/u1/features')).json();
        const u2row = await (await service.get('/v1/users/u2/features')).json();
        expect([u1.found, u2row.found]).toEqual([false, false]);
        // Batch lookups with another user among the ids: refused whole.
        const lookup = await u2.post('/v1/features/online', {
          features: ['user:age'],
          entities: { user_id: ['u2', 'u2', 'u1'] },
        });
        expect(lookup.status).toBe(403);
      });

      it('checks iss and aud when configured (401 otherwise)', async () => {
        await cleanup();
        ({ app, cleanup } = await factory({
          verifier: hs256Verifier(TEST_SECRET, { now: () => NOW, issuer: 'https://shop.example', audience: 'vireo' }),
        }));
        const exp = NOW / 1000 + 600;
        const sign = (over: Record<string, unknown>) =>
          signHs256({ sub: 'u1', scope: USER_SCOPES, exp, ...over }, TEST_SECRET);
        const cases: Array<[Record<string, unknown>, number]> = [
          [{ iss: 'https://shop.example', aud: 'vireo' }, 200],
          [{ iss: 'https://shop.example', aud: ['other', 'vireo'] }, 200],
          [{}, 401],
          [{ iss: 'https://evil.example', aud: 'vireo' }, 401],
          [{ iss: 'https://shop.example', aud: 'other' }, 401],
          [{ aud: 'vireo' }, 401],
        ];
        for (const [over, status] of cases) {
          const api = counted(app, await sign(over), tally);
          expect((await api.get('/v1/users/u1/features')).status, JSON.stringify(over)).toBe(status);
        }
      });

      it('answers 503 with Retry-After, never 500, when the JWKS is unreachable', async () => {
        await cleanup();
        ({ app, cleanup } = await factory({
          verifier: jwksVerifier({
            url: 'https://down.example/jwks.json',
            timeoutMs: 50,
            fetch: (async () => {
              throw new TypeError('fetch failed');
            }) as typeof fetch,
          }),
        }));
        const header = btoa(JSON.stringify({ alg: 'RS256', kid: 'k' })).replace(/=+$/, '');
        const payload = btoa(JSON.stringify({ sub: 'u1', exp: NOW / 1000 + 60 })).replace(/=+$/, '');
        const api = counted(app, `${header}.${payload}.c2ln`, tally);
        const res = await api.get('/v1/users/u1/features');
        expect(res.status).toBe(503);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        expect((await errorOf(res)).code).toBe('unavailable');
      });
    });

    describe('no cheap request does expensive work', () => {
      // ~0.9 MB stored under one user: the 9 KB request of the issue asked for it 1,000 times.
      const bigValue = Array.from({ length: 900 }, (_, i) => `${i}`.padEnd(1000, 'x'));

      it('refuses repeated ids and features over a large value quickly, with a small 413', async () => {
        expect(
          (
            await service.post('/v1/features/push', {
              rows: [{ entity: 'user', id: 'u1', features: { big: bigValue } }],
            })
          ).status,
        ).toBe(200);
        const u1 = await asUser('u1');
        const attacks = [
          { features: Array(256).fill('user:big'), entities: { user_id: Array(1000).fill('u1') } },
          { features: ['user:big'], entities: { user_id: Array(1000).fill('u1') } },
          {
            features: Array.from({ length: 256 }, (_, i) => `user:f${i}`),
            entities: { user_id: Array(1000).fill('u1') },
          },
        ];
        for (const body of attacks) {
          const t0 = performance.now();
          const res = await u1.post('/v1/features/online', body);
          const text = await res.text();
          const ms = performance.now() - t0;
          expect(res.status).toBe(413);
          expect(JSON.parse(text).error.code).toBe('too_much_work');
          expect(text.length).toBeLessThan(2048);
          expect(ms).toBeLessThan(2000);
        }
        // The same value asked for once is answered.
        const once = await u1.post('/v1/features/online', {
          features: ['user:big', 'user:big'],
          entities: { user_id: ['u1'] },
        });
        expect(once.status).toBe(200);
        const body = await once.json();
        expect(body.metadata.feature_names).toEqual(['user_id', 'user:big']);
        expect(body.results[1].values[0]).toHaveLength(900);
      });

      it('bounds a row read: feature names are names, not object properties', async () => {
        await service.post('/v1/features/push', {
          rows: [{ entity: 'user', id: 'u1', features: { age: 30, constructor: 'c', valueOf: 1 } }],
        });
        const res = await service.get('/v1/users/u1/features?features=constructor,toString,hasOwnProperty,valueOf,age');
        expect(res.status).toBe(200);
        const row = await res.json();
        expect(row.statuses).toEqual({
          constructor: 'PRESENT',
          toString: 'NOT_FOUND',
          hasOwnProperty: 'NOT_FOUND',
          valueOf: 'PRESENT',
          age: 'PRESENT',
        });
        expect(row.features.constructor).toBe('c');
        const proto = await service.post('/v1/features/push', undefined, {
          headers: { 'content-type': 'application/json' },
          raw: '{"rows":[{"entity":"user","id":"u1","features":{"__proto__":{"x":1}}}]}',
        });
        expect(proto.status).toBe(400);
        const lookup = await service.post('/v1/features/online', {
          features: ['user:toString', 'user:constructor'],
          entities: { user_id: ['u1'] },
        });
        const results = (await lookup.json()).results;
        expect([results[1].statuses[0], results[2].statuses[0]]).toEqual(['NOT_FOUND', 'PRESENT']);
      });

      it('refuses a manifest over the size limit before parsing, and unbounded maxLength or vocabularies', async () => {
        const huge = new Uint8Array((4 << 20) + 1).fill(0x20);
        const tooBig = await service.put('/v1/models/ranker/1/manifest.json', huge);
        expect(tooBig.status).toBe(413);
        const long = await makeBundle('ranker', '1', undefined, {
          features: [
            { name: 'user:history', source: 'recent_items', kind: 'sequence', maxLength: 20_000_000, buckets: 10 },
          ],
        });
        const res = await service.put('/v1/models/ranker/1/manifest.json', long.manifest);
        expect(res.status).toBe(422);
        expect((await errorOf(res)).message).toContain('maxLength');
        const manifest = JSON.parse(new TextDecoder().decode((await makeBundle('ranker', '2')).manifest));
        manifest.vocabularies.genres = Array.from({ length: 250_001 }, (_, i) => `g${i}`);
        const vocab = await service.put('/v1/models/ranker/2/manifest.json', JSON.stringify(manifest));
        expect(vocab.status).toBe(422);
        expect((await errorOf(vocab)).message).toContain('250001 values');
      });
    });

    describe('the registry has no races', () => {
      it('leaves exactly one promoted version after concurrent rollbacks (20 trials)', async () => {
        for (let trial = 0; trial < 20; trial++) {
          const name = `race${trial}`;
          await publish(service as never, await makeBundle(name, '1'));
          await publish(service as never, await makeBundle(name, '2'));
          const [a, b] = await Promise.all([
            service.post(`/v1/models/${name}/rollback`),
            service.post(`/v1/models/${name}/rollback`),
          ]);
          expect([a.status, b.status].sort()).toEqual([200, 409]);
          const latest = await service.get(`/v1/models/${name}/latest`);
          expect(latest.status).toBe(200);
          expect(latest.headers.get('vireo-model-version')).toBe('1');
        }
      });

      it('keeps a consistent history under concurrent promotes and rollbacks (20 trials)', async () => {
        for (let trial = 0; trial < 20; trial++) {
          const name = `mix${trial}`;
          for (const v of ['1', '2', '3']) await publish(service as never, await makeBundle(name, v), v === '1');
          const answers = await Promise.all([
            service.post(`/v1/models/${name}/2/promote`),
            service.post(`/v1/models/${name}/3/promote`),
            service.post(`/v1/models/${name}/rollback`),
          ]);
          for (const r of answers) expect([200, 409]).toContain(r.status);
          const model = await (await service.get(`/v1/models/${name}`)).json();
          const seqs = model.history.map((h: { seq: number }) => h.seq);
          expect(seqs).toEqual(seqs.map((_: number, i: number) => i + 1));
          // The head the edge keeps says what replaying the history says.
          const stack = promotedStack(model.history);
          expect([model.promoted, model.rollbackTo]).toEqual([stack.at(-1) ?? null, stack.at(-2) ?? null]);
          const latest = await service.get(`/v1/models/${name}/latest`);
          expect(latest.status).toBe(200);
          expect(latest.headers.get('vireo-model-version')).toBe(model.promoted);
        }
      });

      it('serves the manifest whose hash it acknowledged when two uploads race (20 trials)', async () => {
        for (let trial = 0; trial < 20; trial++) {
          const a = await makeBundle('ranker', `${trial}`, { 'a.safetensors': safetensorsBytes(4) });
          const b = await makeBundle('ranker', `${trial}`, { 'b.safetensors': safetensorsBytes(5 + trial) });
          const [ra, rb] = await Promise.all([
            service.put(`/v1/models/ranker/${trial}/manifest.json`, a.manifest),
            service.put(`/v1/models/ranker/${trial}/manifest.json`, b.manifest),
          ]);
          expect([ra.status, rb.status].sort()).toEqual([201, 409]);
          const winner = ra.status === 201 ? a : b;
          const served = await service.get(`/v1/models/ranker/${trial}/manifest.json`);
          const bytes = new Uint8Array(await served.arrayBuffer());
          expect(served.headers.get('etag')).toBe(`"${await sha256Hex(bytes)}"`);
          expect(new TextDecoder().decode(bytes)).toBe(new TextDecoder().decode(winner.manifest));
        }
      });
    });

    describe('a version that can be promoted loads', () => {
      it('refuses a truncated safetensors file whose manifest matches it; the version cannot be promoted', async () => {
        const whole = safetensorsBytes(64);
        for (const bad of [whole.slice(0, whole.length - 4), whole.slice(0, 6), enc('not safetensors at all')]) {
          const version = `t${bad.length}`;
          const bundle = await makeBundle('ranker', version, { 'ranking.safetensors': bad as Bytes });
          expect((await service.put(`/v1/models/ranker/${version}/manifest.json`, bundle.manifest)).status).toBe(201);
          const up = await service.put(`/v1/models/ranker/${version}/ranking.safetensors`, bad);
          expect(up.status).toBe(422);
          expect((await errorOf(up)).code).toBe('invalid_bundle');
          const promote = await service.post(`/v1/models/ranker/${version}/promote`);
          expect(promote.status).toBe(409);
        }
      });

      it('refuses manifests whose transforms cannot run: no vocabulary, standardize without mean/std', async () => {
        const specs = [
          { features: [{ name: 'item:genres', kind: 'multi_hot', maxLength: 3, vocabulary: 'nowhere' }] },
          { features: [{ name: 'item:category', kind: 'categorical' }] },
          { features: [{ name: 'user:age', kind: 'numeric', transforms: [{ op: 'standardize' }] }] },
          { features: [{ name: 'user:age', kind: 'numeric', transforms: [{ op: 'standardize', mean: 3 }] }] },
        ];
        for (const [i, spec] of specs.entries()) {
          const bundle = await makeBundle('ranker', `s${i}`, undefined, spec as never);
          const res = await service.put(`/v1/models/ranker/s${i}/manifest.json`, bundle.manifest);
          expect(res.status, JSON.stringify(spec)).toBe(422);
          expect((await errorOf(res)).code).toBe('invalid_manifest');
        }
        // The test spec (vocabularies present, no standardize) is accepted, promoted and transforms.
        await publish(service as never, await makeBundle('ranker', 'ok', undefined, TEST_SPEC));
        const read = await service.get('/v1/items/i1/features?transform=true');
        expect(read.status).toBe(200);
      });

      it('refuses file names the upload route would refuse, at manifest time', async () => {
        for (const [i, name] of ['x//y', '.', 'a/./b', 'a/../b', 'manifest.json', 'dir/'].entries()) {
          const bundle = await makeBundle('ranker', `n${i}`, { 'ranking.safetensors': safetensorsBytes(2) });
          const manifest = JSON.parse(new TextDecoder().decode(bundle.manifest));
          manifest.files[0].name = name;
          const res = await service.put(`/v1/models/ranker/n${i}/manifest.json`, JSON.stringify(manifest));
          expect([400, 422], name).toContain(res.status);
          expect((await service.get(`/v1/models/ranker/n${i}/manifest.json`)).status).toBe(404);
        }
        const nested = await makeBundle('ranker', 'nest', { a: safetensorsBytes(2), 'a/b': safetensorsBytes(3) });
        expect((await service.put('/v1/models/ranker/nest/manifest.json', nested.manifest)).status).toBe(422);
      });

      it('compares a re-upload of a stored file by hash: other bytes of the right size are refused', async () => {
        const bundle = await makeBundle('ranker', '1', { 'w.bin': enc('0123456789') });
        await publish(service as never, bundle, false);
        const other = await service.put('/v1/models/ranker/1/w.bin', enc('9876543210'));
        expect(other.status).toBe(422);
        expect((await errorOf(other)).code).toBe('checksum_mismatch');
        const same = await service.put('/v1/models/ranker/1/w.bin', enc('0123456789'));
        expect(same.status).toBe(200);
      });
    });

    describe('fuzz', () => {
      it('answers 600 seeded random requests with no 5xx and the error shape on every 4xx', async () => {
        await publish(service as never, await makeBundle('ranker', '1'));
        const random = rng(20260601);
        const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
        const subs = ['u1', 'u2', 'backend', '', 'u1\u0000', 'x'.repeat(300)];
        const scopes = [USER_SCOPES, ALL_SCOPES, 'service', 'features:read', '', 'admin'];
        const ids = ['u1', 'u2', 'i1', '__proto__', 'constructor', "'; DROP TABLE features;--", 'a'.repeat(129), '..'];
        const features = ['user:age', 'user:big', 'item:price', 'user:constructor', 'user:__proto__', 'x', 'context:q'];
        const values = [0, -1, 1e308, 'x', null, true, [], {}, [1, 'a'], 'x'.repeat(2000)];
        const failures: string[] = [];
        for (let i = 0; i < 600; i++) {
          const sub = pick(subs);
          const tok = sub === '' ? pick(['garbage', '', 'a.b.c']) : await token(pick(scopes), { sub });
          const api = counted(app, tok || null, tally);
          const kind = Math.floor(random() * 6);
          let res: Response;
          let what: string;
          if (kind === 0) {
            what = `GET user ${i}`;
            res = await api.get(`/v1/users/${encodeURIComponent(pick(ids))}/features?features=${pick(features)}`);
          } else if (kind === 1) {
            const n = 1 + Math.floor(random() * 5);
            const body = {
              features: Array.from({ length: n }, () => pick(features)),
              entities: random() < 0.5 ? { user_id: [pick(ids), pick(ids)] } : { item_id: [pick(ids)] },
              transform: random() < 0.3,
            };
            what = `online ${JSON.stringify(body).slice(0, 120)}`;
            res = await api.post('/v1/features/online', body);
          } else if (kind === 2) {
            const events = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, j) =>
              apiEvent(`f${i}-${j}`, { user_id: pick([sub, pick(ids)]), value: pick(values) }),
            );
            what = `events ${JSON.stringify(events).slice(0, 120)}`;
            res = await api.post('/v1/events', { events });
          } else if (kind === 3) {
            const row = {
              entity: pick(['user', 'item', 'x']),
              id: pick(ids),
              features: { [pick(features)]: pick(values) },
            };
            what = `push ${JSON.stringify(row).slice(0, 120)}`;
            res = await api.post('/v1/features/push', { rows: [row] });
          } else if (kind === 4) {
            what = `model ${i}`;
            const method = pick(['GET', 'PUT', 'POST', 'DELETE']);
            res = await api.call(
              method,
              pick([
                '/v1/models/ranker/latest',
                '/v1/models/ranker/1/ranking.safetensors',
                '/v1/models/ranker/rollback',
                '/v1/models/ranker/1/promote',
                '/v1/models/ranker/2/x//y',
                '/v1/models/ranker/1/manifest.json',
              ]),
              { raw: method !== 'GET' && random() < 0.5 ? enc(JSON.stringify(pick(values))) : undefined },
            );
          } else {
            const garbage = Array.from({ length: Math.floor(random() * 64) }, () =>
              String.fromCharCode(Math.floor(random() * 128)),
            ).join('');
            what = `garbage ${JSON.stringify(garbage)}`;
            res = await api.call('POST', pick(['/v1/events', '/v1/features/online', '/v1/features/push']), {
              raw: garbage,
              headers: { 'content-type': 'application/json' },
            });
          }
          if (res.status >= 500) failures.push(`${what}: ${res.status} ${await res.text()}`);
          else if (res.status >= 400) await errorOf(res);
          else await res.arrayBuffer();
        }
        expect(failures).toEqual([]);
      });
    });
  });
  return tally;
}
