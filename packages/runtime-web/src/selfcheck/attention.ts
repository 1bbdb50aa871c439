// Placeholder until the attention kernel lands: no checks yet.
import type { KernelCheck } from './types.ts';

export const attentionChecks: KernelCheck[] = [];
