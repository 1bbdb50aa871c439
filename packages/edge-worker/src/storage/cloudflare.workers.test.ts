// The storage conformance suite on D1 + KV + R2 inside workerd, plus the KV cache's own behaviour.
import { applyD1Migrations, reset } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, it } from 'vitest';
import { runStorageConformance, storeTwoVersions } from './conformance.case.ts';
import { cloudflareStorage } from './cloudflare.ts';

// env is Cloudflare.Env: wrangler.toml's bindings and the test ones (src/workers-env.d.ts).
const bindings = env;

async function fresh() {
  await reset();
  await applyD1Migrations(bindings.DB, bindings.TEST_MIGRATIONS);
}

runStorageConformance('d1 + kv + r2 (workerd)', async () => {
  await fresh();
  return { storage: cloudflareStorage(bindings), cleanup: async () => {} };
});

runStorageConformance('d1 + r2 without the KV cache (workerd)', async () => {
  await fresh();
  return { storage: cloudflareStorage({ DB: bindings.DB, MODELS: bindings.MODELS }), cleanup: async () => {} };
});

it('serves feature rows from KV once cached, and a push invalidates them', async () => {
  await fresh();
  const storage = cloudflareStorage(bindings);
  await storage.features.push([{ entity: 'user', id: 'kv1', features: { a: 1 }, eventTs: 1 }], 1);
  expect((await storage.features.read('user', ['kv1', 'none'])).get('kv1')).toEqual({ a: { value: 1, eventTs: 1 } });
  expect(JSON.parse((await bindings.FEATURE_CACHE!.get('features:user:kv1', { type: 'text' }))!)).toEqual({
    row: { a: { value: 1, eventTs: 1 } },
  });
  expect(JSON.parse((await bindings.FEATURE_CACHE!.get('features:user:none', { type: 'text' }))!)).toEqual({
    row: null,
  });
  // A row changed behind the cache's back is not seen until a push through the store invalidates it.
  await bindings.DB.prepare("UPDATE features SET value = '2' WHERE entity_id = 'kv1'").run();
  expect((await storage.features.read('user', ['kv1'])).get('kv1')!.a.value).toBe(1);
  await storage.features.push([{ entity: 'user', id: 'kv1', features: { b: 3 }, eventTs: 2 }], 2);
  expect((await storage.features.read('user', ['kv1'])).get('kv1')).toEqual({
    a: { value: 2, eventTs: 1 },
    b: { value: 3, eventTs: 2 },
  });
});

it("leaves no object of a deleted version in R2, and keeps the other versions' objects", async () => {
  await fresh();
  const storage = cloudflareStorage(bindings);
  const fileBytes = await storeTwoVersions(storage);
  const keys = async (prefix: string) => (await bindings.MODELS.list({ prefix })).objects.map((o) => o.key);
  expect((await keys('models/ranker/1/')).length).toBe(2);
  expect(await storage.models.deleteVersion('ranker', '1', 0, 1)).toEqual({ files: 2, bytes: 9 + fileBytes });
  expect(await keys('models/ranker/1/')).toEqual([]);
  expect((await keys('models/ranker/2/')).length).toBe(2);
});
