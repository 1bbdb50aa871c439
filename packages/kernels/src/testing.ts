// How "correct" is measured for every kernel: the GPU result against its CPU reference.

/**
 * Max relative error of `got` against `want`, relative to the output's scale:
 * max_i |got_i − want_i| / max(max_i |want_i|, 1e-30). A scale-relative measure, so entries
 * near zero (e.g. after cancellation) do not inflate it; NaN or a length mismatch gives Infinity.
 */
export function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>, atLeastScale = 0): number {
  if (got.length !== want.length) return Infinity;
  // `atLeastScale`: for outputs that are exactly zero in exact arithmetic (e.g. the gradient of
  // normalising a 1-D vector), the scale the rounding residual is measured against.
  let scale = atLeastScale;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= Infinity)) return Infinity; // NaN
    err = Math.max(err, d);
  }
  return err / Math.max(scale, 1e-30);
}

/** A one-paragraph account of a mismatch: the first values side by side and the worst index. */
export function describeMismatch(got: ArrayLike<number>, want: ArrayLike<number>, n = 6): string {
  let worst = 0;
  for (let i = 1; i < Math.min(got.length, want.length); i++) {
    if (Math.abs(got[i] - want[i]) > Math.abs(got[worst] - want[worst])) worst = i;
  }
  const head = (a: ArrayLike<number>) =>
    Array.from({ length: Math.min(n, a.length) }, (_, i) => Number(a[i]).toPrecision(6)).join(', ');
  return (
    `got [${head(got)}…] want [${head(want)}…] worst at ${worst}: ` +
    `${got[worst]} vs ${want[worst]} (lengths ${got.length}/${want.length})`
  );
}

/** A small seeded generator for test inputs (mulberry32): the printed seed reproduces a failure. */
export function testRng(seed: number): {
  next(): number;
  uniform(n: number, lo?: number, hi?: number): Float32Array;
  int(n: number): number;
} {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    uniform: (n, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => lo + (hi - lo) * next()),
    int: (n) => Math.floor(next() * n),
  };
}

/** Float32Array or Float64Array: CPU references accept both and return the first input's type. */
export type FloatArray = Float32Array | Float64Array;

/** A new array of the same type as `like` (so float64 inputs give float64 reference outputs). */
export function like(likeArray: FloatArray, n: number): FloatArray {
  return likeArray instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

/**
 * Checks a backward against central finite differences of its forward, in float64.
 * The scalar checked is L = Σ_i y_i · g_i for a fixed random g (= dL/dy, passed to `backward`).
 * `backward` returns dL/d(input j) for each input in `check` order. Error per element:
 * |analytic − numeric| ≤ atol + rtol·|numeric|; returns the worst ratio (≤ 1 passes).
 * @example gradCheck(([x, w]) => ref(x, w), ([x, w], dy) => refBackward(x, w, dy), [x, w], { atol: 1e-6, rtol: 1e-4 })
 */
export function gradCheck(
  forward: (inputs: Float64Array[]) => FloatArray,
  backward: (inputs: Float64Array[], dy: Float64Array) => FloatArray[],
  inputs: Float64Array[],
  opts: { atol: number; rtol: number; eps?: number; check?: number[]; seed?: number; maxPerInput?: number },
): { worst: number; detail: string } {
  const eps = opts.eps ?? 1e-6;
  const rng = testRng(opts.seed ?? 7);
  const y0 = forward(inputs);
  const g = Float64Array.from({ length: y0.length }, () => rng.next() * 2 - 1);
  const analytic = backward(inputs, g);
  const which = opts.check ?? inputs.map((_, i) => i);
  let worst = 0;
  let detail = 'ok';
  const loss = () => {
    const y = forward(inputs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * g[i];
    return s;
  };
  which.forEach((j, slot) => {
    const x = inputs[j];
    const n = x.length;
    const count = Math.min(n, opts.maxPerInput ?? 64);
    for (let t = 0; t < count; t++) {
      const i = count === n ? t : rng.int(n);
      const keep = x[i];
      x[i] = keep + eps;
      const lp = loss();
      x[i] = keep - eps;
      const lm = loss();
      x[i] = keep;
      const numeric = (lp - lm) / (2 * eps);
      const a = analytic[slot][i];
      const ratio = Math.abs(a - numeric) / (opts.atol + opts.rtol * Math.abs(numeric));
      if (ratio > worst) {
        worst = ratio;
        detail = `input ${j}[${i}]: analytic ${a} vs numeric ${numeric}`;
      }
    }
  });
  return { worst, detail };
}
