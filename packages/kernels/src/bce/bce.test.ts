// The heads' CPU backward against float64 finite differences of the weighted CPU forward, and
// the stable forms against the naive formulas where those are exact enough to compare.
import { describe, expect, it } from 'vitest';
import { bceBackwardReference, bceReference, type HeadWeights } from './bce.ts';
import { gradCheck, testRng } from '../testing.ts';

function batch(B: number, seed: number, spread: number) {
  const rng = testRng(seed);
  const outputs = Float64Array.from({ length: B * 3 }, (_, k) =>
    k % 3 === 2 ? rng.next() * 4 : (rng.next() * 2 - 1) * spread,
  );
  const labels = new Float64Array(B * 3);
  for (let i = 0; i < B; i++) {
    const click = rng.next() < 0.5 ? 1 : 0;
    const conv = click && rng.next() < 0.5 ? 1 : 0;
    labels.set([click, conv, conv ? Math.exp(rng.next() * 4) - 1 : 0], i * 3);
  }
  return { outputs, labels };
}

const weights: HeadWeights = { ctr: 0.7, ctcvr: 1.3, revenue: 0.4 };
const weighted = (loss: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < loss.length; i += 3)
    s += weights.ctr * loss[i] + weights.ctcvr * loss[i + 1] + weights.revenue * loss[i + 2];
  return Float64Array.of(s);
};

describe('bce / heads backward (CPU reference) vs finite differences', () => {
  it.each([
    [1, 3],
    [9, 3],
    [32, 12], // large logits: the log-space forms must stay smooth
  ])('B=%i logits within ±%i', (B, spread) => {
    const { outputs, labels } = batch(B, B * 7 + spread, spread);
    const r = gradCheck(
      ([o]) => weighted(bceReference(o, labels, B)),
      ([o], g) => [
        bceBackwardReference(o, labels, B, {
          ctr: weights.ctr * g[0],
          ctcvr: weights.ctcvr * g[0],
          revenue: weights.revenue * g[0],
        }),
      ],
      [outputs],
      // float64 differences (eps 1e-6) of smooth O(1)–O(10) losses: errors ~1e-9.
      { atol: 1e-7, rtol: 1e-6 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });

  it('the direct cvr term is the gradient of Σ y_c · BCE(c; y_v) (clicked rows only)', () => {
    const B = 16;
    const { outputs, labels } = batch(B, 41, 3);
    const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
    const cvr = 0.9;
    const r = gradCheck(
      ([o]) => {
        let s = weighted(bceReference(o, labels, B))[0];
        for (let i = 0; i < B; i++)
          s += cvr * labels[i * 3] * (softplus(o[i * 3 + 1]) - o[i * 3 + 1] * labels[i * 3 + 1]);
        return Float64Array.of(s);
      },
      ([o], g) => [
        bceBackwardReference(o, labels, B, {
          ctr: weights.ctr * g[0],
          ctcvr: weights.ctcvr * g[0],
          revenue: weights.revenue * g[0],
          cvr: cvr * g[0],
        }),
      ],
      [outputs],
      { atol: 1e-7, rtol: 1e-6 },
    );
    expect(r.worst, r.detail).toBeLessThanOrEqual(1);
  });

  it('matches the naive formulas for moderate logits', () => {
    const a = 0.8;
    const c = -1.1;
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    const p = sig(a) * sig(c);
    const loss = bceReference(Float64Array.of(a, c, 2.5), Float64Array.of(1, 0, 0), 1);
    expect(loss[0]).toBeCloseTo(-Math.log(sig(a)), 12);
    expect(loss[1]).toBeCloseTo(-Math.log(1 - p), 12);
    expect(loss[2]).toBe(0); // not converted: no revenue loss
    const conv = bceReference(Float64Array.of(a, c, 2.5), Float64Array.of(1, 1, 9), 1);
    expect(conv[1]).toBeCloseTo(-Math.log(p), 12);
    expect(conv[2]).toBeCloseTo((2.5 - Math.log(10)) ** 2, 12);
  });

  it('stays finite for extreme logits', () => {
    const outputs = Float64Array.of(90, 90, 0, -90, -90, 0, 90, -90, 0, -90, 90, 0);
    const labels = Float64Array.of(0, 0, 0, 1, 1, 3, 1, 1, 3, 0, 0, 0);
    for (const x of [...bceReference(outputs, labels, 4), ...bceBackwardReference(outputs, labels, 4, weights)])
      expect(Number.isFinite(x)).toBe(true);
    const f32 = bceBackwardReference(Float32Array.from(outputs), labels, 4, weights);
    expect(f32).toBeInstanceOf(Float32Array);
  });
});
