// @vireo/models: what serving needs of the two models — architecture and parameter layout, how
// features become inputs, the GPU forward of the towers and of the ranker, the CPU reference of the
// user tower, and a verified bundle turned into model data. Training lives in `@vireo/models/training`.
export * from './retrieval/retrieval.ts';
export * from './retrieval/towers.ts';
export * from './retrieval/history.ts';
export * from './retrieval/reference.ts';
export * from './retrieval/user-tower-cpu.ts';
export * from './ranking/ranking.ts';
export * from './model.ts';
