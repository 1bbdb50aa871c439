// AdamW on the GPU over ranges of the flat parameter buffer. `adamW()` is one-shot (checks,
// tools); the trainer creates a `AdamWOp` once with its parameter groups and encodes a step.
import { adamParams, adamWorkgroups, adamWStep, checkAdam, checkAdamRange, type AdamWOptions } from './adam.ts';
import { check } from '../kernel.ts';
import { runOnce, type BindingResource, type BoundKernel, type Gpu } from '../gpu/index.ts';

/**
 * One AdamW step on elements offset..offset+count−1; returns the updated param, m, v.
 * @example const next = await adamW(gpu, grad, param, m, v, 0, param.length, { lr: 1e-3, weightDecay: 0.01, step: 1 });
 */
export async function adamW(
  gpu: Gpu,
  grad: Float32Array,
  param: Float32Array,
  m: Float32Array,
  v: Float32Array,
  offset: number,
  count: number,
  o: AdamWOptions,
): Promise<{ param: Float32Array; m: Float32Array; v: Float32Array }> {
  checkAdam(grad, param, m, v, offset, count, o);
  const out = await runOnce(gpu, adamWStep, {
    inputs: { grad, param, m, v },
    params: adamParams(offset, count, o),
    workgroups: adamWorkgroups(count),
  });
  return { param: new Float32Array(out.param), m: new Float32Array(out.m), v: new Float32Array(out.v) };
}

/** A parameter group: a range of the flat buffer (in elements) and its weight decay. */
export interface ParamGroup {
  offset: number;
  count: number;
  weightDecay: number;
}

/**
 * AdamW bound once to the flat grad/param/m/v buffers (each `length` f32) and a list of
 * parameter groups (one BoundKernel each, since params are written at queue time); `encode`
 * records one step over every group. Encode once per pass.
 * @example
 * const adam = await AdamWOp.create(gpu, { grad, param, m, v }, totalParams, [{ offset: 0, count: totalParams,
 * weightDecay: 0.01 }]);
 * gpu.run((pass) => adam.encode(pass, { lr: 1e-3, step }));
 */
export class AdamWOp {
  private constructor(private readonly groups: { group: ParamGroup; kernel: BoundKernel }[]) {}

  static async create(
    gpu: Gpu,
    buffers: { grad: BindingResource; param: BindingResource; m: BindingResource; v: BindingResource },
    length: number,
    groups: ParamGroup[],
  ): Promise<AdamWOp> {
    check(groups.length > 0, 'adam: no parameter groups were given.');
    const bound: { group: ParamGroup; kernel: BoundKernel }[] = [];
    for (const group of groups) {
      checkAdamRange(length, group.offset, group.count, { lr: 0, step: 1 });
      bound.push({ group: { ...group }, kernel: await gpu.bind(adamWStep, buffers) });
    }
    return new AdamWOp(bound);
  }

  /** One step (t = o.step ≥ 1) over every group; `o.weightDecay` is ignored (per group). */
  encode(pass: GPUComputePassEncoder, o: Omit<AdamWOptions, 'weightDecay'>): void {
    check(
      Number.isInteger(o.step) && o.step >= 1,
      `adam: step must be an integer ≥ 1 (bias correction), got ${o.step}.`,
    );
    for (const { group, kernel } of this.groups) {
      kernel.dispatch(
        pass,
        adamWorkgroups(group.count),
        adamParams(group.offset, group.count, { ...o, weightDecay: group.weightDecay }),
      );
    }
  }

  destroy(): void {
    for (const { kernel } of this.groups) kernel.destroy();
  }
}
