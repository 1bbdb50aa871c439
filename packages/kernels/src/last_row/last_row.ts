// last_row: the kernels' declarations and their CPU references (same argument order).
// Legend: B batch, L positions per row (oldest first, padded after lengths[b]), W row width.
import source from './last_row.wgsl?raw';
import { check, defineKernel } from '../kernel.ts';
import { like, type FloatArray } from '../testing.ts';

const PARAMS = [
  ['B', 'u32'],
  ['L', 'u32'],
  ['W', 'u32'],
] as const;
const OVERRIDES = { WG: 64 };

/** Forward: y (B, W) = x[b, min(lengths[b], L) − 1], zeros for an empty row; x (B, L, W), lengths (B) u32. */
export const lastRowForwardKernel = defineKernel({
  name: 'last_row.forward',
  source,
  entryPoint: 'forward',
  bindings: [
    { name: 'x', kind: 'read' },
    { name: 'lengths', kind: 'read' },
    { name: 'y', kind: 'write' },
  ],
  params: PARAMS,
  overrides: OVERRIDES,
});

/** Backward: dx (B, L, W) += dy[b] at row b's last valid position; dy (B, W). Accumulates. */
export const lastRowBackwardKernel = defineKernel({
  name: 'last_row.backward',
  source,
  entryPoint: 'backward',
  bindings: [
    { name: 'dy', kind: 'read' },
    { name: 'lengths', kind: 'read' },
    { name: 'dx', kind: 'write' },
  ],
  params: PARAMS,
  overrides: OVERRIDES,
});

/** Workgroups of both entry points: a thread per (b, c). */
export function lastRowWorkgroups(B: number, W: number, wg = OVERRIDES.WG): number {
  return Math.ceil((B * W) / wg);
}

/** Checks a last_row call's shapes and lengths; throws a ShapeError naming the argument. */
export function checkLastRow(
  x: ArrayLike<number> | null,
  lengths: ArrayLike<number> | null,
  B: number,
  L: number,
  W: number,
): void {
  for (const [name, n] of [
    ['B', B],
    ['L', L],
    ['W', W],
  ] as const)
    check(Number.isInteger(n) && n > 0, `lastRow: ${name} must be a positive integer, got ${n}.`);
  check(
    x === null || x.length === B * L * W,
    `lastRow: x has ${x?.length} values, expected B·L·W = ${B}·${L}·${W} = ${B * L * W}.`,
  );
  if (lengths === null) return;
  check(lengths.length === B, `lastRow: lengths has ${lengths.length} values, expected B = ${B}.`);
  for (let b = 0; b < B; b++)
    check(
      Number.isInteger(lengths[b]) && lengths[b] >= 0 && lengths[b] <= L,
      `lastRow: lengths[${b}] = ${lengths[b]} is outside 0..L = 0..${L}.`,
    );
}

/**
 * CPU reference: y (B, W), row b = x[b, lengths[b] − 1] (the most recent valid position), zeros when lengths[b] = 0.
 * @example const y = lastRowReference(x, lengths, B, L, W);
 */
export function lastRowReference<T extends FloatArray>(
  x: T,
  lengths: ArrayLike<number>,
  B: number,
  L: number,
  W: number,
): T {
  checkLastRow(x, lengths, B, L, W);
  const y = like(x, B * W) as T;
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    if (n > 0) y.set(x.subarray((b * L + n - 1) * W, (b * L + n) * W), b * W);
  }
  return y;
}

/** CPU reference of the backward: dx (B, L, W), dy[b] at row b's last valid position and zeros elsewhere. */
export function lastRowBackwardReference<T extends FloatArray>(
  dy: T,
  lengths: ArrayLike<number>,
  B: number,
  L: number,
  W: number,
): T {
  checkLastRow(null, lengths, B, L, W);
  check(dy.length === B * W, `lastRow: dy has ${dy.length} values, expected B·W = ${B}·${W} = ${B * W}.`);
  const dx = like(dy, B * L * W) as T;
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    if (n > 0) dx.set(dy.subarray(b * W, (b + 1) * W), (b * L + n - 1) * W);
  }
  return dx;
}
