// Placeholder until the layernorm kernel lands: no checks yet.
import type { KernelCheck } from './types.ts';

export const layernormChecks: KernelCheck[] = [];
