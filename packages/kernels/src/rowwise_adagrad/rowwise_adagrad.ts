// rowwise_adagrad: row-wise Adagrad for embedding tables (only the batch's rows move); the
// kernel and its CPU reference.
import source from './rowwise_adagrad.wgsl?raw';
import { check, defineKernel } from '../kernel.ts';
import type { FloatArray } from '../testing.ts';

/** Row-wise Adagrad hyper-parameters. */
export interface RowwiseAdagradOptions {
  lr: number;
  /** Added to √acc; default 1e-8. */
  eps?: number;
}

/**
 * ids (U) u32 unique, grad (U,D) → table (R,D) and acc (R) updated in place on those rows:
 * acc[r] += mean_d g², w[r] −= lr·g/(√acc[r] + eps). One thread per unique row.
 */
export const rowwiseAdagradStep = defineKernel({
  name: 'rowwise_adagrad.step',
  source,
  entryPoint: 'step',
  bindings: [
    { name: 'ids', kind: 'read' },
    { name: 'grad', kind: 'read' },
    { name: 'table', kind: 'write' },
    { name: 'acc', kind: 'write' },
  ],
  params: [
    ['U', 'u32'],
    ['D', 'u32'],
    ['R', 'u32'],
    ['lr', 'f32'],
    ['eps', 'f32'],
  ],
  overrides: { WG: 64 },
});

/** Workgroups of rowwise_adagrad.step: a thread per unique row. */
export function rowwiseAdagradWorkgroups(U: number, wg = 64): number {
  return Math.ceil(U / wg);
}

/**
 * Checks a row-wise Adagrad call; throws a ShapeError naming the argument. `ids` must be unique
 * (two threads on one row would race) and inside the table.
 */
export function checkRowwiseAdagrad(
  ids: ArrayLike<number>,
  grad: ArrayLike<number>,
  table: ArrayLike<number>,
  acc: ArrayLike<number>,
  D: number,
): void {
  check(Number.isInteger(D) && D > 0, `rowwise_adagrad: D must be a positive integer, got ${D}.`);
  check(ids.length > 0, 'rowwise_adagrad: ids is empty.');
  check(
    table.length > 0 && table.length % D === 0,
    `rowwise_adagrad: table has ${table.length} values, not a positive multiple of D = ${D}.`,
  );
  const R = table.length / D;
  check(acc.length === R, `rowwise_adagrad: acc has ${acc.length} values, expected one per table row (R = ${R}).`);
  check(
    grad.length === ids.length * D,
    `rowwise_adagrad: grad has ${grad.length} values, expected U·D = ${ids.length}·${D} = ${ids.length * D}.`,
  );
  const seen = new Set<number>();
  for (let u = 0; u < ids.length; u++) {
    const r = ids[u];
    check(
      Number.isInteger(r) && r >= 0 && r < R,
      `rowwise_adagrad: ids[${u}] = ${r} is outside the table (R = ${R} rows).`,
    );
    check(
      !seen.has(r),
      `rowwise_adagrad: ids[${u}] = ${r} repeats an earlier ` +
        `id; ids must be unique (sum duplicate rows' gradients first).`,
    );
    seen.add(r);
  }
}

/**
 * CPU reference of rowwise_adagrad.step (same argument order): returns updated copies of table
 * and acc, of table's type; float64 arithmetic, stored in the arrays' own precision.
 */
export function rowwiseAdagradReference<T extends FloatArray>(
  ids: ArrayLike<number>,
  grad: FloatArray,
  table: T,
  acc: T,
  D: number,
  o: RowwiseAdagradOptions,
): { table: T; acc: T } {
  checkRowwiseAdagrad(ids, grad, table, acc, D);
  const eps = o.eps ?? 1e-8;
  const out = { table: table.slice() as T, acc: acc.slice() as T };
  for (let u = 0; u < ids.length; u++) {
    const r = ids[u];
    let s = 0;
    for (let d = 0; d < D; d++) s += grad[u * D + d] ** 2;
    const a = acc[r] + s / D;
    out.acc[r] = a;
    const scale = o.lr / (Math.sqrt(a) + eps);
    for (let d = 0; d < D; d++) out.table[r * D + d] = table[r * D + d] - scale * grad[u * D + d];
  }
  return out;
}
