// Placeholder until the embedding_bag kernel lands: no checks yet.
import type { KernelCheck } from './types.ts';

export const embeddingBagChecks: KernelCheck[] = [];
