// Row-wise Adagrad on the GPU for embedding tables. `rowwiseAdagrad()` is one-shot (checks,
// tools: it validates ids); the trainer binds a `RowwiseAdagradOp` per table once.
import { check } from '../kernel.ts';
import {
  checkRowwiseAdagrad,
  rowwiseAdagradStep,
  rowwiseAdagradWorkgroups,
  type RowwiseAdagradOptions,
} from './rowwise_adagrad.ts';
import { runOnce, type BindingResource, type BoundKernel, type Gpu } from '../gpu/index.ts';

/**
 * One row-wise Adagrad step on the rows `ids` (unique, < R) of table (R,D) with grad (U,D);
 * returns the updated table and acc (R).
 * @example const next = await rowwiseAdagrad(gpu, ids, grad, table, acc, 64, { lr: 0.05 });
 */
export async function rowwiseAdagrad(
  gpu: Gpu,
  ids: Uint32Array,
  grad: Float32Array,
  table: Float32Array,
  acc: Float32Array,
  D: number,
  o: RowwiseAdagradOptions,
): Promise<{ table: Float32Array; acc: Float32Array }> {
  checkRowwiseAdagrad(ids, grad, table, acc, D);
  const U = ids.length;
  const out = await runOnce(gpu, rowwiseAdagradStep, {
    inputs: { ids, grad, table, acc },
    params: { U, D, R: acc.length, lr: o.lr, eps: o.eps ?? 1e-8 },
    workgroups: rowwiseAdagradWorkgroups(U),
  });
  return { table: new Float32Array(out.table), acc: new Float32Array(out.acc) };
}

/**
 * Row-wise Adagrad bound once to one table (R,D), its accumulators (R) and the batch's unique
 * ids (maxU) u32 and gradients (maxU,D). The ids must be unique and < R (the trainer's
 * dedup guarantees it; ids ≥ R are skipped on the GPU). Encode once per pass.
 * @example
 * const opt = await RowwiseAdagradOp.create(gpu, { ids, grad, table, acc }, { maxU: 65536, D: 64, R: rows });
 * opt.encode(pass, { U: uniqueCount, lr: 0.05 });
 */
export class RowwiseAdagradOp {
  private constructor(
    private readonly kernel: BoundKernel,
    readonly shape: { maxU: number; D: number; R: number },
  ) {}

  static async create(
    gpu: Gpu,
    buffers: { ids: BindingResource; grad: BindingResource; table: BindingResource; acc: BindingResource },
    shape: { maxU: number; D: number; R: number },
  ): Promise<RowwiseAdagradOp> {
    return new RowwiseAdagradOp(await gpu.bind(rowwiseAdagradStep, buffers), { ...shape });
  }

  encode(pass: GPUComputePassEncoder, o: RowwiseAdagradOptions & { U: number }): void {
    const { maxU, D, R } = this.shape;
    check(
      Number.isInteger(o.U) && o.U >= 0 && o.U <= maxU,
      `rowwise_adagrad: U = ${o.U} is outside the bound 0..${maxU}.`,
    );
    if (o.U === 0) return;
    this.kernel.dispatch(pass, rowwiseAdagradWorkgroups(o.U), { U: o.U, D, R, lr: o.lr, eps: o.eps ?? 1e-8 });
  }

  destroy(): void {
    this.kernel.destroy();
  }
}
