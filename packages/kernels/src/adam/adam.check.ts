// Kernel check: AdamW over parameter groups, several steps through the bound form (the trainer's path), on the GPU
// against its float64 CPU reference with fresh random inputs.
import { adamReference } from '../adam/adam.ts';
import { testRng } from '../testing.ts';
import { AdamWOp, type ParamGroup } from '../adam/adam.op.ts';
import type { KernelCheck } from '../check.ts';
import { worstOf } from '../check.ts';

// After STEPS steps: each step's update is lr·m̂/(√v̂+ε) with f32 rounding of ~1e-7 relative,
// so the state drifts from the float64 reference by ≪ 1e-5 of its scale.
const ADAM_TOL = 1e-5;
const STEPS = 5;
const adamCases: [number, ParamGroup[], boolean?][] = [
  [1, [{ offset: 0, count: 1, weightDecay: 0 }]],
  [13, [{ offset: 3, count: 7, weightDecay: 0.1 }]],
  [
    1000,
    [
      { offset: 0, count: 600, weightDecay: 0.01 },
      { offset: 640, count: 333, weightDecay: 0 },
    ],
  ],
  [
    1_000_003,
    [
      { offset: 0, count: 999_000, weightDecay: 0.01 },
      { offset: 999_040, count: 963, weightDecay: 0 },
    ],
    true,
  ],
];

export const adamChecks: KernelCheck[] = adamCases.map(([P, groups, large]) => ({
  kernel: 'adam',
  case: `P=${P} groups=${groups.map((g) => `${g.offset}+${g.count}`).join(',')} ${STEPS} steps`,
  tolerance: ADAM_TOL,
  large,
  async run(gpu, seed) {
    const rng = testRng(seed);
    let want: { param: Float32Array; m: Float32Array; v: Float32Array } = {
      param: rng.uniform(P),
      m: new Float32Array(P),
      v: new Float32Array(P),
    };
    const buffers = {
      grad: gpu.buffer('check:adam:grad', P * 4),
      param: gpu.upload('check:adam:param', want.param),
      m: gpu.upload('check:adam:m', want.m),
      v: gpu.upload('check:adam:v', want.v),
    };
    const adam = await AdamWOp.create(gpu, buffers, P, groups);
    try {
      for (let step = 1; step <= STEPS; step++) {
        const grad = rng.uniform(P, -0.1, 0.1);
        const o = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, step };
        gpu.write(buffers.grad, grad);
        gpu.run((pass) => adam.encode(pass, o));
        for (const g of groups)
          want = adamReference(grad, want.param, want.m, want.v, g.offset, g.count, {
            ...o,
            weightDecay: g.weightDecay,
          });
      }
      // The moments can cancel to near zero (m of alternating gradients): measure them against
      // what one step feeds in, (1−β1)·max|g| and (1−β2)·max g², not against their own size.
      return worstOf({
        param: [await gpu.readF32(buffers.param, P), want.param],
        m: [await gpu.readF32(buffers.m, P), want.m, (1 - 0.9) * 0.1],
        v: [await gpu.readF32(buffers.v, P), want.v, (1 - 0.999) * 0.1 * 0.1],
      });
    } finally {
      adam.destroy();
      for (const b of Object.values(buffers)) b.destroy();
    }
  },
}));
