// The GPU layer's own behaviour: grid splitting, validation errors that name the kernel,
// errors at submit surfacing from idle(), readback round trips.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearForward } from '../linear/linear.ts';
import { Gpu, KernelError } from './gpu.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await Gpu.create();
});
afterAll(() => gpu?.destroy());

describe('Gpu', () => {
  it('splits large dispatches into a 2-D grid within the per-dimension limit', () => {
    const max = gpu.limits.maxComputeWorkgroupsPerDimension;
    expect(gpu.grid(1)).toEqual([1, 1]);
    expect(gpu.grid(max)).toEqual([max, 1]);
    const [x, y] = gpu.grid(max * 3 + 7);
    expect(x).toBeLessThanOrEqual(max);
    expect(x * y).toBeGreaterThanOrEqual(max * 3 + 7);
  });

  it('round-trips data through a buffer', async () => {
    const data = Float32Array.from({ length: 1001 }, (_, i) => i * 0.5 - 3);
    const buf = gpu.upload('roundtrip', data);
    expect(await gpu.readF32(buf, data.length)).toEqual(data);
    buf.destroy();
  });

  it('reads back through one reusable staging buffer, serialized and packed', async () => {
    const a = gpu.upload('a', Float32Array.from([1, 2, 3]));
    const b = gpu.upload('b', Float32Array.from([4, 5]));
    const rb = gpu.readback('test', 64);
    const [ra, rbb, both] = await Promise.all([
      rb.read(a, 12),
      rb.read(b, 8),
      rb.readMany([
        { buffer: a, bytes: 8, offset: 4 },
        { buffer: b, bytes: 4 },
      ]),
    ]);
    expect([...new Float32Array(ra)]).toEqual([1, 2, 3]);
    expect([...new Float32Array(rbb)]).toEqual([4, 5]);
    expect([...new Float32Array(both)]).toEqual([2, 3, 4]);
    await expect(rb.read(a, 128)).rejects.toThrow(/over its 64-byte staging buffer/);
    rb.destroy();
    a.destroy();
    b.destroy();
  });

  it('names the kernel and binding when a binding is missing', async () => {
    const x = gpu.buffer('x', 16);
    await expect(gpu.bind(linearForward, { x })).rejects.toThrow(/linear\.forward: binding 'w' was not given/);
    x.destroy();
  });

  it('reports a WGSL compile error naming the kernel', async () => {
    const broken = { ...linearForward, name: 'broken.kernel', source: 'fn forward( {' };
    await expect(gpu.pipeline(broken)).rejects.toThrow(KernelError);
    await expect(gpu.pipeline(broken)).rejects.toThrow(/broken\.kernel/);
  });

  it('surfaces an error raised at submit from idle()', async () => {
    const buf = gpu.buffer('destroyed', 16);
    buf.destroy();
    const encoder = gpu.device.createCommandEncoder();
    encoder.clearBuffer(buf);
    gpu.device.queue.submit([encoder.finish()]);
    await expect(gpu.idle()).rejects.toThrow(/GPU error/);
    await expect(gpu.idle()).resolves.toBeUndefined();
  });
});
