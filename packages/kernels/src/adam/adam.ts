// adam: AdamW over a range of the flat parameter buffer; the kernel and its CPU reference.
import source from './adam.wgsl?raw';
import { check, defineKernel } from '../kernel.ts';
import type { FloatArray } from '../testing.ts';

/** AdamW hyper-parameters for one step (t counts from 1). */
export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** The step number t ≥ 1, for bias correction. */
  step: number;
}

/**
 * AdamW on elements offset..offset+count−1 of param, m, v, given grad (all the same layout).
 * grad (P) → param, m, v (P) updated in place. One thread per element.
 */
export const adamWStep = defineKernel({
  name: 'adam.step',
  source,
  entryPoint: 'step',
  bindings: [
    { name: 'grad', kind: 'read' },
    { name: 'param', kind: 'write' },
    { name: 'm', kind: 'write' },
    { name: 'v', kind: 'write' },
  ],
  params: [
    ['offset', 'u32'],
    ['count', 'u32'],
    ['lr', 'f32'],
    ['beta1', 'f32'],
    ['beta2', 'f32'],
    ['one_minus_beta1', 'f32'],
    ['one_minus_beta2', 'f32'],
    ['eps', 'f32'],
    ['weight_decay', 'f32'],
    ['bc1', 'f32'],
    ['bc2', 'f32'],
  ],
  overrides: { WG: 256 },
});

/** Workgroups of adam.step for `count` elements. */
export function adamWorkgroups(count: number, wg = 256): number {
  return Math.ceil(count / wg);
}

/** The params uniform of adam.step, with 1 − β and the bias corrections computed in float64. */
export function adamParams(offset: number, count: number, o: AdamWOptions): Record<string, number> {
  const beta1 = o.beta1 ?? 0.9;
  const beta2 = o.beta2 ?? 0.999;
  return {
    offset,
    count,
    lr: o.lr,
    beta1,
    beta2,
    one_minus_beta1: 1 - beta1,
    one_minus_beta2: 1 - beta2,
    eps: o.eps ?? 1e-8,
    weight_decay: o.weightDecay ?? 0,
    bc1: 1 - beta1 ** o.step,
    bc2: 1 - beta2 ** o.step,
  };
}

/** Checks an AdamW call; throws a ShapeError naming the argument. */
export function checkAdam(
  grad: ArrayLike<number>,
  param: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  offset: number,
  count: number,
  o: AdamWOptions,
): void {
  check(param.length > 0, 'adam: param is empty.');
  check(
    grad.length === param.length,
    `adam: grad has ${grad.length} values, expected ${param.length} (the length of param).`,
  );
  check(m.length === param.length, `adam: m has ${m.length} values, expected ${param.length} (the length of param).`);
  check(v.length === param.length, `adam: v has ${v.length} values, expected ${param.length} (the length of param).`);
  checkAdamRange(param.length, offset, count, o);
}

/** Checks a range and options against a parameter buffer of `length` elements. */
export function checkAdamRange(length: number, offset: number, count: number, o: AdamWOptions): void {
  check(
    Number.isInteger(offset) && offset >= 0 && Number.isInteger(count) && count > 0 && offset + count <= length,
    `adam: range offset=${offset} count=${count} is outside the parameter buffer of ${length} values.`,
  );
  check(Number.isInteger(o.step) && o.step >= 1, `adam: step must be an integer ≥ 1 (bias correction), got ${o.step}.`);
}

/**
 * CPU reference of adam.step (same argument order): returns updated copies of param, m, v, of
 * param's type; float64 arithmetic, stored in the arrays' own precision.
 */
export function adamReference<T extends FloatArray>(
  grad: FloatArray,
  param: T,
  m: T,
  v: T,
  offset: number,
  count: number,
  o: AdamWOptions,
): { param: T; m: T; v: T } {
  checkAdam(grad, param, m, v, offset, count, o);
  const p = adamParams(offset, count, o);
  const out = { param: param.slice() as T, m: m.slice() as T, v: v.slice() as T };
  for (let i = offset; i < offset + count; i++) {
    const g = grad[i];
    const w = param[i] * (1 - p.lr * p.weight_decay);
    const m1 = p.beta1 * m[i] + p.one_minus_beta1 * g;
    const v1 = p.beta2 * v[i] + p.one_minus_beta2 * g * g;
    out.m[i] = m1;
    out.v[i] = v1;
    out.param[i] = w - (p.lr * (m1 / p.bc1)) / (Math.sqrt(v1 / p.bc2) + p.eps);
  }
  return out;
}
