// Placeholder until the topk kernel lands: no checks yet.
import type { KernelCheck } from './types.ts';

export const topkChecks: KernelCheck[] = [];
