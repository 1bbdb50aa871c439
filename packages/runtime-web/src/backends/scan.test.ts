// ExactScan (the CPU backend's catalogue search) against topkReference (@vireo/kernels) on fresh
// random catalogues, with exclusions, ties, k past the eligible rows and D not a multiple of 4.
// The JavaScript scan: the reference's ids, order and scores bit for bit. The wasm SIMD scan
// (float32 lanes): every score within 1e-5 of the reference's at the same position, and every
// row the reference ranks clearly (by more than 1e-5) inside the top k is in it.
import { describe, expect, it } from 'vitest';
import { topkReference, TOPK_NONE } from '@vireo/kernels';
import { ExactScan } from './scan.ts';

function random(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

describe('ExactScan', () => {
  for (const [N, D, k, seed] of [
    [1000, 32, 20, 1],
    [5000, 8, 1000, 2],
    [257, 7, 50, 3],
    [30, 5, 30, 4],
  ] as const) {
    it(`N=${N} D=${D} k=${k}: the reference's ids, order and scores (seed ${seed})`, () => {
      const rand = random(seed);
      const items = new Float32Array(N * D).map(rand);
      for (let d = 0; d < D; d++) items[5 * D + d] = items[9 * D + d]; // a tie: row 5 before row 9
      const scan = new ExactScan(items, N, D, 1000, { simd: false });
      const simd = new ExactScan(items, N, D, 1000);
      expect(simd.kind).toBe('wasm-simd'); // Node 20 and Chromium have wasm SIMD
      for (let q = 0; q < 5; q++) {
        const u = new Float32Array(D).map(rand);
        const exclude = Uint32Array.from(
          new Set(Array.from({ length: q * 3 }, () => Math.floor(((rand() + 1) / 2) * N))),
        ).sort();
        const ref = topkReference(
          u,
          items,
          1,
          N,
          D,
          k,
          exclude.length > 0 ? { ids: exclude, offsets: Uint32Array.of(0, exclude.length) } : null,
        );
        const got = scan.search(u, k, exclude);
        expect(Array.from(got.ids)).toEqual(Array.from(ref.ids));
        expect(Array.from(got.scores)).toEqual(Array.from(ref.scores));
        const fast = simd.search(u, k, exclude);
        for (let j = 0; j < k; j++) {
          const diff = fast.scores[j] === ref.scores[j] ? 0 : Math.abs(fast.scores[j] - ref.scores[j]);
          expect(diff, `position ${j}: ${fast.scores[j]} vs ${ref.scores[j]}`).toBeLessThan(1e-5);
        }
        const kth = ref.scores[k - 1];
        const clear = Array.from(ref.ids).filter((id, j) => id !== TOPK_NONE && ref.scores[j] > kth + 1e-5);
        const fastIds = new Set(fast.ids);
        expect(clear.filter((id) => !fastIds.has(id))).toEqual([]);
        if (exclude.length > 0 && k > N - exclude.length) expect(got.ids[k - 1]).toBe(TOPK_NONE);
        // the scratch mask was cleared: the same query without exclusions returns excluded rows again
        if (exclude.length > 0 && k <= N) {
          const again = scan.search(u, k, []);
          const refAll = topkReference(u, items, 1, N, D, k, null);
          expect(Array.from(again.ids)).toEqual(Array.from(refAll.ids));
        }
      }
    });
  }
});
