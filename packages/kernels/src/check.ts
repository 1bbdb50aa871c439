// A kernel check: one kernel, one case, fresh random inputs from `seed`, GPU against CPU reference.
import type { Gpu } from './gpu/index.ts';
import { describeMismatch, maxRelError } from './testing.ts';

export interface CheckResult {
  /** Max relative error (scale-relative, see maxRelError), or 1 − recall for recall checks. */
  error: number;
  /** What was compared, and on failure the first values and the worst index. */
  detail: string;
}

export interface KernelCheck {
  kernel: string;
  /** Sizes in words, e.g. `M=1 K=7 N=13 relu`. */
  case: string;
  /** The largest acceptable `error`. */
  tolerance: number;
  /** Large cases are skipped by quick runs (doctor without --full). */
  large?: boolean;
  run(gpu: Gpu, seed: number): Promise<CheckResult>;
}

/** The worst of several compared outputs, named. */
export function worstOf(pairs: Record<string, [ArrayLike<number>, ArrayLike<number>, number?]>): CheckResult {
  let error = -1;
  let detail = '';
  for (const [name, [got, want, atLeastScale]] of Object.entries(pairs)) {
    const e = maxRelError(got, want, atLeastScale);
    if (e > error) {
      error = e;
      detail = `worst output ${name}: ${describeMismatch(got, want)}`;
    }
  }
  return { error, detail };
}
