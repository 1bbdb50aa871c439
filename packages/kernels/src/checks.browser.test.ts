// The same kernel checks as checks.test.ts, in headless Chromium over WebGPU.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gpu } from './gpu/index.ts';
import { KERNEL_CHECKS } from './checks.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

describe('kernels in Chromium (WebGPU)', () => {
  it('has a WebGPU adapter', () => {
    expect(gpu.device).toBeTruthy();
  });
  // Large cases ran on Dawn already; here the point is the identical WGSL in the browser.
  it.each(KERNEL_CHECKS.filter((c) => !c.large).map((c) => [`${c.kernel} ${c.case}`, c] as const))(
    '%s',
    async (_name, check) => {
      const seed = (Math.random() * 2 ** 32) >>> 0;
      const r = await check.run(gpu, seed);
      expect(r.error, `${_name} seed=${seed}: ${r.detail}`).toBeLessThanOrEqual(check.tolerance);
    },
  );
});
