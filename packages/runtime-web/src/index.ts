// @vireo/runtime-web: the on-device engine.
export * from './gpu/index.ts';
export * from './ops/linear.ts';
export { KERNEL_CHECKS, type KernelCheck, type CheckResult } from './selfcheck/index.ts';
export * from './ops/embedding_bag.ts';
export * from './ops/layernorm.ts';
export * from './ops/l2norm.ts';
export * from './ops/dlrm_interaction.ts';
export * from './ops/attention.ts';
export * from './ops/softmax_xent.ts';
export * from './ops/bce.ts';
export * from './ops/adam.ts';
export * from './ops/rowwise_adagrad.ts';
export * from './ops/topk.ts';
export * from './model/ranking.ts';
export * from './model/retrieval.ts';
export * from './model/retrieval-towers.ts';
export * from './engine/index.ts';
