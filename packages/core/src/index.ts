// @vireo/core: the contracts every part of Vireo agrees on. Pure TypeScript on Web standards
// (no Node APIs, no DOM, no GPU), so the trainer, the edge worker and the browser share it.
//   spec.ts         feature spec schema: features as `view:name`, kinds, transforms, labels
//   transforms.ts   raw value → model-ready number / indices (one module, offline and online)
//   bundle.ts       bundle manifest schema, sha256 via Web Crypto, file verification
//   safetensors.ts  tensor file reader / writer
//   rng.ts          seeded random streams
//   events.ts       which event types are positives (a user's history) and conversions
//   metrics.ts      retrieval (Recall/NDCG/HitRate@K, MRR) and ranking (AUC, log loss, calibration)
export * from './spec.ts';
export * from './transforms.ts';
export * from './bundle.ts';
export * from './safetensors.ts';
export * from './rng.ts';
export * from './metrics.ts';
export * from './events.ts';
export * from './errors.ts';
