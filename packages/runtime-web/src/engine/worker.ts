// The Engine inside a Web Worker through comlink: bundle parsing, the CPU path and GPU readbacks
// stay off the page's main thread. The page calls createEngineWorker(options) and gets the same
// recommend / observe / checkForUpdate API, each call a message to the worker.
//
// This module is both ends: imported in the page it exports createEngineWorker; loaded as the
// worker (`new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' })`, which Vite
// bundles with the library) it exposes an engine factory.
import * as Comlink from 'comlink';
import { BundleIntegrityError } from '@vireo/core';
import { GpuOutOfMemoryError, GpuUnavailableError } from '@vireo/kernels';
import { BundleFormatError } from '@vireo/models';
import { EdgeError } from './errors.ts';
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

/** An error as it crosses from the worker: its class (by name) and fields. */
interface WireError {
  name: string;
  message: string;
  code?: string;
  status?: number;
  url?: string;
  file?: string;
}
/** A call's outcome as it crosses from the worker (comlink would keep only an Error's name and message). */
type Outcome<T> = { value: T } | { error: WireError };

async function settle<T>(call: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await call() };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const { code, status, url, file } = e as Partial<WireError>;
    return { error: { name: e.name, message: e.message, code, status, url, file } };
  }
}

/** The error the worker threw, as the same class on the page (EdgeError with its code, …). */
export function reviveError(w: WireError): Error {
  const byName: Record<string, () => Error> = {
    EdgeError: () => new EdgeError(w.message, w.code ?? 'unknown', w.status, w.url),
    BundleIntegrityError: () => new BundleIntegrityError(w.message, w.file ?? ''),
    BundleFormatError: () => new BundleFormatError(w.message),
    GpuOutOfMemoryError: () => new GpuOutOfMemoryError(w.message),
    GpuUnavailableError: () => new GpuUnavailableError(w.message),
    TypeError: () => new TypeError(w.message),
    RangeError: () => new RangeError(w.message),
  };
  const err = byName[w.name]?.() ?? new Error(w.message);
  if (!byName[w.name]) err.name = w.name;
  return err;
}

function unwrap<T>(o: Outcome<T>): T {
  if ('error' in o) throw reviveError(o.error);
  return o.value;
}

const engineOf = () => {
  if (!api.engine) throw new Error('This engine was disposed: create a new one.');
  return api.engine;
};

const api = {
  engine: null as Engine | null,
  open: (options: WorkerEngineOptions, onProgress?: EngineOptions['onProgress']) =>
    settle(async (): Promise<{ backend: BackendKind; adapter: AdapterSummary }> => {
      api.engine = await createEngine({ ...options, onProgress });
      return { backend: api.engine.backend, adapter: api.engine.adapter };
    }),
  recommend: (req: RecommendRequest) => settle(() => engineOf().recommend(req)),
  observe: (e: ObserveEvent) => settle(() => engineOf().observe(e)),
  checkForUpdate: () => settle(() => engineOf().checkForUpdate()),
  flush: () => settle(() => engineOf().flush()),
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
 * Starts the engine in a Web Worker and returns its API. Its calls reject with the same errors
 * as the Engine's (EdgeError with its `code`, BundleIntegrityError, TypeError, RangeError, …);
 * it rejects at once when the worker's script does not load (a bundler that left
 * `@vireo/runtime-web/dist/worker.js` out).
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
  let info: { backend: BackendKind; adapter: AdapterSummary };
  // A worker script that does not load (a bundler that left it out) fires `error` and never answers.
  let onError: (e: Event) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    onError = (e: Event) =>
      reject(
        new Error(
          `The engine's worker did not start (${(e as ErrorEvent).message || 'its script failed to load'}): ` +
            'bundle @vireo/runtime-web/dist/worker.js with your app (docs/getting-started.md, "Bundler settings").',
        ),
      );
    worker.addEventListener('error', onError);
  });
  try {
    info = unwrap(await Promise.race([remote.open(rest, onProgress ? Comlink.proxy(onProgress) : undefined), failed]));
    worker.removeEventListener('error', onError);
  } catch (err) {
    remote[Comlink.releaseProxy]();
    if (!given) worker.terminate();
    throw err;
  }
  return {
    ...info,
    recommend: async (req) => unwrap(await remote.recommend(req)),
    observe: async (e) => unwrap(await remote.observe(e)),
    checkForUpdate: async () => unwrap(await remote.checkForUpdate()),
    flush: async () => unwrap(await remote.flush()),
    dispose: async () => {
      await remote.dispose();
      remote[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
