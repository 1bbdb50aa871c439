// @vireo/models/training: what only training needs — the training steps of both models (forward,
// loss, backward, optimizers), initial weights and warm starts, the ranker's float64 reference,
// and the writers of the bundle's files (safetensors, ONNX).
export * from './retrieval/step.ts';
export * from './retrieval/init.ts';
export * from './retrieval/bundle.ts';
export * from './ranking/step.ts';
export * from './ranking/reference.ts';
export * from './ranking/onnx.ts';
export * from './ranking/bundle.ts';
