// Each kernel against its CPU reference on Dawn (SwiftShader here), with fresh random inputs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gpu } from './gpu/index.ts';
import { KERNEL_CHECKS } from './checks.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

describe.each([...new Set(KERNEL_CHECKS.map((c) => c.kernel))])('%s vs CPU reference', (kernel) => {
  it.each(KERNEL_CHECKS.filter((c) => c.kernel === kernel).map((c) => [c.case, c] as const))(
    '%s',
    async (_name, check) => {
      const seed = (Math.random() * 2 ** 32) >>> 0;
      const r = await check.run(gpu, seed);
      const msg =
        `${check.kernel} ${check.case} seed=${seed}: error ` +
        `${r.error.toExponential(2)} > tolerance ${check.tolerance}; ${r.detail}`;
      expect(r.error, msg).toBeLessThanOrEqual(check.tolerance);
    },
  );
});
