// Placeholder until the dlrm_interaction kernel lands: no checks yet.
import type { KernelCheck } from './types.ts';

export const dlrmInteractionChecks: KernelCheck[] = [];
