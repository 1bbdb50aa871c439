// The small interface each backend implements (backends/webgpu.ts, backends/cpu.ts): load a
// model once per bundle version, then per request the user vector, the catalogue search and the
// ranking of the candidates. A loaded model owns its resources until dispose().
import type { FieldValue, ModelData } from '@vireo/models';

export type BackendKind = 'webgpu' | 'cpu';

/** What runs the model, for people. */
export interface AdapterSummary {
  backend: BackendKind;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  timestampQuery: boolean;
  /** The browser's `adapter.info.isFallbackAdapter` (WebGPU only). */
  isFallbackAdapter?: boolean;
  /**
   * Why `backend: 'auto'` chose this backend when it weighed both: a software adapter it
   * declined, or the calibration's times (docs/ARCHITECTURE.md, "Backends").
   */
  reason?: string;
}

/** Adapters known to be a CPU rasteriser under WebGPU: the CPU backend serves faster there. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

/**
 * Why an adapter counts as a CPU (`isFallbackAdapter`, or a known software rasteriser such as
 * SwiftShader or llvmpipe), or null for a GPU.
 * @example softwareAdapter({ vendor: 'google', architecture: 'swiftshader', ... }) // 'a software adapter (…)'
 */
export function softwareAdapter(a: Omit<AdapterSummary, 'backend' | 'timestampQuery'>): string | null {
  const name = [a.vendor, a.architecture, a.description].filter((x) => x && x !== 'unknown').join(' ');
  if (a.isFallbackAdapter) return `a fallback adapter (${name || 'no name'})`;
  const known = SOFTWARE_ADAPTER.exec(`${a.vendor} ${a.architecture} ${a.device} ${a.description}`);
  return known ? `a software adapter (${name}: ${known[0]} runs WebGPU on the CPU)` : null;
}

export interface LoadOptions {
  /** Candidates ranked per request (the top-k size of retrieval), default 1000. */
  candidates: number;
  /** Catalogue precision for the search: 'f32' (default) or 'int8' (4× less memory). */
  catalogue: 'f32' | 'int8';
  /** Exclusions one request may carry at most. */
  maxExclusions: number;
}

/** The catalogue search of one request: rows and scores best first, and where the time went. */
export interface Retrieved {
  ids: Uint32Array;
  scores: Float32Array;
  /** 'exact' (every item scored: the GPU's topk, the CPU reference) or 'hnsw' (hnswlib-wasm, approximate). */
  search: 'exact' | 'hnsw';
  /**
   * Wall milliseconds. On the CPU: the user tower, then the search. On WebGPU the tower and the
   * search are one submit: `userTower` is the host work before it (bags, params, encode),
   * `retrieval` the wait for the results; `gpu` splits the device time where timestamps exist.
   */
  ms: { userTower: number; retrieval: number };
  gpu?: { userTower: number; retrieval: number };
}

/** A model loaded on a backend. Requests run one at a time (the backend serialises them). */
export interface LoadedModel {
  /**
   * The user tower on (fields, history rows) and the k best catalogue rows for its vector,
   * excluding `exclude` (rows, ascending).
   */
  retrieve(fields: readonly FieldValue[], history: Uint32Array, k: number, exclude: Uint32Array): Promise<Retrieved>;
  /** (n, 3) pCtr, pCvr, log1p revenue for dense (n, Nd | 1) and sparse (n, S) inputs; null without a ranker. */
  rank(dense: Float32Array, sparse: Int32Array, n: number): Promise<{ heads: Float32Array; gpu?: number } | null>;
  dispose(): void;
}

export interface Backend {
  readonly kind: BackendKind;
  readonly adapter: AdapterSummary;
  load(model: ModelData, options: LoadOptions): Promise<LoadedModel>;
  /** Set when the backend can no longer run (device lost). */
  readonly lost: boolean;
  dispose(): void;
}

/** Runs async jobs one after another. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => {});
    return next;
  }
}

/** Milliseconds from a monotonic clock (performance.now where it exists). */
export function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
