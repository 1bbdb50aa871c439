// The app on Node (SQLite + files): the shared HTTP suite, plus logging, rate limiting and CORS.
import { describe, expect, it } from 'vitest';
import { runAppCases } from './app.case.ts';
import { tokenBucket } from './middleware/rate-limit.ts';
import { nodeTestApp } from '../test/node-test-app.ts';
import { ALL_SCOPES, apiEvent, client, errorOf, token } from '../test/helpers.ts';

runAppCases('node (sqlite + files)', async () => {
  const t = nodeTestApp();
  return { app: t.app, cleanup: t.cleanup };
});

describe('edge app on node', () => {
  it('logs one structured JSON record per request with its request id', async () => {
    const t = nodeTestApp();
    try {
      const api = client(t.app, await token(ALL_SCOPES, { sub: 'alice' }));
      await api.post('/v1/events', { events: [apiEvent('l1')] }, { headers: { 'x-request-id': 'abc-1' } });
      await api.get('/v1/users/u1/features', { token: 'garbage' });
      expect(t.logs[0]).toMatchObject({
        level: 'info',
        msg: 'request',
        request_id: 'abc-1',
        method: 'POST',
        path: '/v1/events',
        route: '/v1/events',
        status: 202,
        sub: 'alice',
      });
      expect(typeof t.logs[0].duration_ms).toBe('number');
      expect(t.logs[1]).toMatchObject({ status: 401, route: '/v1/users/:id/features', sub: null });
      expect(t.logs[1].error).toContain('compact JWT');
      expect(JSON.parse(JSON.stringify(t.logs[1]))).toEqual(t.logs[1]);
    } finally {
      await t.cleanup();
    }
  });

  it('rate-limits per token subject with 429 and Retry-After', async () => {
    let now = 0;
    const t = nodeTestApp({ rateLimiter: tokenBucket({ ratePerSecond: 1, burst: 2, now: () => now }) });
    try {
      const alice = client(t.app, await token(ALL_SCOPES, { sub: 'alice' }));
      const bob = client(t.app, await token(ALL_SCOPES, { sub: 'bob' }));
      expect((await alice.get('/v1/users/u1/features')).status).toBe(200);
      expect((await alice.get('/v1/users/u1/features')).status).toBe(200);
      const limited = await alice.get('/v1/users/u1/features');
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('1');
      expect((await errorOf(limited)).code).toBe('rate_limited');
      expect((await bob.get('/v1/users/u1/features')).status).toBe(200);
      now = 1000;
      expect((await alice.get('/v1/users/u1/features')).status).toBe(200);
      expect(t.metrics.rateLimited.get()).toBe(1);
    } finally {
      await t.cleanup();
    }
  });

  it('answers CORS preflights for configured origins only', async () => {
    const t = nodeTestApp({ corsOrigins: ['https://shop.example'] });
    try {
      const preflight = (origin: string) =>
        t.app.request('/v1/events', {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization,content-type',
          },
        });
      const ok = await preflight('https://shop.example');
      expect(ok.status).toBe(204);
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://shop.example');
      expect(ok.headers.get('access-control-allow-headers')).toContain('Authorization');
      expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
      const get = await t.app.request('/healthz', { headers: { origin: 'https://shop.example' } });
      expect(get.headers.get('access-control-expose-headers')).toContain('ETag');
    } finally {
      await t.cleanup();
    }
    // Without origins a preflight was a 401 'This route needs a token': it is CORS that is not configured.
    const bare = nodeTestApp();
    try {
      const res = await bare.app.request('/v1/events', {
        method: 'OPTIONS',
        headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
      });
      expect(res.status).toBe(403);
      expect(await errorOf(res)).toMatchObject({
        code: 'cors_not_allowed',
        message: expect.stringContaining('--cors ORIGIN (VIREO_CORS_ORIGINS on Workers)'),
      });
    } finally {
      await bare.cleanup();
    }
  });

  it('answers 503 on /healthz while draining', async () => {
    let draining = false;
    const t = nodeTestApp({ isDraining: () => draining });
    try {
      expect((await t.app.request('/healthz')).status).toBe(200);
      draining = true;
      expect(await (await t.app.request('/healthz')).json()).toMatchObject({ status: 'draining' });
    } finally {
      await t.cleanup();
    }
  });
});
