import { describe, expect, it } from 'vitest';
import { createRng } from './rng.ts';

describe('createRng', () => {
  it('is reproducible from its seed and differs across seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xs = Array.from({ length: 8 }, () => a.uint32());
    expect(Array.from({ length: 8 }, () => b.uint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.uint32())).not.toEqual(xs);
    expect(createRng('run-1').next()).toBe(createRng('run-1').next());
  });

  it('draws uniform floats and unbiased integers', () => {
    const rng = createRng(7);
    const counts = new Array(6).fill(0);
    let sum = 0;
    let outside = 0;
    const n = 60_000;
    for (let i = 0; i < n; i++) {
      const x = rng.next();
      if (!(x >= 0 && x < 1)) outside++;
      sum += x;
      counts[rng.int(6)]++;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
    for (const c of counts) expect(Math.abs(c / n - 1 / 6)).toBeLessThan(0.01);
    expect(() => rng.int(0)).toThrow(RangeError);
  });

  it('draws standard normals (mean 0, variance 1)', () => {
    const rng = createRng(1);
    const n = 50_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
  });

  it('shuffles into a permutation, reproducibly', () => {
    const a = createRng(3).shuffle(Array.from({ length: 50 }, (_, i) => i));
    const b = createRng(3).shuffle(Int32Array.from({ length: 50 }, (_, i) => i));
    expect([...b]).toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('labelled forks ignore how much the parent drew', () => {
    const a = createRng(9);
    const b = createRng(9);
    b.next();
    b.normal();
    expect(a.fork('init').uint32()).toBe(b.fork('init').uint32());
    expect(a.fork('init').uint32()).not.toBe(a.fork('negatives').uint32());
    expect(a.fork().uint32()).not.toBe(a.uint32());
  });
});
