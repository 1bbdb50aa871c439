// The Engine inside a Web Worker through comlink: bundle parsing, the CPU path and GPU readbacks
// stay off the page's main thread. The page calls createEngineWorker(options) and gets the same
// recommend / observe / checkForUpdate API, each call a message to the worker.
//
// Options cross to the worker as a structured clone, which holds no function: the page's callbacks
// (onProgress, onError, upload.onUpload) stay on the page and the worker calls them through comlink
// proxies, an error as its fields (WireError) that the page turns back into its class. A callback
// the engine calls synchronously (historyTypes, a blend function) or an object (fetch, gpu) cannot
// cross: createEngineWorker refuses it in one sentence.
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
import type { BundleProgress } from './bundle.ts';
import type { UploadOutcome } from './queue.ts';

/**
 * createEngineWorker's options: the Engine's, less what cannot work across the worker (fetch, gpu,
 * historyTypes, a blend function: weights only); onProgress, onError and upload.onUpload run on the page.
 */
export type WorkerEngineOptions = Omit<EngineOptions, 'fetch' | 'blend' | 'historyTypes' | 'gpu'> & {
  blend?: Exclude<EngineOptions['blend'], (...a: never[]) => unknown>;
};
/** What is posted to the worker: the options without the page's callbacks. */
type ClonedOptions = Omit<WorkerEngineOptions, 'onProgress' | 'onError'>;

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

/** An error as its fields, for the page to revive. */
function toWire(err: unknown): WireError {
  const e = err instanceof Error ? err : new Error(String(err));
  const { code, status, url, file } = e as Partial<WireError>;
  return { name: e.name, message: e.message, code, status, url, file };
}

async function settle<T>(call: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await call() };
  } catch (err) {
    return { error: toWire(err) };
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

/** A page callback as the worker holds it (a comlink proxy): each call is a message, its answer ignored. */
type Remote<A> = (a: A) => unknown;
const call =
  <A>(f: Remote<A> | undefined) =>
  (a: A) =>
    void Promise.resolve(f?.(a)).catch(() => {}); // a page gone (disposed) hears nothing

/** @internal The worker's side; `Comlink.expose`d in the worker (and over a MessageChannel in tests). */
export const engineWorkerApi = {
  engine: null as Engine | null,
  open: (
    options: ClonedOptions,
    onProgress?: Remote<BundleProgress>,
    onError?: Remote<WireError>,
    onUpload?: Remote<UploadOutcome>,
  ) =>
    settle(async (): Promise<{ backend: BackendKind; adapter: AdapterSummary }> => {
      api.engine = await createEngine({
        ...options,
        ...(onProgress ? { onProgress: call(onProgress) } : {}),
        ...(onError ? { onError: (err: Error) => call(onError)(toWire(err)) } : {}),
        ...(onUpload ? { upload: { ...options.upload, onUpload: call(onUpload) } } : {}),
      });
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
const api = engineWorkerApi;
export type EngineWorkerApi = typeof api;

const isWorker =
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined' &&
  typeof (globalThis as { importScripts?: unknown }).importScripts === 'function';
if (isWorker) Comlink.expose(api);

/**
 * Starts the engine in a Web Worker and returns its API. Its calls reject with the same errors
 * as the Engine's (EdgeError with its `code`, BundleIntegrityError, TypeError, RangeError, …);
 * it rejects at once when the worker's script does not load (a bundler that left
 * `@vireo/runtime-web/dist/worker.js` out). `onProgress`, `onError` (the same error classes) and
 * `upload.onUpload` run on the page; an option that cannot cross to the worker (`fetch`, `gpu`,
 * `historyTypes`, a `blend` function) is refused with a TypeError.
 * @example
 * const engine = await createEngineWorker({ model: 'shop', edge: 'https://edge.example', token });
 * const { items } = await engine.recommend({ userId: 'u1', k: 10 });
 */
export async function createEngineWorker(options: WorkerEngineOptions & { worker?: Worker }): Promise<EngineWorker> {
  const { onProgress, onError, worker: given, ...cloned } = options;
  const { onUpload, ...upload } = cloned.upload ?? {};
  const rest: ClonedOptions = { ...cloned, ...(cloned.upload ? { upload } : {}) };
  refuseUncloneable(rest);
  const worker = given ?? new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'vireo-engine' });
  const remote = Comlink.wrap<EngineWorkerApi>(worker);
  let info: { backend: BackendKind; adapter: AdapterSummary };
  // A worker script that does not load (a bundler that left it out) fires `error` and never answers.
  let onScriptError: (e: Event) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    onScriptError = (e: Event) =>
      reject(
        new Error(
          `The engine's worker did not start (${(e as ErrorEvent).message || 'its script failed to load'}): ` +
            'bundle @vireo/runtime-web/dist/worker.js with your app (docs/getting-started.md, "Bundler settings").',
        ),
      );
    worker.addEventListener('error', onScriptError);
  });
  try {
    const opened = remote.open(
      rest,
      onProgress ? Comlink.proxy(onProgress) : undefined,
      onError ? Comlink.proxy((w: WireError) => onError(reviveError(w))) : undefined,
      onUpload ? Comlink.proxy(onUpload) : undefined,
    );
    info = unwrap(await Promise.race([opened, failed]));
    worker.removeEventListener('error', onScriptError);
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

/**
 * Throws a TypeError for an option that cannot be posted to the worker (a function the engine
 * calls there synchronously, a GPU object), in place of the DataCloneError postMessage would give.
 */
function refuseUncloneable(options: ClonedOptions): void {
  // The options and one level of nested objects (upload, cpu, experiment).
  const entries: [string, unknown][] = [];
  for (const [key, value] of Object.entries(options)) {
    entries.push([key, value]);
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
      for (const [k, v] of Object.entries(value)) entries.push([`${key}.${k}`, v]);
  }
  for (const [key, value] of entries) {
    if (typeof value === 'function')
      throw new TypeError(
        `createEngineWorker: the option '${key}' is a function, which cannot be sent to the engine's worker: ` +
          'leave it out (the worker uses the default) or run the engine on the page with createEngine.',
      );
    if (key === 'gpu' && value != null)
      throw new TypeError(
        "createEngineWorker: the option 'gpu' cannot be sent to the engine's worker, which uses its own " +
          "navigator.gpu: leave it out (or give backend: 'cpu').",
      );
  }
}
