// The Engine in headless Chromium (WebGPU on SwiftShader without a GPU), against a real edge on
// localhost started by browser-setup.ts with a bundle the trainer made on a small synthetic world
// (40 items, 20 users) published to its registry: loading over HTTP, WebGPU vs the CPU reference
// path, 'auto' declining SwiftShader for the CPU backend, the same engine in a Web Worker, a click
// changing the next answer, a corrupted bundle refused while the last good one serves, a page
// without WebGPU, the edge down (offline reload from IndexedDB, events queued and sent once it is
// back).
import type {} from '@vireo/testkit/browser-setup'; // the `edge` it provides
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { createEngine, type Engine, type EngineOptions, type RecommendResult } from './engine.ts';
import { createEngineWorker, type EngineWorker } from './worker.ts';
import { EdgeError } from './errors.ts';

const edge = inject('edge');
const [u1, u2, , u4, , , u7] = edge.users;
const [, , i3, , i5, i6] = edge.items;
const engines: Engine[] = [];
afterEach(() => {
  while (engines.length) engines.pop()!.dispose();
});
let db = 0;
const run = `${Date.now()}`;
async function open(o: Partial<EngineOptions> = {}, dbName = `browser-${run}-${++db}`): Promise<Engine> {
  // A generous features timeout: the edge shares 2 busy cores with Vite and the browser here.
  const e = await createEngine({
    model: 'fixture',
    edge: edge.url,
    token: edge.token,
    dbName,
    featuresTimeoutMs: 5_000,
    upload: { flushDelayMs: 60_000 },
    ...o,
  });
  engines.push(e);
  return e;
}

function expectSame(a: RecommendResult, b: RecommendResult): void {
  expect(a.items.map((i) => i.itemId)).toEqual(b.items.map((i) => i.itemId));
  for (let j = 0; j < a.items.length; j++) {
    for (const key of ['score', 'retrievalScore', 'pCtr', 'pCvr', 'revenue'] as const) {
      expect(
        Math.abs(a.items[j][key] - b.items[j][key]),
        `item ${j} ${key}: ${a.items[j][key]} vs ${b.items[j][key]}`,
      ).toBeLessThan(1e-4);
    }
  }
}

describe('Engine in Chromium with a real edge', () => {
  it('loads the trained bundle from the edge; WebGPU and the CPU reference path agree', async () => {
    const gpu = await open({ backend: 'webgpu' });
    const cpu = await open({ backend: 'cpu' });
    expect(gpu.backend).toBe('webgpu');
    expect(cpu.backend).toBe('cpu');
    expect(gpu.versions.control).toBe('1');
    expect(edge.items).toHaveLength(40);
    for (const userId of [u1, u7, 'stranger']) {
      await gpu.observe({ userId, itemId: i3, type: 'click' });
      await cpu.observe({ userId, itemId: i3, type: 'click' });
      const req = { userId, context: { 'context:hour': 9, 'context:device': 'mobile' }, k: 10 };
      const [a, b] = [await gpu.recommend(req), await cpu.recommend(req)];
      expect(a.items).toHaveLength(10);
      expect(a.backend).toBe('webgpu');
      expect(b.backend).toBe('cpu');
      expect([a.search, b.search]).toEqual(['exact', 'exact']);
      expect(a.featureSource).toBe('edge');
      expect(a.history).toContain(i3);
      expect(new Set(a.items.map((i) => i.itemId)).size).toBe(10);
      for (const it of a.items) expect(it.pCtr).toBeGreaterThan(0);
      expectSame(a, b);
    }
  });

  it('a page without WebGPU (navigator.gpu missing) answers on the CPU path with the same top items', async () => {
    const gpu = await open({ backend: 'webgpu' });
    const req = { userId: u2, context: { 'context:hour': 20 }, k: 10 };
    const expected = await gpu.recommend(req);
    Object.defineProperty(navigator, 'gpu', { value: undefined, configurable: true });
    try {
      expect((navigator as { gpu?: GPU }).gpu).toBeUndefined();
      const cpu = await open(); // backend 'auto'
      expect(cpu.backend).toBe('cpu');
      expectSame(await cpu.recommend(req), expected);
    } finally {
      delete (navigator as { gpu?: GPU }).gpu; // the prototype's getter again
    }
    expect((navigator as { gpu?: GPU }).gpu).toBeDefined();
  });

  it("backend 'auto' on SwiftShader: the CPU backend, the reason, the WebGPU path's top items", async () => {
    const auto = await open();
    const gpu = await open({ backend: 'webgpu' });
    expect(auto.backend).toBe('cpu');
    expect(auto.adapter.reason).toMatch(/^WebGPU's adapter is a (fallback|software) adapter \(.*swiftshader.*\)/i);
    for (const userId of [u4, 'stranger']) {
      await auto.observe({ userId, itemId: i5, type: 'click' });
      await gpu.observe({ userId, itemId: i5, type: 'click' });
      const req = { userId, context: { 'context:hour': 18 }, k: 10 };
      const a = await auto.recommend(req);
      expect(a.backend).toBe('cpu');
      expectSame(a, await gpu.recommend(req));
    }
  });

  it(
    'CPU path on a catalogue past hnswThreshold: hnswlib-wasm ' +
      "(built in a Web Worker) gives the exact search's top items",
    async () => {
      const exact = await open({ backend: 'cpu' });
      const waited = await open({ backend: 'cpu', cpu: { hnswThreshold: 10, waitForIndex: true } });
      const background = await open({ backend: 'cpu', cpu: { hnswThreshold: 10 } });
      const req = { userId: u1, context: { 'context:hour': 12 }, k: 10, exclude: [i3] };
      const reference = await exact.recommend(req);
      expect(reference.search).toBe('exact');
      const a = await waited.recommend(req);
      expect(a.search).toBe('hnsw');
      expectSame(a, reference);
      let b = await background.recommend(req); // exact until its index is ready, then hnsw
      for (let t = 0; b.search !== 'hnsw' && t < 100; t++)
        b = await new Promise((ok) => setTimeout(ok, 100)).then(() => background.recommend(req));
      expect(b.search).toBe('hnsw');
      expectSame(b, reference);
    },
  );

  it(
    'createEngineWorker: the engine in a Web Worker ' + 'loads the bundle, recommends as the page does, observes',
    async () => {
      const page = await open({ backend: 'webgpu' });
      const progress: number[] = [];
      const worker: EngineWorker = await createEngineWorker({
        model: 'fixture',
        edge: edge.url,
        token: edge.token,
        backend: 'webgpu',
        dbName: `browser-${run}-worker`,
        featuresTimeoutMs: 5_000,
        upload: { flushDelayMs: 60_000 },
        onProgress: (p) => progress.push(p.bundleLoaded),
      });
      try {
        expect(worker.backend).toBe('webgpu');
        expect(worker.adapter).toBeTruthy();
        expect(progress.length).toBeGreaterThan(0);
        const userId = `worker-${run}`;
        const req = { userId, context: { 'context:hour': 7 }, k: 8 };
        const [a, b] = [await worker.recommend(req), await page.recommend(req)];
        expect(a.backend).toBe('webgpu');
        expect(a.model).toEqual({ name: 'fixture', version: '1' });
        expectSame(a, b);
        const clicked = a.items[0].itemId;
        const id = await worker.observe({ userId, itemId: clicked, type: 'click' });
        expect(id).toMatch(/.+/);
        const after = await worker.recommend(req);
        expect(after.history).toEqual([clicked]);
        expect(after.items.map((i) => i.itemId)).not.toContain(clicked);
        expect(await worker.flush()).toBe(1);
        const f = await fetch(`${edge.url}/v1/users/${userId}/features`, {
          headers: { authorization: `Bearer ${edge.token}` },
        });
        expect(((await f.json()) as { features?: { recent_items?: string[] } }).features?.recent_items).toEqual([
          clicked,
        ]);
        expect(await worker.checkForUpdate()).toEqual({ updated: false, version: '1' });
      } finally {
        await worker.dispose();
      }
    },
  );

  it(
    "createEngineWorker: the worker's errors are the page's classes (EdgeError with the edge's code, " +
      'RangeError); a worker script that does not load rejects instead of hanging',
    async () => {
      const missing = await createEngineWorker({
        model: 'no-such-model',
        edge: edge.url,
        token: edge.token,
        dbName: `browser-${run}-worker-errors`,
      }).catch((err: unknown) => err);
      expect(missing).toBeInstanceOf(EdgeError);
      expect(missing).toMatchObject({ code: 'model_not_found', status: 404 });
      expect((missing as Error).message).toMatch(/failed with HTTP 404 \(model_not_found\): Model 'no-such-model'/);
      const worker = await createEngineWorker({
        model: 'fixture',
        edge: edge.url,
        token: edge.token,
        backend: 'cpu',
        dbName: `browser-${run}-worker-errors`,
      });
      try {
        const k0 = await worker.recommend({ userId: u1, k: 0 }).catch((err: unknown) => err);
        expect(k0).toBeInstanceOf(RangeError);
        expect((k0 as Error).message).toBe('recommend: k must be a positive integer (got 0).');
      } finally {
        await worker.dispose();
      }
      const t0 = performance.now();
      const broken = await createEngineWorker({
        model: 'fixture',
        edge: edge.url,
        token: edge.token,
        worker: new Worker('/no-such-worker.js', { type: 'module' }),
      }).catch((err: unknown) => err);
      const notStarted = /^The engine's worker did not start \(.*\): bundle @vireo\/runtime-web\//;
      expect((broken as Error).message).toMatch(notStarted);
      expect(performance.now() - t0).toBeLessThan(10_000);
    },
  );

  it(
    "createEngineWorker: onError runs on the page and hears the worker's errors, an EdgeError with its code; " +
      "unreachable names CORS and the page's origin",
    async () => {
      const dbName = `browser-${run}-worker-on-error`;
      const options = { model: 'fixture', token: edge.token, backend: 'cpu', dbName } as const;
      await (await createEngineWorker({ ...options, edge: edge.url })).dispose(); // caches the bundle
      const errors: Error[] = [];
      const worker = await createEngineWorker({ ...options, edge: edge.deadUrl, onError: (e) => errors.push(e) });
      try {
        expect((await worker.recommend({ userId: u1, k: 3 })).items).toHaveLength(3); // from the cache
        await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0));
        expect(errors[0]).toBeInstanceOf(EdgeError);
        expect(errors[0]).toMatchObject({ code: 'unreachable' });
        expect(errors[0].message).toContain(
          `it is down, or it does not allow this page's origin ${location.origin} ` +
            `(CORS; start the edge with --cors ${location.origin})`,
        );
      } finally {
        await worker.dispose();
      }
    },
  );

  it('a click enters the history and changes the next answer', async () => {
    const e = await open({ backend: 'webgpu' });
    const before = await e.recommend({ userId: u2, k: 20 });
    const top = before.items[0].itemId;
    await e.observe({ userId: u2, itemId: top, type: 'click' });
    const after = await e.recommend({ userId: u2, k: 20 });
    expect(after.history).toContain(top);
    expect(after.items.map((i) => i.itemId)).not.toContain(top);
    expect(after.items.map((i) => i.score)).not.toEqual(before.items.map((i) => i.score));
    // The ranker sees the click too (its history features, before the edge has the event): the
    // same candidate gets a different pCTR.
    const pCtrBefore = new Map(before.items.map((i) => [i.itemId, i.pCtr]));
    const common = after.items.filter((i) => pCtrBefore.has(i.itemId));
    expect(common.length).toBeGreaterThan(0);
    expect(common.some((i) => Math.abs(i.pCtr - pCtrBefore.get(i.itemId)!) > 1e-6)).toBe(true);
  });

  it(
    "the in-memory history: one user's clicks never reach another's answer; " +
      "two tabs on one database see each other's clicks; a reload reads them back",
    async () => {
      const dbName = `browser-${run}-history`;
      const tabA = await open({ backend: 'cpu' }, dbName);
      const tabB = await open({ backend: 'cpu' }, dbName);
      const before = await tabB.recommend({ userId: u1, k: 5 }); // u1's history now cached in tab B
      await tabA.observe({ userId: u1, itemId: i3, type: 'click' });
      await tabA.observe({ userId: u1, itemId: i5, type: 'exposure' }); // not history
      await tabA.observe({ userId: u1, itemId: i6, type: 'click' });
      const mine = await tabA.recommend({ userId: u1, k: 5 });
      expect(mine.history.slice(-2)).toEqual([i3, i6]);
      // Switching user in the same tab: u2 sees none of it.
      const other = await tabA.recommend({ userId: u2, k: 5 });
      expect(other.history).not.toContain(i3);
      expect(other.history).not.toContain(i6);
      expect(other.history).toEqual((await tabB.recommend({ userId: u2, k: 5 })).history);
      // The other tab: its cached copy of u1 was dropped when tab A's writes committed.
      await vi.waitFor(async () => expect((await tabB.recommend({ userId: u1, k: 5 })).history).toEqual(mine.history), {
        timeout: 5_000,
      });
      expect(before.history).not.toContain(i6);
      await tabB.observe({ userId: u1, itemId: i5, type: 'click' });
      await vi.waitFor(async () => expect((await tabA.recommend({ userId: u1, k: 5 })).history.at(-1)).toBe(i5), {
        timeout: 5_000,
      });
      for (const t of [tabA, tabB]) {
        t.dispose();
        engines.splice(engines.indexOf(t), 1);
      }
      const reloaded = await open({ backend: 'cpu' }, dbName);
      expect((await reloaded.recommend({ userId: u1, k: 5 })).history.slice(-3)).toEqual([i3, i6, i5]);
    },
  );

  it('refuses a corrupted bundle with a clear error; the previous version still answers', async () => {
    const e = await open({ model: 'corrupt', backend: 'webgpu' });
    expect(e.versions.control).toBe('1');
    // Version 2 was uploaded intact (the edge checks sha256 on upload) and then damaged on disk.
    const res = await fetch(`${edge.url}/v1/models/corrupt/2/promote`, {
      method: 'POST',
      headers: { authorization: `Bearer ${edge.token}` },
    });
    expect(res.ok).toBe(true);
    const r = await e.checkForUpdate();
    expect(r.updated).toBe(false);
    expect(r.error).toMatch(/items\.safetensors.*sha256/);
    expect(e.versions.control).toBe('1');
    const answer = await e.recommend({ userId: u1, k: 3 });
    expect(answer.model.version).toBe('1');
    expect(answer.items).toHaveLength(3);
  });

  it(
    'edge down: a reload starts from the IndexedDB cache, ' +
      'answers from on-device data, sends queued events once it is back',
    async () => {
      const dbName = `browser-${run}-edge-down`;
      const first = await open({ backend: 'webgpu' }, dbName);
      const online = await first.recommend({ userId: u4, k: 3 });
      expect(online.featureSource).toBe('edge');
      first.dispose();
      engines.pop();
      const down = await open({ backend: 'webgpu', edge: edge.deadUrl }, dbName); // a reload with the edge unreachable
      expect(down.versions.control).toBe('1');
      const offline = await down.recommend({ userId: u4, k: 3 });
      expect(offline.featureSource).toBe('cache'); // the features cached by the online answer
      expectSame(offline, online);
      await down.observe({ userId: u4, itemId: i5, type: 'click' });
      await down.observe({ userId: u4, itemId: i6, type: 'click' });
      const r = await down.recommend({ userId: u4, k: 3 });
      expect(r.degraded).toBe(true);
      expect(r.history.slice(-2)).toEqual([i5, i6]);
      expect(r.items).toHaveLength(3);
      expect(await down.flush()).toBe(0);
      expect(await down.pendingEvents()).toBe(2);
      down.dispose();
      engines.pop();
      const back = await open({ backend: 'webgpu' }, dbName);
      await back.flush();
      expect(await back.pendingEvents()).toBe(0);
      const f = await fetch(`${edge.url}/v1/users/${u4}/features`, {
        headers: { authorization: `Bearer ${edge.token}` },
      });
      const body = (await f.json()) as { features?: { recent_items?: string[] } };
      expect(body.features?.recent_items).toEqual([i5, i6]); // each once, in order
    },
  );
});
