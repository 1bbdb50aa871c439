// The seeded random number generator used wherever Vireo draws randomness (weight init, shuffles,
// negatives, the synthetic world), so that a seed fixes a run. xoshiro128** (Blackman & Vigna),
// state seeded by splitmix32; 32-bit integer math only, so every JS engine gives the same stream.
import { fnv1a32 } from './transforms.ts';

/** A deterministic random stream. */
export interface Rng {
  /** The seed this stream was created from (forks derive theirs from it). */
  readonly seed: number;
  /** Uniform 32-bit unsigned integer. */
  uint32(): number;
  /** Uniform float in [0, 1), 32 random bits. */
  next(): number;
  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number;
  /** Standard normal N(0, 1) (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number;
  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T, A extends { length: number; [i: number]: T }>(array: A): A;
  /**
   * An independent stream. With a label it depends only on this stream's seed and the label, not on
   * how many numbers were drawn, so adding a draw elsewhere does not change it.
   */
  fork(label?: string): Rng;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Creates a random stream from a seed (an integer or a string, hashed with FNV-1a).
 * @example
 * const rng = createRng(42);
 * rng.next(); rng.int(10); rng.normal(); rng.shuffle(order);
 * const initRng = rng.fork('init'); // same numbers whatever else draws from rng
 */
export function createRng(seed: number | string): Rng {
  const seed32 =
    typeof seed === 'string'
      ? fnv1a32(seed)
      : Number.isSafeInteger(seed)
        ? (seed % 2 ** 32) >>> 0
        : fnv1a32(String(seed));
  const sm = splitmix32(seed32);
  let s0 = sm();
  let s1 = sm();
  let s2 = sm();
  let s3 = sm();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is a fixed point
  let spare: number | null = null;

  const uint32 = () => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const next = () => uint32() / 4294967296;
  const rng: Rng = {
    seed: seed32,
    uint32,
    next,
    int(n: number) {
      if (!(n >= 1 && n <= 4294967296 && Number.isInteger(n)))
        throw new RangeError(`rng.int(n): n must be an integer in [1, 2^32], got ${n}`);
      // Rejection sampling on the top of the 32-bit range removes modulo bias.
      const limit = 4294967296 - (4294967296 % n);
      let x = uint32();
      while (x >= limit) x = uint32();
      return x % n;
    },
    normal() {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      let u = next();
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    shuffle(array) {
      for (let i = array.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = array[i];
        array[i] = array[j];
        array[j] = t;
      }
      return array;
    },
    fork(label?: string) {
      if (label === undefined) return createRng(uint32());
      return createRng((fnv1a32(label) ^ Math.imul(seed32, 0x9e3779b1)) >>> 0);
    },
  };
  return rng;
}
