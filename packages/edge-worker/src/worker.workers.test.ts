// The app inside workerd: the shared HTTP suite on D1 + KV + R2, then the real Worker entry
// (wrangler.toml bindings, the VIREO_JWT_SECRET binding, the rate-limiting binding).
import { applyD1Migrations, reset } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { runAppCases } from './app.case.ts';
import { createApp } from './app.ts';
import { hs256Verifier, signHs256 } from './auth/jwt.ts';
import { cloudflareStorage } from './storage/cloudflare.ts';
import { ALL_SCOPES, apiEvent, type Bytes, errorOf, makeBundle, NOW, TEST_SECRET } from '../test/helpers.ts';

// env is Cloudflare.Env: wrangler.toml's bindings and the test ones (src/workers-env.d.ts).
const bindings = env;

async function fresh() {
  await reset();
  await applyD1Migrations(bindings.DB, bindings.TEST_MIGRATIONS);
}

runAppCases('workerd (d1 + kv + r2)', async () => {
  await fresh();
  const app = createApp({
    storage: cloudflareStorage(bindings),
    verifier: hs256Verifier(TEST_SECRET, { now: () => NOW }),
    log: null,
    now: () => NOW,
  });
  return { app, cleanup: async () => {} };
});

describe('the Worker entry (src/worker.ts) with the wrangler.toml bindings', () => {
  const fetchWorker = (path: string, init?: RequestInit) =>
    exports.default.fetch(new Request(`https://edge.example${path}`, init));
  const liveToken = (scope = ALL_SCOPES, sub = 'worker-test') => {
    const now = Math.floor(Date.now() / 1000);
    return signHs256({ sub, scope, exp: now + 600 }, bindings.VIREO_JWT_SECRET);
  };

  it('serves health, events, features and a model file from D1, KV and R2', async () => {
    await fresh();
    expect(await (await fetchWorker('/healthz')).json()).toMatchObject({ status: 'ok', storage: 'cloudflare' });
    const auth = { authorization: `Bearer ${await liveToken()}` };
    const events = await fetchWorker('/v1/events', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [apiEvent('w1', { ts: Date.now() - 1000 })] }),
    });
    expect(events.status).toBe(202);
    const user = await (await fetchWorker('/v1/users/u1/features', { headers: auth })).json<{
      features: { recent_items: string[] };
    }>();
    expect(user.features.recent_items).toEqual(['i1']);
    const bundle = await makeBundle('ranker', '1', { 'w.bin': new TextEncoder().encode('0123456789') as Bytes });
    expect(
      (await fetchWorker('/v1/models/ranker/1/manifest.json', { method: 'PUT', headers: auth, body: bundle.manifest }))
        .status,
    ).toBe(201);
    expect(
      (await fetchWorker('/v1/models/ranker/1/w.bin', { method: 'PUT', headers: auth, body: bundle.files['w.bin'] }))
        .status,
    ).toBe(201);
    const part = await fetchWorker('/v1/models/ranker/1/w.bin', { headers: { ...auth, range: 'bytes=2-4' } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe('234');
    expect(await (await bindings.MODELS.get('models/ranker/1/w.bin'))!.body).toBeDefined();
  });

  it('refuses tokens signed with another secret', async () => {
    const other = await signHs256(
      { sub: 'x', scope: ALL_SCOPES, exp: Math.floor(Date.now() / 1000) + 60 },
      TEST_SECRET,
    );
    const res = await fetchWorker('/v1/users/u1/features', { headers: { authorization: `Bearer ${other}` } });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe('invalid_token');
  });

  it('rate-limits a subject through the rate-limiting binding: 429 with Retry-After', async () => {
    await fresh();
    const auth = { authorization: `Bearer ${await liveToken('features:read', `burst-${crypto.randomUUID()}`)}` };
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await fetchWorker('/v1/items/i1/features', { headers: auth })).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    const limited = await fetchWorker('/v1/items/i1/features', { headers: auth });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('10');
    expect((await errorOf(limited)).code).toBe('rate_limited');
  });
});
