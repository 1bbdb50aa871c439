// The calibration maps of the study in docs/ARCHITECTURE.md §4 (ranking): Platt (what training ships, folded into the
// heads' last layers), temperature, intercept only, beta calibration and isotonic regression, each a map from a
// head's logit to a calibrated logit. Only Platt is served; the others are here to be compared on the same models
// (calibration-table.ts).
import { fitPlatt } from '../ranking/calibrate.ts';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The calibration maps compared in docs/ARCHITECTURE.md §4: each turns a head's logit into a calibrated logit. */
export type CalibrationMethod = 'none' | 'platt' | 'temperature' | 'bias' | 'beta' | 'isotonic';

export type CalibrationMap =
  | { kind: 'affine'; a: number; b: number }
  | { kind: 'beta'; a: number; b: number; c: number }
  | { kind: 'pwl'; x: number[]; y: number[] };

const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/**
 * Logistic regression of y on the columns of `x` (rows × k) plus `offset`, by Newton with a line search and a tiny
 * ridge towards `start`: the small fits behind temperature, intercept-only and beta calibration.
 */
function fitLogit(x: number[][], offset: ArrayLike<number>, y: ArrayLike<number>, start: number[]): number[] {
  const k = start.length;
  const n = y.length;
  const ridge = 1e-6 * n;
  const w = start.slice();
  const loss = (v: number[]) => {
    let l = 0;
    for (let j = 0; j < k; j++) l += 0.5 * ridge * (v[j] - start[j]) ** 2;
    for (let i = 0; i < n; i++) {
      let t = offset[i];
      for (let j = 0; j < k; j++) t += v[j] * x[i][j];
      l += softplus(y[i] > 0.5 ? -t : t);
    }
    return l;
  };
  let current = loss(w);
  for (let iter = 0; iter < 100; iter++) {
    const g = w.map((v, j) => ridge * (v - start[j]));
    const h = Array.from({ length: k }, (_, a) => Array.from({ length: k }, (_, b) => (a === b ? ridge : 0)));
    for (let i = 0; i < n; i++) {
      let t = offset[i];
      for (let j = 0; j < k; j++) t += w[j] * x[i][j];
      const p = sigmoid(t);
      const q = Math.max(p * (1 - p), 1e-12);
      for (let a = 0; a < k; a++) {
        g[a] += (p - y[i]) * x[i][a];
        for (let b = 0; b < k; b++) h[a][b] += q * x[i][a] * x[i][b];
      }
    }
    const step = solve(h, g);
    if (!step) break;
    let s = 1;
    let next = loss(w.map((v, j) => v - s * step[j]));
    while (!(next <= current) && s > 1e-6) {
      s /= 2;
      next = loss(w.map((v, j) => v - s * step[j]));
    }
    if (!(next <= current)) break;
    for (let j = 0; j < k; j++) w[j] -= s * step[j];
    current = next;
    if (s * step.reduce((t, v) => t + Math.abs(v), 0) < 1e-10) break;
  }
  return w;
}

/** Solves h·x = g (k ≤ 3) by Gaussian elimination; null when singular. */
function solve(h: number[][], g: number[]): number[] | null {
  const k = g.length;
  const m = h.map((row, i) => [...row, g[i]]);
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    if (!(Math.abs(m[p][c]) > 1e-300)) return null;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let j = c; j <= k; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((row, i) => row[k] / row[i]);
}

/**
 * Isotonic regression (pool adjacent violators) of y on z, as a piecewise-linear map between the blocks' mean logits
 * and the logits of their rates, constant beyond the ends.
 */
function fitIsotonic(z: ArrayLike<number>, y: ArrayLike<number>): { x: number[]; y: number[] } {
  const order = Array.from({ length: z.length }, (_, i) => i).sort((a, b) => z[a] - z[b]);
  const blocks: Array<{ sum: number; n: number; zSum: number }> = [];
  for (const i of order) {
    blocks.push({ sum: y[i], n: 1, zSum: z[i] });
    while (
      blocks.length > 1 &&
      blocks[blocks.length - 2].sum / blocks[blocks.length - 2].n >=
        blocks[blocks.length - 1].sum / blocks[blocks.length - 1].n
    ) {
      const last = blocks.pop()!;
      const prev = blocks[blocks.length - 1];
      prev.sum += last.sum;
      prev.n += last.n;
      prev.zSum += last.zSum;
    }
  }
  // Rates kept off 0 and 1 by half a row of all the rows (a monotone clamp: the order stays).
  const eps = 0.5 / Math.max(1, z.length);
  const logit = (p: number) => Math.log(p / (1 - p));
  return {
    x: blocks.map((b) => b.zSum / b.n),
    y: blocks.map((b) => logit(Math.min(1 - eps, Math.max(eps, b.sum / b.n)))),
  };
}

/**
 * Fits calibration map `method` to logits z and binary labels y.
 * @example applyCalibrationMap(fitCalibrationMap('beta', z, y), 0.3) // the calibrated logit at z = 0.3
 */
export function fitCalibrationMap(
  method: CalibrationMethod,
  z: ArrayLike<number>,
  y: ArrayLike<number>,
): CalibrationMap {
  const zero = new Float64Array(z.length);
  switch (method) {
    case 'none':
      return { kind: 'affine', a: 1, b: 0 };
    case 'platt':
      return { kind: 'affine', ...fitPlatt(z, y) };
    case 'temperature':
      return {
        kind: 'affine',
        a: fitLogit(
          Array.from(z, (v) => [v]),
          zero,
          y,
          [1],
        )[0],
        b: 0,
      };
    case 'bias':
      return {
        kind: 'affine',
        a: 1,
        b: fitLogit(
          Array.from(z, () => [1]),
          z,
          y,
          [0],
        )[0],
      };
    case 'beta': {
      // σ(a·ln p − b·ln(1 − p) + c) with p = σ(z): ln p = −softplus(−z), −ln(1 − p) = softplus(z).
      // a, b ≥ 0 keep the map increasing (its slope in z is a·(1 − p) + b·p); a negative one is refitted at 0.
      const u = Array.from(z, (v) => -softplus(-v));
      const v = Array.from(z, (x) => softplus(x));
      let [a, b, c] = fitLogit(
        u.map((x, i) => [x, v[i], 1]),
        zero,
        y,
        [1, 1, 0],
      );
      if (a < 0)
        [a, b, c] = [
          0,
          ...fitLogit(
            v.map((x) => [x, 1]),
            zero,
            y,
            [1, 0],
          ),
        ];
      else if (b < 0)
        [a, c, b] = [
          ...fitLogit(
            u.map((x) => [x, 1]),
            zero,
            y,
            [1, 0],
          ),
          0,
        ];
      return { kind: 'beta', a, b, c };
    }
    case 'isotonic':
      return { kind: 'pwl', ...fitIsotonic(z, y) };
  }
}

/** The calibrated logit of logit z under `map`. */
export function applyCalibrationMap(map: CalibrationMap, z: number): number {
  if (map.kind === 'affine') return map.a * z + map.b;
  if (map.kind === 'beta') return -map.a * softplus(-z) + map.b * softplus(z) + map.c;
  const { x, y } = map;
  if (z <= x[0]) return y[0];
  if (z >= x[x.length - 1]) return y[y.length - 1];
  let lo = 0;
  let hi = x.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x[mid] <= z) lo = mid;
    else hi = mid;
  }
  const t = (z - x[lo]) / (x[hi] - x[lo] || 1);
  return y[lo] + t * (y[hi] - y[lo]);
}
