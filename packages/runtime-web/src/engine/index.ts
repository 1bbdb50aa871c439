// The public API of @vireo/runtime-web, and nothing more: createEngine (in the page) and
// createEngineWorker (in a Web Worker), their options and results, and the errors an app may
// want to tell apart. Kernels and models are internal (@vireo/kernels, @vireo/models).
export {
  createEngine,
  Engine,
  type EngineOptions,
  type RecommendRequest,
  type RecommendResult,
  type RecommendedItem,
  type ObserveEvent,
  type UpdateResult,
} from './engine.ts';
export { createEngineWorker, type EngineWorker, type WorkerEngineOptions } from './worker.ts';
export type { Blend, CandidateScores } from './blend.ts';
export { BundleIntegrityError, type BundleProgress, type ModelSource } from './bundle.ts';
export { EdgeError } from './errors.ts';
export { BundleFormatError } from '@vireo/models';
export { GpuOutOfMemoryError, GpuUnavailableError } from '@vireo/kernels/gpu';
export type { AdapterSummary, BackendKind } from './backend.ts';
export type { EngineStore, HistoryEvent, OutgoingEvent } from './store.ts';
