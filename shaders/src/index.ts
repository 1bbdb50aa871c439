// @vireo/shaders: every WGSL kernel, its bind-group layout and its CPU reference.
export * from './kernel.ts';
export * from './linear.ts';
export * from './testing.ts';
export * from './copy.ts';
export * from './embedding_bag.ts';
export * from './layernorm.ts';
export * from './l2norm.ts';
export * from './dlrm_interaction.ts';
export * from './attention.ts';
export * from './softmax_xent.ts';
export * from './bce.ts';
export * from './adam.ts';
export * from './rowwise_adagrad.ts';
export * from './topk.ts';
export * from './matmul.ts';
