// The Engine inside a Web Worker through comlink: bundle parsing, the CPU path and GPU readbacks
// stay off the page's main thread. The page calls createEngineWorker(options) and gets the same
// recommend / observe / checkForUpdate API, each call a message to the worker.
//
// This module is both ends: imported in the page it exports createEngineWorker; loaded as the
// worker (`new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' })`, which Vite
// bundles with the library) it exposes an engine factory.
import * as Comlink from 'comlink';
import {
  createEngine,
  type Engine,
  type EngineOptions,
  type ObserveEvent,
  type RecommendRequest,
  type RecommendResult,
  type UpdateResult,
} from './engine.ts';
import type { AdapterSummary, BackendKind } from './backend.ts';

/** Options that can cross to a worker (no functions except the blend, which stays default there). */
export type WorkerEngineOptions = Omit<
  EngineOptions,
  'fetch' | 'blend' | 'historyTypes' | 'onProgress' | 'onError' | 'gpu'
> & { blend?: Exclude<EngineOptions['blend'], (...a: never[]) => unknown> };

/** The engine as the page sees it when it runs in a worker. */
export interface EngineWorker {
  readonly backend: BackendKind;
  readonly adapter: AdapterSummary;
  recommend(req: RecommendRequest): Promise<RecommendResult>;
  observe(e: ObserveEvent): Promise<string>;
  checkForUpdate(): Promise<UpdateResult>;
  flush(): Promise<number>;
  dispose(): Promise<void>;
}

const api = {
  engine: null as Engine | null,
  async open(
    options: WorkerEngineOptions,
    onProgress?: EngineOptions['onProgress'],
  ): Promise<{ backend: BackendKind; adapter: AdapterSummary }> {
    api.engine = await createEngine({ ...options, onProgress });
    return { backend: api.engine.backend, adapter: api.engine.adapter };
  },
  recommend: (req: RecommendRequest) => api.engine!.recommend(req),
  observe: (e: ObserveEvent) => api.engine!.observe(e),
  checkForUpdate: () => api.engine!.checkForUpdate(),
  flush: () => api.engine!.flush(),
  dispose: () => {
    api.engine?.dispose();
    api.engine = null;
  },
};
export type EngineWorkerApi = typeof api;

const isWorker =
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined' &&
  typeof (globalThis as { importScripts?: unknown }).importScripts === 'function';
if (isWorker) Comlink.expose(api);

/**
 * Starts the engine in a Web Worker and returns its API.
 * @example
 * const engine = await createEngineWorker({ model: 'shop', edge: 'https://edge.example', token });
 * const { items } = await engine.recommend({ userId: 'u1', k: 10 });
 */
export async function createEngineWorker(
  options: WorkerEngineOptions & { onProgress?: EngineOptions['onProgress']; worker?: Worker },
): Promise<EngineWorker> {
  const { onProgress, worker: given, ...rest } = options;
  const worker = given ?? new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'vireo-engine' });
  const remote = Comlink.wrap<EngineWorkerApi>(worker);
  const info = await remote.open(rest, onProgress ? Comlink.proxy(onProgress) : undefined);
  return {
    ...info,
    recommend: (req) => remote.recommend(req),
    observe: (e) => remote.observe(e),
    checkForUpdate: () => remote.checkForUpdate(),
    flush: () => remote.flush(),
    dispose: async () => {
      await remote.dispose();
      remote[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
