// The attack suite inside workerd (D1 + KV + R2), and the Worker entry's refusal of a weak secret.
import { applyD1Migrations, reset } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, it } from 'vitest';
import { createApp } from './app.ts';
import { runAttackCases } from './attack.case.ts';
import { hs256Verifier } from './auth/jwt.ts';
import { cloudflareStorage } from './storage/cloudflare.ts';
import { ALL_SCOPES, errorOf, NOW, TEST_SECRET, token } from '../test/helpers.ts';
import { appForEnv } from './worker.ts';

// env is Cloudflare.Env: wrangler.toml's bindings and the test ones (src/workers-env.d.ts).
const bindings = env;

runAttackCases('workerd (d1 + kv + r2)', async (options) => {
  await reset();
  await applyD1Migrations(bindings.DB, bindings.TEST_MIGRATIONS);
  const app = createApp({
    storage: cloudflareStorage(bindings),
    verifier: hs256Verifier(TEST_SECRET, { now: () => NOW }),
    log: null,
    now: () => NOW,
    ...options,
  });
  return { app, cleanup: async () => {} };
});

it('answers 503 (not 500, not a stack trace) when the Worker has an empty, short or predictable secret', async () => {
  for (const secret of ['', 'short', 'a'.repeat(40)]) {
    const app = appForEnv({ ...bindings, VIREO_JWT_SECRET: secret });
    const res = await app.request('/v1/users/u1/features', {
      headers: { authorization: `Bearer ${await token(ALL_SCOPES)}` },
    });
    expect(res.status).toBe(503);
    expect((await errorOf(res)).message).toContain('cannot verify tokens');
    // The post-deploy check (deploy-cloudflare.md: curl /healthz) said 200 'ok' while every /v1 request was this 503.
    const health = await app.request('/healthz');
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'misconfigured', error: expect.stringMatching(/JWT secret/) });
  }
  const configured = await appForEnv({ ...bindings, VIREO_JWT_SECRET: TEST_SECRET }).request('/healthz');
  expect([configured.status, (await configured.json<{ status: string }>()).status]).toEqual([200, 'ok']);
});
