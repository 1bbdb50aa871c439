import { testRng } from '../testing.ts';
import { rowwiseAdagradReference } from '../rowwise_adagrad/rowwise_adagrad.ts';
import { RowwiseAdagradOp } from '../rowwise_adagrad/rowwise_adagrad.op.ts';
import type { KernelCheck } from '../check.ts';
import { worstOf } from '../check.ts';

// Sums of D ≤ 130 squares and an elementwise update, in f32 over a few steps: ≪ 1e-5.
// Steps each optimizer check runs through the bound form before the state is compared.
const STEPS = 5;
const ADAGRAD_TOL = 1e-5;
const adagradCases: [number, number, number, boolean?][] = [
  [1, 1, 1],
  [13, 7, 5],
  [100, 64, 37],
  [1000, 130, 500],
  [100_000, 64, 20_000, true],
];

/** `count` distinct row ids out of R (partial Fisher–Yates). */
function uniqueIds(rng: ReturnType<typeof testRng>, R: number, count: number): Uint32Array {
  const pool = Uint32Array.from({ length: R }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(R - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, count);
}

export const rowwiseAdagradChecks: KernelCheck[] = adagradCases.map(([R, D, U, large]) => ({
  kernel: 'rowwise_adagrad',
  case: `R=${R} D=${D} U=${U} ${STEPS} steps`,
  tolerance: ADAGRAD_TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    let want: { table: Float32Array; acc: Float32Array } = { table: rng.uniform(R * D), acc: rng.uniform(R, 0, 0.01) };
    const buffers = {
      ids: gpu.buffer('check:adagrad:ids', U * 4),
      grad: gpu.buffer('check:adagrad:grad', U * D * 4),
      table: gpu.upload('check:adagrad:table', want.table),
      acc: gpu.upload('check:adagrad:acc', want.acc),
    };
    const opt = await RowwiseAdagradOp.create(gpu, buffers, { maxU: U, D, R });
    try {
      for (let step = 1; step <= STEPS; step++) {
        const count = Math.max(1, U - rng.int(Math.ceil(U / 4))); // fewer ids on some steps
        const ids = uniqueIds(rng, R, count);
        const grad = rng.uniform(count * D);
        gpu.write(buffers.ids, ids);
        gpu.write(buffers.grad, grad);
        gpu.run((pass) => opt.encode(pass, { U: count, lr: 0.05, eps: 1e-8 }));
        want = rowwiseAdagradReference(ids, grad, want.table, want.acc, D, { lr: 0.05, eps: 1e-8 });
      }
      return worstOf({
        table: [await gpu.readF32(buffers.table, R * D), want.table],
        acc: [await gpu.readF32(buffers.acc, R), want.acc],
      });
    } finally {
      opt.destroy();
      for (const b of Object.values(buffers)) b.destroy();
    }
  },
}));
