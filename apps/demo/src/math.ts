// Small numeric helpers for the dashboard: PCA to 2-D, least squares, cosine, percentiles.

/** The top-2 principal axes of rows (N, D) by power iteration on the covariance; mean too. */
export function pca2(
  x: Float32Array,
  N: number,
  D: number,
): { mean: Float64Array; axes: [Float64Array, Float64Array] } {
  const mean = new Float64Array(D);
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) mean[d] += x[i * D + d] / N;
  const cov = new Float64Array(D * D);
  for (let i = 0; i < N; i++) {
    for (let a = 0; a < D; a++) {
      const va = x[i * D + a] - mean[a];
      for (let b = a; b < D; b++) cov[a * D + b] += va * (x[i * D + b] - mean[b]);
    }
  }
  for (let a = 0; a < D; a++) for (let b = 0; b < a; b++) cov[a * D + b] = cov[b * D + a];
  const axes: Float64Array[] = [];
  for (let k = 0; k < 2; k++) {
    let v = new Float64Array(D).map((_, i) => Math.sin(i + 1 + k * 7));
    for (let it = 0; it < 100; it++) {
      const w = new Float64Array(D);
      for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) w[a] += cov[a * D + b] * v[b];
      for (const prev of axes) {
        const p = dot(w, prev);
        for (let a = 0; a < D; a++) w[a] -= p * prev[a];
      }
      const n = Math.hypot(...w) || 1;
      v = w.map((z) => z / n);
    }
    axes.push(v);
  }
  return { mean, axes: [axes[0], axes[1]] };
}

export function project(v: ArrayLike<number>, p: ReturnType<typeof pca2>, at = 0): [number, number] {
  let x = 0;
  let y = 0;
  for (let d = 0; d < p.mean.length; d++) {
    const c = v[at + d] - p.mean[d];
    x += c * p.axes[0][d];
    y += c * p.axes[1][d];
  }
  return [x, y];
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>, ao = 0, bo = 0, n = a.length): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
  return s;
}

/**
 * The user's vector u from retrieval scores s_j = e_j · u of many catalogue rows: the least-squares
 * solution of E u = s (normal equations with a tiny ridge). Exact when the scores are exact.
 */
export function solveUser(items: Float32Array, D: number, rows: number[], scores: number[]): Float64Array | null {
  if (rows.length < D) return null;
  const A = new Float64Array(D * D);
  const b = new Float64Array(D);
  rows.forEach((r, j) => {
    for (let a = 0; a < D; a++) {
      const ea = items[r * D + a];
      b[a] += ea * scores[j];
      for (let c = 0; c < D; c++) A[a * D + c] += ea * items[r * D + c];
    }
  });
  for (let a = 0; a < D; a++) A[a * D + a] += 1e-6;
  // Gaussian elimination with partial pivoting.
  const M = A;
  const x = b;
  for (let c = 0; c < D; c++) {
    let p = c;
    for (let r = c + 1; r < D; r++) if (Math.abs(M[r * D + c]) > Math.abs(M[p * D + c])) p = r;
    if (Math.abs(M[p * D + c]) < 1e-12) return null;
    if (p !== c) {
      for (let k = 0; k < D; k++) [M[c * D + k], M[p * D + k]] = [M[p * D + k], M[c * D + k]];
      [x[c], x[p]] = [x[p], x[c]];
    }
    for (let r = c + 1; r < D; r++) {
      const f = M[r * D + c] / M[c * D + c];
      if (f === 0) continue;
      for (let k = c; k < D; k++) M[r * D + k] -= f * M[c * D + k];
      x[r] -= f * x[c];
    }
  }
  for (let c = D - 1; c >= 0; c--) {
    let s = x[c];
    for (let k = c + 1; k < D; k++) s -= M[c * D + k] * x[k];
    x[c] = s / M[c * D + c];
  }
  return x;
}

export function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
