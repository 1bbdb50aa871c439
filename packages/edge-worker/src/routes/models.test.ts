import { sha256Hex } from '@vireo/core';
import { describe, expect, it } from 'vitest';
import { ALL_SCOPES, client, makeBundle, NOW, publish, token } from '../../test/helpers.ts';
import { nodeTestApp } from '../../test/node-test-app.ts';
import { parseRange } from './models.ts';

describe('parseRange', () => {
  it('reads one byte range, open-ended and suffix ranges, clamped to the size', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ offset: 0, length: 10 });
    expect(parseRange('bytes=90-', 100)).toEqual({ offset: 90, length: 10 });
    expect(parseRange('bytes=-10', 100)).toEqual({ offset: 90, length: 10 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ offset: 0, length: 100 });
    expect(parseRange('bytes=95-1000', 100)).toEqual({ offset: 95, length: 5 });
  });
  it('serves the whole file for absent, multi-range and non-byte ranges', () => {
    for (const h of [undefined, 'bytes=0-1,5-6', 'items=0-1', 'bytes=-', 'bytes=a-b', 'garbage'])
      expect(parseRange(h, 100)).toBeNull();
  });
  it('flags ranges outside the file', () => {
    for (const h of ['bytes=100-', 'bytes=100-200', 'bytes=5-1', 'bytes=-0'])
      expect(parseRange(h, 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
  });
});

describe('GET /v1/models/{name}', () => {
  it('answers 100 versions a page by default, then the rest after its next cursor', async () => {
    const { app, storage, cleanup } = nodeTestApp();
    try {
      const manifest = new TextEncoder().encode('{}');
      const manifestSha256 = await sha256Hex(manifest);
      for (let v = 1; v <= 101; v++)
        await storage.models.createVersion({
          name: 'ranker',
          version: String(v),
          manifest,
          manifestSha256,
          files: [],
          by: 'ci',
          now: NOW,
        });
      const api = client(app, await token('features:read'));
      const versions = (page: { versions: Array<{ version: string }> }) => page.versions.map((v) => v.version);
      const first = await (await api.get('/v1/models/ranker')).json();
      // Was every version in one answer, however many.
      expect(versions(first)).toEqual(Array.from({ length: 100 }, (_, i) => String(i + 1)));
      expect(first.next).toMatch(/^[1-9][0-9]*$/);
      const rest = await (await api.get(`/v1/models/ranker?after=${first.next}`)).json();
      expect(versions(rest)).toEqual(['101']);
      expect(rest.next).toBeNull();
      const all = await (await api.get('/v1/models/ranker?limit=1000')).json();
      expect([all.versions.length, all.next]).toEqual([101, null]);
    } finally {
      await cleanup();
    }
  });

  it('lists the history up to the promoted version it names, when a promotion lands between its reads', async () => {
    const { app, storage, cleanup } = nodeTestApp();
    try {
      const manifest = new TextEncoder().encode('{}');
      const manifestSha256 = await sha256Hex(manifest);
      for (const version of ['1', '2'])
        await storage.models.createVersion({
          name: 'ranker',
          version,
          manifest,
          manifestSha256,
          files: [],
          by: 'ci',
          now: NOW,
        });
      await storage.models.appendPromotion('ranker', 'promote', '1', 'ci', NOW, 0);
      await storage.models.appendPromotion('ranker', 'promote', '2', 'ci', NOW, 1);
      // Another publisher promotes 1 again just as the listing reads the history.
      const read = storage.models.promotions.bind(storage.models);
      let raced = false;
      storage.models.promotions = async (name, page) => {
        if (!raced) {
          raced = true;
          await storage.models.appendPromotion('ranker', 'promote', '1', 'other', NOW + 1, 2);
        }
        return read(name, page);
      };
      const api = client(app, await token('features:read'));
      const model = await (await api.get('/v1/models/ranker')).json();
      expect(raced).toBe(true);
      // Before, the history held the racing entry while `promoted` was read before it: 2 promoted, 1 last promoted.
      expect([model.promoted, model.rollbackTo]).toEqual(['2', '1']);
      expect(model.history.map((h: { seq: number }) => h.seq)).toEqual([1, 2]);
      const again = await (await api.get('/v1/models/ranker')).json();
      expect([again.promoted, again.rollbackTo, again.history.length]).toEqual(['1', '2', 3]);
    } finally {
      await cleanup();
    }
  });
});

// A walk found that promoting the promoted version did not make its model the default spec model again, after
// another model was promoted: a push without "model" kept validating against the other model's spec.
describe('POST /v1/models/{name}/{version}/promote of the promoted version', () => {
  it('writes no history entry, and makes its model the most recently promoted again', async () => {
    const t = nodeTestApp();
    try {
      const api = client(t.app, await token(ALL_SCOPES));
      await publish(api, await makeBundle('ranker', '1'));
      t.setNow(NOW + 1000);
      await publish(api, await makeBundle('shop', '1'));
      const specOfPush = async () =>
        (
          await (
            await api.post('/v1/features/push', { rows: [{ entity: 'user', id: 'u1', features: { age: 30 } }] })
          ).json()
        ).spec;
      expect(await specOfPush()).toEqual({ model: 'shop', version: '1' });
      t.setNow(NOW + 2000);
      const again = await api.post('/v1/models/ranker/1/promote');
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ name: 'ranker', promoted: '1', previous: '1' });
      expect(await specOfPush()).toEqual({ model: 'ranker', version: '1' });
      const listed = await (await api.get('/v1/models/ranker')).json();
      expect(listed.history.map((p: { action: string }) => p.action)).toEqual(['promote']);
    } finally {
      await t.cleanup();
    }
  });
});
