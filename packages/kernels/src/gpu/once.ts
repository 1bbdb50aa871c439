// Run one kernel once: upload inputs, bind, dispatch, read the outputs back. For checks and
// tools (tests, `vireo doctor`), not for request paths — it allocates on every call.
import type { KernelSpec } from '../kernel.ts';
import type { Gpu } from './gpu.ts';

export interface OnceArgs {
  /** Input arrays by binding name (read bindings, and write bindings that start with data). */
  inputs: Record<string, ArrayBufferView>;
  /** Byte sizes of output bindings that start zeroed. */
  outputs?: Record<string, number>;
  params?: Record<string, number>;
  workgroups: number;
  overrides?: Record<string, number>;
}

/**
 * Dispatches `kernel` once and returns the contents of every write binding.
 * @example const { y } = await runOnce(gpu, linearForward, { inputs: { x, w, b }, outputs: { y: M*N*4 }, params,
 * workgroups });
 */
export async function runOnce(gpu: Gpu, kernel: KernelSpec, args: OnceArgs): Promise<Record<string, ArrayBuffer>> {
  const buffers: Record<string, GPUBuffer> = {};
  try {
    for (const b of kernel.bindings) {
      const data = args.inputs[b.name];
      if (data) buffers[b.name] = gpu.upload(`${kernel.name}:${b.name}`, data);
      else if (args.outputs?.[b.name] !== undefined)
        buffers[b.name] = gpu.buffer(`${kernel.name}:${b.name}`, args.outputs[b.name]);
      else throw new Error(`runOnce ${kernel.name}: no data or size for binding '${b.name}'.`);
    }
    const bound = await gpu.bind(kernel, buffers, args.overrides);
    gpu.run((pass) => bound.dispatch(pass, args.workgroups, args.params));
    const out: Record<string, ArrayBuffer> = {};
    for (const b of kernel.bindings) {
      if (b.kind === 'write')
        out[b.name] = await gpu.read(buffers[b.name], args.outputs?.[b.name] ?? args.inputs[b.name].byteLength);
    }
    bound.destroy();
    return out;
  } finally {
    for (const buf of Object.values(buffers)) buf.destroy();
  }
}
