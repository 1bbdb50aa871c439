// Every kernel check, in one list: run by the tests (Dawn and Chromium) and by `vireo doctor`.
import { attentionChecks } from './attention/attention.check.ts';
import { dlrmInteractionChecks } from './dlrm_interaction/dlrm_interaction.check.ts';
import { embeddingBagChecks } from './embedding_bag/embedding_bag.check.ts';
import { l2normChecks } from './l2norm/l2norm.check.ts';
import { lastRowChecks } from './last_row/last_row.check.ts';
import { layernormChecks } from './layernorm/layernorm.check.ts';
import { linearChecks } from './linear/linear.check.ts';
import { topkChecks } from './topk/topk.check.ts';
import { adamChecks } from './adam/adam.check.ts';
import { bceChecks } from './bce/bce.check.ts';
import { linearBackwardChecks } from './linear/linear.backward.check.ts';
import { nextItemXentChecks } from './next_item_xent/next_item_xent.check.ts';
import { matmulChecks } from './matmul/matmul.check.ts';
import { rowwiseAdagradChecks } from './rowwise_adagrad/rowwise_adagrad.check.ts';
import { softmaxXentChecks } from './softmax_xent/softmax_xent.check.ts';
import type { KernelCheck } from './check.ts';

export type { CheckResult, KernelCheck } from './check.ts';

export const KERNEL_CHECKS: readonly KernelCheck[] = [
  ...embeddingBagChecks,
  ...linearChecks,
  ...layernormChecks,
  ...l2normChecks,
  ...attentionChecks,
  ...lastRowChecks,
  ...dlrmInteractionChecks,
  ...topkChecks,
  ...matmulChecks,
  ...linearBackwardChecks,
  ...softmaxXentChecks,
  ...nextItemXentChecks,
  ...bceChecks,
  ...adamChecks,
  ...rowwiseAdagradChecks,
];
