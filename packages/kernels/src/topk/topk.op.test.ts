// topk on Dawn: bad input → ShapeError naming the argument; the bound form reused across
// requests without GPU allocation; catalogues in chunks; batches larger than one dispatch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShapeError } from '../kernel.ts';
import { exclusionsFromLists, quantizeItems, topkInt8Reference, topkReference } from './topk.ts';
import { testRng } from '../testing.ts';
import { Gpu, GpuOutOfMemoryError } from '../gpu/index.ts';
import { topkRecallCheck } from './topk.check.ts';
import { TopkOp, topk, topkInt8 } from './topk.op.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

/** Multiples of 1/4: dot products exact in float32, so ids compare exactly (see topk.check.ts). */
function dyadic(seed: number, n: number): Float32Array {
  const rng = testRng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.int(9) - 4) / 4;
  return a;
}

describe('topk rejects bad input with a ShapeError naming the argument', () => {
  const [B, N, D] = [2, 10, 4];
  const q = dyadic(1, B * D);
  const x = dyadic(2, N * D);
  const rejects = async (p: Promise<unknown>, what: RegExp) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ShapeError);
    expect((err as Error).message).toMatch(what);
  };

  it('k > N', () => rejects(topk(gpu, q, x, B, N, D, 11), /k = 11 is larger than N = 10/));
  it('k = 0', () => rejects(topk(gpu, q, x, B, N, D, 0), /k must be a positive integer/));
  it('queries of the wrong D', () =>
    rejects(topk(gpu, dyadic(1, B * 5), x, B, N, D, 3), /queries has 10 values, expected B·D/));
  it('items of the wrong D', () =>
    rejects(topk(gpu, q, dyadic(2, N * 5), B, N, D, 3), /items has 50 values, expected N·D/));
  it('an exclusion id ≥ N', () =>
    rejects(topk(gpu, q, x, B, N, D, 3, exclusionsFromLists([[1], [10]])), /exclude\.ids\[1\] = 10 is not an item/));
  it('exclusion offsets that do not fit B', () =>
    rejects(
      topk(gpu, q, x, B, N, D, 3, { ids: [1], offsets: [0, 1] }),
      /exclude\.offsets has 2 values, expected B\+1 = 3/,
    ));
  it('a chunk that is not whole rows', () =>
    rejects(
      topk(gpu, q, [x.subarray(0, 6), x.subarray(6)], B, N, D, 3),
      /items chunk 0 has 6 values, not a whole number of rows/,
    ));
  it('int8 scales of the wrong length', () => {
    const int8 = quantizeItems(x, N, D);
    return rejects(
      topkInt8(gpu, q, { values: int8.values, scales: int8.scales.subarray(1) }, B, N, D, 3),
      /items\.scales has 9 values, expected one per item \(N = 10\)/,
    );
  });
  it('int8 items of the wrong D', () =>
    rejects(
      topkInt8(gpu, q, quantizeItems(dyadic(2, N * 5), N, 5), B, N, D, 3),
      /items\.values has 50 values, expected N·D/,
    ));

  it('a request outside the bound shape', async () => {
    const op = await TopkOp.create(gpu, x, { N, D, maxBatch: 2, maxK: 5, maxExclusions: 2 });
    try {
      await rejects(op.search(dyadic(3, 3 * D), 3), /batch of 3 queries is more than this TopkOp's maxBatch = 2/);
      await rejects(op.search(q, 6), /k = 6 is larger than this TopkOp's maxK = 5/);
      await rejects(op.search(q, 11), /k = 11 is larger than N = 10/);
      await rejects(op.search(q.subarray(1), 3), /queries has 7 values, not a whole number of rows of D = 4/);
      await rejects(
        op.search(q, 3, exclusionsFromLists([[1, 2], [3]])),
        /exclude\.ids has 3 values, more than this TopkOp's maxExclusions = 2/,
      );
      // and it still answers a good request afterwards
      const r = await op.search(q, 3);
      expect(Array.from(r.ids)).toEqual(Array.from(topkReference(q, x, B, N, D, 3).ids));
    } finally {
      op.destroy();
    }
  });
});

describe('TopkOp', () => {
  it('answers many requests from buffers made once (no GPU allocation per request)', async () => {
    const [N, D] = [2000, 24];
    const x = dyadic(5, N * D);
    const op = await TopkOp.create(gpu, x, { N, D, maxBatch: 3, maxK: 300 });
    const device = gpu.device as unknown as Record<string, (...a: unknown[]) => unknown>;
    const counted = ['createBuffer', 'createBindGroup', 'createComputePipeline', 'createShaderModule'];
    const calls: string[] = [];
    const originals = counted.map((name) => device[name]);
    counted.forEach((name, i) => {
      device[name] = (...a: unknown[]) => {
        calls.push(name);
        return originals[i].apply(gpu.device, a);
      };
    });
    try {
      gpu.device.createBuffer({ size: 4, usage: GPUBufferUsage.STORAGE }).destroy(); // the spy works
      expect(calls.splice(0)).toEqual(['createBuffer']);
      const requests: [number, number, number[][] | null][] = [
        [1, 300, [[5, 7, 1999]]],
        [3, 17, [[], [0, 1, 2, 3], [42]]],
        [2, 300, null],
        [1, 1, [[]]],
      ];
      for (const [r, [B, k, lists]] of requests.entries()) {
        const q = dyadic(100 + r, B * D);
        const exclude = lists ? exclusionsFromLists(lists) : null;
        const got = await op.search(q, k, exclude);
        const want = topkReference(q, x, B, N, D, k, exclude);
        expect(Array.from(got.ids), `request ${r}`).toEqual(Array.from(want.ids));
        expect(Array.from(got.scores), `request ${r}`).toEqual(Array.from(want.scores));
      }
    } finally {
      counted.forEach((name, i) => (device[name] = originals[i]));
      op.destroy();
    }
    expect(calls).toEqual([]);
  });

  it('serves requests sent together one after the other', async () => {
    const [N, D] = [500, 8];
    const x = dyadic(6, N * D);
    const op = await TopkOp.create(gpu, x, { N, D, maxK: 50 });
    try {
      const qs = [0, 1, 2, 3].map((i) => dyadic(200 + i, D));
      const got = await Promise.all(qs.map((q, i) => op.search(q, 10 + i)));
      qs.forEach((q, i) =>
        expect(Array.from(got[i].ids)).toEqual(Array.from(topkReference(q, x, 1, N, D, 10 + i).ids)),
      );
    } finally {
      op.destroy();
    }
  });

  it('shares a pass: queries written on the GPU, then encode and readResults', async () => {
    const [N, D, k] = [700, 16, 25];
    const x = dyadic(7, N * D);
    const q = dyadic(8, D);
    const op = await TopkOp.create(gpu, x, { N, D, maxK: k });
    try {
      // stands in for the user tower writing its output into op.queries
      const tower = gpu.upload('tower-output', q);
      const encoder = gpu.device.createCommandEncoder();
      encoder.copyBufferToBuffer(tower, 0, op.queries, 0, D * 4);
      gpu.device.queue.submit([encoder.finish()]);
      op.setExclusions(1, exclusionsFromLists([[3, 4]]));
      gpu.run((pass) => op.encode(pass, 1, k));
      const got = await op.readResults(1, k);
      expect(Array.from(got.ids)).toEqual(
        Array.from(topkReference(q, x, 1, N, D, k, exclusionsFromLists([[3, 4]])).ids),
      );
      tower.destroy();
    } finally {
      op.destroy();
    }
  });

  it('takes the catalogue as uneven row-chunks and splits it into its own chunks', async () => {
    const [B, N, D, k] = [2, 1500, 20, 200];
    const x = dyadic(9, N * D);
    const q = dyadic(10, B * D);
    const exclude = exclusionsFromLists([[0, 1400, 700], [1499]]);
    const want = topkReference(q, x, B, N, D, k, exclude);
    const parts = [x.subarray(0, 333 * D), x.subarray(333 * D, 334 * D), x.subarray(334 * D)];
    const op = await TopkOp.create(gpu, parts, { N, D, maxBatch: B, maxK: k, maxChunkRows: 512 });
    try {
      expect(op.chunkRows).toBe(512);
      const got = await op.search(q, k, exclude);
      expect(Array.from(got.ids)).toEqual(Array.from(want.ids));
    } finally {
      op.destroy();
    }
    // int8 chunks likewise, against the bit-exact int8 reference
    const int8 = quantizeItems(x, N, D);
    const int8Parts = [0, 600, 601, N].slice(1).map((end, i, ends) => {
      const start = i === 0 ? 0 : ends[i - 1];
      return { values: int8.values.subarray(start * D, end * D), scales: int8.scales.subarray(start, end) };
    });
    const got8 = await topkInt8(gpu, q, int8Parts, B, N, D, k, exclude, 256);
    expect(Array.from(got8.ids)).toEqual(Array.from(topkInt8Reference(q, int8, B, N, D, k, exclude).ids));
  });

  // A driver that refuses allocations over `limit` bytes (SwiftShader refuses 1 GiB, its own
  // maxBufferSize), as Gpu.allocate reports it.
  function refusing(limit: number): Gpu {
    const fake = Object.create(gpu) as Gpu;
    fake.allocate = async <T>(make: () => T) => {
      const made = await gpu.allocate(make);
      const sizes = Object.values(made as Record<string, GPUBuffer | null>).map((b) => b?.size ?? 0);
      if (sizes.some((n) => n > limit)) throw new GpuOutOfMemoryError(`simulated: no allocation over ${limit} bytes`);
      return made;
    };
    return fake;
  }

  it('halves its chunks while the driver refuses to allocate them, and answers the same', async () => {
    const [B, N, D, k] = [2, 5003, 16, 300];
    const x = dyadic(11, N * D);
    const q = dyadic(12, B * D);
    const op = await TopkOp.create(refusing(64 * 1024), x, { N, D, maxBatch: B, maxK: k });
    try {
      expect(op.chunkRows * D * 4).toBeLessThanOrEqual(64 * 1024);
      expect(op.chunkRows).toBeGreaterThanOrEqual(512); // halved, not shrunk to nothing
      expect(Array.from((await op.search(q, k)).ids)).toEqual(Array.from(topkReference(q, x, B, N, D, k).ids));
    } finally {
      op.destroy();
    }
  });

  it('a catalogue that fits in no chunk size is one sentence naming its size and what to do', async () => {
    const [N, D] = [5003, 16];
    const err = await TopkOp.create(refusing(1024), dyadic(11, N * D), { N, D, maxK: 10 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GpuOutOfMemoryError);
    expect((err as Error).message).toBe(
      "topk: the catalogue of 5003 × 16 f32 items (0.00 GiB) does not fit this adapter's memory, " +
        'even in chunks of 64 rows (simulated: no allocation over 1024 bytes): ' +
        'use int8 item embeddings, a smaller catalogue or a GPU with more memory.',
    );
  });

  it('one-shot topk splits a large batch of queries into several searches', async () => {
    const [B, N, D, k] = [41, 300, 8, 30];
    const x = dyadic(11, N * D);
    const q = dyadic(12, B * D);
    const lists = Array.from({ length: B }, (_, b) => (b % 3 === 0 ? [b, (b * 7) % N] : []));
    const exclude = exclusionsFromLists(lists);
    const got = await topk(gpu, q, x, B, N, D, k, exclude);
    expect(Array.from(got.ids)).toEqual(Array.from(topkReference(q, x, B, N, D, k, exclude).ids));
  });
});

describe('int8 topk', () => {
  it('recall@k against float32 on random unit vectors ≥ 0.99 (printed)', async () => {
    const seed = (Math.random() * 2 ** 32) >>> 0;
    const r = await topkRecallCheck.run(gpu, seed);
    console.log(`topk ${topkRecallCheck.case} (seed ${seed}): ${r.detail}`);
    expect(r.error, r.detail).toBeLessThanOrEqual(topkRecallCheck.tolerance);
  });
});
