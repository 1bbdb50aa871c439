// The Engine API of @vireo/runtime-web: createEngine (in the page), createEngineWorker (in a Web
// Worker), the backends behind them, and the pieces (bundle cache, event queue) for tools.
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
export { blendFunction, bucketOf, expectedValue, type Blend, type CandidateScores } from './blend.ts';
export {
  BundleIntegrityError,
  fetchManifest,
  loadBundle,
  type BundleProgress,
  type LoadedBundle,
  type ModelSource,
} from './bundle.ts';
export { BundleFormatError, parseModel, type ModelData } from './model.ts';
// How a request becomes the models' inputs, exported so the trainer can check its features against the engine's.
export { rankingInputs, userFieldValues } from './model.ts';
export { itemFieldValues } from '../backends/history.ts';
export { EventUploader, type UploaderOptions } from './queue.ts';
export { openEngineStore, MemoryStore, type EngineStore, type HistoryEvent, type OutgoingEvent } from './store.ts';
export type { AdapterSummary, Backend, BackendKind, LoadedModel, Retrieved } from './backend.ts';
export { WebGpuBackend } from '../backends/webgpu.ts';
export { CpuBackend, userTowerReference } from '../backends/cpu.ts';
export { createEngineWorker, type EngineWorker, type WorkerEngineOptions } from './worker.ts';
