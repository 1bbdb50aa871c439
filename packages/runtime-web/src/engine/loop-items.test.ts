// New items without retraining (issue 16, item 3), on the trained fixture's small synthetic world:
// a real Node edge serving v1; a new item of the category a user clicks most is pushed
// (POST /v1/features/push); `vireo refresh --once` (no new events) then publishes and promotes v2,
// an items-only update: the item is in v2's catalogue, its embedding is the item tower's output
// for its features (v2's weights, computed again on the CPU with itemTowerReference), it is
// retrievable (the nearest item to its own embedding, exact search) and the engine serving v1
// switches to v2 and can recommend it; the update's time is reported.
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildLookups,
  featureSource,
  featureView,
  parseBundleManifest,
  readSafetensors,
  transformValue,
  type RawValue,
} from '@vireo/core';
import { maxRelError, topkReference } from '@vireo/kernels';
import { itemFieldValues, itemTowerReference, tensorsToArrays, type RetrievalConfig } from '@vireo/models';
import { type ServingLoopWorld, servingLoopWorld } from '@vireo/testkit/loop-world';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from './engine.ts';

type RefreshJson = {
  champion: string;
  challenger: string;
  promoted: boolean;
  reason: string;
  items: { pulled: number; added: string[]; version: string; parent: string; seconds: number };
  seconds: number;
};

/** Column `name` of a dataset table as an Int32Array. */
const column = (dir: string, file: string) => {
  const b = readFileSync(join(dir, file));
  return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

describe('a new item pushed to the edge is recommendable after an items-only refresh, without retraining', () => {
  let world: ServingLoopWorld;
  let engine: Engine | null = null;
  const data = () => world.data;
  const api = (path: string, init?: RequestInit) => world.api(path, init);

  beforeAll(async () => {
    world = await servingLoopWorld('vireo-items-');
  }, 240_000);
  afterAll(async () => {
    engine?.dispose();
    await world?.close();
  });

  it('embeds the pushed item with the promoted item tower, promotes v2 with it, and serves it', async () => {
    engine = await createEngine({
      model: 'fixture',
      edge: world.edge.url,
      token: world.edge.token,
      dbName: 'items-v1',
      upload: { flushDelayMs: 60_000 },
      blend: { retrieval: 1 },
    });
    expect(engine.versions.control).toBe('1');
    // The user with the most clicks, and the category they click most.
    const vocab = JSON.parse(readFileSync(join(data(), 'vocabularies.json'), 'utf8')) as Record<string, string[]>;
    const users = column(data(), 'interactions/user.bin');
    const items = column(data(), 'interactions/item.bin');
    const itemCategory = column(data(), 'items/item.category.bin');
    const perUser = new Map<number, number>();
    for (const u of users) perUser.set(u, (perUser.get(u) ?? 0) + 1);
    const fan = [...perUser.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
    const perCategory = new Map<number, number>();
    users.forEach((u, e) => {
      if (u === fan) perCategory.set(itemCategory[items[e]], (perCategory.get(itemCategory[items[e]]) ?? 0) + 1);
    });
    const liked = [...perCategory.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
    const category = vocab['item:category'][liked - 2];
    const raw = {
      category,
      attributes: vocab['item:attributes'].slice(0, 2),
      title: vocab['item:title'].slice(0, 3),
      price: 19.5,
    };
    const push = await api('/v1/features/push', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: [{ entity: 'item', id: 'new-item-1', features: raw }] }),
    });
    expect(push.status, await push.clone().text()).toBe(200);

    const run = await world.refresh();
    expect(run.code, run.stderr).toBe(0);
    const r = run.json as RefreshJson;
    expect(r).toMatchObject({ champion: '1', challenger: '2', promoted: true });
    expect(r.items).toMatchObject({ pulled: 1, added: ['new-item-1'], version: '2', parent: '1' });
    expect(r.reason).toMatch(/^items-only: 1 new items embedded by the item tower of 1 .* without retraining/);
    expect(run.stderr).toMatch(/fixture@2 \(parent 1\): items-only: .* in \d+\.\d\d s/);
    console.info(`items-only update: ${r.items.seconds.toFixed(2)} s (the whole refresh ${r.seconds.toFixed(2)} s)`);

    // v2 is promoted, complete, and names v1 and the items it added.
    const latest = await api('/v1/models/fixture/latest');
    expect(latest.headers.get('vireo-model-version')).toBe('2');
    const manifest = parseBundleManifest(await latest.text());
    expect(manifest.files.map((f) => f.name).sort()).toEqual([
      'items.safetensors',
      'ranking.onnx',
      'ranking.safetensors',
      'retrieval.safetensors',
    ]);
    expect(manifest.lineage).toMatchObject({
      parent: '1',
      items: { count: 1, ids: ['new-item-1'] },
      decision: { kind: 'items-only', promote: true },
    });
    const ids = manifest.vocabularies['item:id'];
    expect(ids.at(-1)).toBe('new-item-1');
    const file = async (name: string) =>
      new Uint8Array(await (await api(`/v1/models/fixture/2/${name}`)).arrayBuffer());
    const v1 = parseBundleManifest(await (await api('/v1/models/fixture/1/manifest.json')).text());
    for (const name of ['retrieval.safetensors', 'ranking.safetensors', 'ranking.onnx'])
      expect(manifest.files.find((f) => f.name === name)).toEqual(v1.files.find((f) => f.name === name));

    // Its features are its pushed values through the spec; its embedding the item tower's output for them.
    const tensors = readSafetensors(await file('items.safetensors')).tensors;
    const N = ids.length;
    const row = N - 1;
    const features = new Map(
      [...tensors].filter(([n]) => n.startsWith('features.')).map(([n, t]) => [n.slice('features.'.length), t]),
    );
    const lookups = buildLookups(manifest.featureSpec, v1.vocabularies);
    for (const f of manifest.featureSpec.features) {
      if (featureView(f.name) !== 'item' || f.name === 'item:id' || !features.has(f.name)) continue;
      const t = features.get(f.name)!;
      const width = t.shape[1] ?? 1;
      const got = Array.from(t.data as ArrayLike<number> as Float32Array).slice(row * width, (row + 1) * width);
      const want = transformValue(f, (raw as Record<string, unknown>)[featureSource(f)] as RawValue, lookups);
      const wanted = typeof want === 'number' ? [want] : Array.from(want);
      expect(
        got.map((v) => Math.fround(v)),
        f.name,
      ).toEqual(wanted.map((v) => Math.fround(v)));
    }
    const config = manifest.architecture.retrieval!.config as RetrievalConfig;
    const { params, table } = tensorsToArrays(config, readSafetensors(await file('retrieval.safetensors')).tensors);
    const value = itemFieldValues(config, features);
    const want = itemTowerReference(
      config,
      params,
      table,
      config.itemFields.map((_, j) => value(row, j)),
    );
    const D = config.embeddingDim;
    const embeddings = tensors.get('embeddings')!.data as Float32Array;
    const got = embeddings.subarray(row * D, (row + 1) * D);
    const error = maxRelError(got, want);
    expect(
      error,
      `first values: got ${Array.from(got.subarray(0, 4))}, want ${Array.from(want.subarray(0, 4))}`,
    ).toBeLessThan(1e-5);
    // The parent's rows are unchanged.
    const before = readSafetensors(await (await api('/v1/models/fixture/1/items.safetensors')).bytes()).tensors;
    expect(Array.from(embeddings.subarray(0, row * D))).toEqual(
      Array.from((before.get('embeddings')!.data as Float32Array).subarray(0, row * D)),
    );

    // Retrievable: the exact search from its own embedding finds it first.
    const top = topkReference(Float32Array.from(got), embeddings, 1, N, D, 5);
    expect(top.ids[0]).toBe(row);

    // The engine serving v1 switches to v2 and can recommend the new item to the fan of its category.
    const update = await engine.checkForUpdate();
    expect(update).toMatchObject({ updated: true, version: '2' });
    const fanId = vocab['user:id'][fan];
    const all = await engine.recommend({ userId: fanId, k: N });
    expect(all.model).toEqual({ name: 'fixture', version: '2' });
    const rank = all.items.findIndex((i) => i.itemId === 'new-item-1');
    expect(rank).toBeGreaterThanOrEqual(0);
    console.info(
      `new item of ${category} (the favourite category of ${fanId}): rank ${rank + 1} of ${N} in their ` +
        'recommendations by the retrieval score',
    );
  }, 240_000);
});
