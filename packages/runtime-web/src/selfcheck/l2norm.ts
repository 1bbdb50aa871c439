// Placeholder until the l2norm kernel lands: no checks yet.
import type { KernelCheck } from './types.ts';

export const l2normChecks: KernelCheck[] = [];
