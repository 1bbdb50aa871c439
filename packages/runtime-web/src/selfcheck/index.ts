// Every kernel check, in one list: run by the tests (Dawn and Chromium) and by `vireo doctor`.
import { attentionChecks } from './attention.ts';
import { dlrmInteractionChecks } from './dlrm_interaction.ts';
import { embeddingBagChecks } from './embedding_bag.ts';
import { l2normChecks } from './l2norm.ts';
import { layernormChecks } from './layernorm.ts';
import { linearChecks } from './linear.ts';
import { topkChecks } from './topk.ts';
import { trainingChecks } from './training.ts';
import type { KernelCheck } from './types.ts';

export type { CheckResult, KernelCheck } from './types.ts';

export const KERNEL_CHECKS: readonly KernelCheck[] = [
  ...embeddingBagChecks,
  ...linearChecks,
  ...layernormChecks,
  ...l2normChecks,
  ...attentionChecks,
  ...dlrmInteractionChecks,
  ...topkChecks,
  ...trainingChecks,
];
