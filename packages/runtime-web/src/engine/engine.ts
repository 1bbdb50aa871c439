// The Engine: recommend() and observe() on the user's device (docs/ARCHITECTURE.md, "A request").
//   1 features   edge /v1/users/:id/features (timeout) → else cached features; + on-device history
//   2 user tower → 3 catalogue top-k (seen items excluded) → 4 DLRM over the candidates → 5 blend
// A model version is loaded once (buffers, pipelines, bind groups) and reused by every request;
// checkForUpdate() loads a new version beside it and swaps when it is ready, retiring the old one
// after its in-flight requests finish. A bundle that fails verification is refused and the last
// good version keeps serving.
import { isPositive, type BundleManifest } from '@vireo/core';
import { GpuOutOfMemoryError, GpuUnavailableError, TOPK_NONE } from '@vireo/kernels';
import { WebGpuBackend } from '../backends/webgpu.ts';
import { CpuBackend, type CpuBackendOptions } from '../backends/cpu.ts';
import {
  now,
  softwareAdapter,
  type AdapterSummary,
  type Backend,
  type BackendKind,
  type LoadedModel,
} from './backend.ts';
import { bestK, blendScores, bucketOf, candidateScores, type Blend, type CandidateScores } from './blend.ts';
import {
  cachedManifest,
  fetchManifest,
  loadBundle,
  markGood,
  type BundleProgress,
  type ModelSource,
} from './bundle.ts';
import { LatencyBudget, raceUserFeatures } from './features.ts';
import { describe, EdgeError, requireEdgeUrl, requireId, tokenUser } from './errors.ts';
import {
  historyIndices,
  parseModel,
  rankingInputs,
  userFieldValues,
  withUserKey,
  withLocalHistory,
  type ModelData,
} from '@vireo/models';
import { HistoryCache } from './history.ts';
import { EventUploader, refusesBatch, type UploadOutcome, type UploaderOptions } from './queue.ts';
import { openEngineStore, type CachedFeatures, type EngineStore, type HistoryEvent } from './store.ts';
import { fetchUserFeatures } from './features.ts';

export interface EngineOptions {
  /** A bundle folder URL, or with `edge` a model name in the registry. */
  model: string;
  /** The edge's base URL: features, events and (for a model name) the registry. */
  edge?: string;
  /**
   * Bearer token for the edge (`features:read`: features and models; `events:write`: observe),
   * acting for one user, its `sub` (docs/tokens.md): recommend() and observe() for another
   * `userId` throw an EdgeError `forbidden_user` unless the token has the `service` (or `admin`) scope.
   */
  token?: string;
  /**
   * Milliseconds to wait for the edge (or the bundle's server) to answer a request for the
   * manifest or a bundle file before an EdgeError `timeout`; at start the engine then serves the
   * bundle cached on this device, if any. An event upload waits as long, then stays queued for a
   * retry (`onError` hears the `timeout`). Default 10,000.
   */
  requestTimeoutMs?: number;
  /**
   * 'auto' (default): WebGPU when available and faster, else CPU (docs/ARCHITECTURE.md,
   * "Backends"); `engine.adapter.reason` says why.
   */
  backend?: 'auto' | BackendKind;
  /**
   * With 'auto': serve on the CPU backend when WebGPU's adapter is a CPU (a fallback adapter, or
   * a software one such as SwiftShader or llvmpipe), or when a short calibration at load (a few
   * requests on each backend) finds the CPU path faster. Default true; false keeps WebGPU
   * whenever there is one.
   */
  cpuWhenFaster?: boolean;
  /** The WebGPU entry point (default navigator.gpu); null forces the CPU path. */
  gpu?: GPU | null;
  /** Candidates retrieved and ranked per request. Default 1000. */
  candidates?: number;
  /** Catalogue precision on the GPU. Default 'f32'. */
  catalogue?: 'f32' | 'int8';
  /**
   * A fixed edge feature timeout. Default: adaptive, twice the edge's recent P90 latency within
   * [250 ms, 2 s] (features.ts); a late answer still refreshes the cache.
   */
  featuresTimeoutMs?: number;
  /**
   * Answer from a user's features in memory when the edge gave them less than this many ms ago
   * (`featureSource: 'recent'`), refreshing them in the background: such a request does not wait
   * for the network. Default 0: every request asks the edge (within its latency budget).
   */
  featuresMaxAgeMs?: number;
  /** How the heads become one value. Default expected value pCtr · pCvr · revenue. */
  blend?: Blend;
  /** Exclude items already in the user's history. Default true. */
  excludeSeen?: boolean;
  /**
   * Event types that enter the history. Default: the positives (click, like, add_to_cart, conversion, purchase, a
   * rating of 4 or more: @vireo/core's isPositive), the history the models were trained on; a view is an impression.
   */
  historyTypes?: (type: string) => boolean;
  /** Poll for a new version every this many ms (0 = never, the default). */
  pollIntervalMs?: number;
  /** A second model version for a share of users (deterministic by user id). */
  experiment?: { model: string; share: number; salt?: string };
  /** IndexedDB database name. Default 'vireo-engine'. */
  dbName?: string;
  /**
   * Users whose on-device history is kept in memory (read from IndexedDB once, written through
   * by observe()). Default 256.
   */
  historyUsers?: number;
  /** Event upload tuning. */
  upload?: Partial<Omit<UploaderOptions, 'edge' | 'token' | 'user' | 'fetch' | 'timeoutMs'>>;
  cpu?: CpuBackendOptions;
  fetch?: typeof fetch;
  onProgress?: (p: BundleProgress) => void;
  /**
   * Called with errors that do not fail a call: the manifest not fetched at start (the cached
   * bundle serves), a refused update, a failed upload (an EdgeError with the edge's code, e.g.
   * `token_expired`, or `unreachable` / `timeout`: the events stay queued), the edge refusing a
   * user's features (an EdgeError: recommend() then answers from on-device data, `degraded: true`).
   */
  onError?: (err: Error) => void;
}

export interface RecommendRequest {
  /** The user (a non-empty string): with a token, the token's `sub`. */
  userId: string;
  /** Model-ready context values by feature name, e.g. { 'context:hour': 9 }. */
  context?: Record<string, unknown>;
  /**
   * Items to return, a positive integer (else a RangeError). Default 20. Fewer come back when
   * fewer are left: at most `candidates`, and the catalogue less the excluded and seen items.
   */
  k?: number;
  /** Item ids never to return. */
  exclude?: readonly string[];
  /** Candidates to retrieve and rank (default: the engine's `candidates`). */
  candidates?: number;
}

export interface RecommendedItem extends CandidateScores {
  itemId: string;
  /** The blended value the list is sorted by. */
  score: number;
}

export interface RecommendResult {
  items: RecommendedItem[];
  /**
   * Milliseconds per stage; `gpu` has GPU timestamps per stage where available. On WebGPU the
   * user tower and the search are one submit: `userTower` is the host work before it and
   * `retrieval` the wait for both; `gpu.userTower` / `gpu.retrieval` split the device time.
   */
  timings: {
    features: number;
    userTower: number;
    retrieval: number;
    ranking: number;
    blend: number;
    total: number;
    gpu?: Record<string, number>;
  };
  /** How the catalogue was searched: 'exact' (every item scored) or 'hnsw' (the CPU path's approximate index). */
  search: 'exact' | 'hnsw';
  /**
   * 'edge': fresh features; 'recent': the edge's answer of less than `featuresMaxAgeMs` ago (a
   * refresh runs in the background); 'cache': the edge failed, last cached features; 'none': neither.
   */
  featureSource: 'edge' | 'recent' | 'cache' | 'none';
  /** True when the edge could not be used and the answer comes from on-device data only. */
  degraded: boolean;
  /** The history the user tower saw (item ids, oldest first). */
  history: string[];
  model: { name: string; version: string };
  variant: 'control' | 'treatment' | null;
  backend: BackendKind;
}

export interface ObserveEvent {
  /** The user (a non-empty string): with a token, the token's `sub`. */
  userId: string;
  /**
   * The item (a non-empty string). An item the model does not know (a new product) is recorded
   * and uploaded, for the next training; it changes no recommendation before that.
   */
  itemId: string;
  /** What the user did: 'view', 'click', 'purchase', … (a non-empty string). */
  type: string;
  value?: number;
  /** Milliseconds since the epoch. Default now. */
  ts?: number;
  context?: Record<string, unknown>;
  /** Idempotency key; generated when absent. */
  eventId?: string;
}

interface ModelState {
  source: string;
  manifest: BundleManifest;
  data: ModelData;
  loaded: LoadedModel;
  inflight: number;
  retired: boolean;
}

/** The result of checkForUpdate. */
export interface UpdateResult {
  updated: boolean;
  version: string;
  error?: string;
}

/**
 * The on-device recommender. Create with createEngine().
 * @example
 * const engine = await createEngine({ model: 'shop', edge: 'https://edge.example', token });
 * const { items } = await engine.recommend({ userId: 'u1', k: 20 });
 */
export class Engine {
  private states: { control: ModelState; treatment: ModelState | null };
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private disposed = false;
  /** The last error that did not fail a call (a refused bundle, an upload failure). */
  lastError: Error | null = null;
  readonly uploader: EventUploader | null;
  /** How long recommend() waits for the edge's features (features.ts). */
  private readonly featureBudget: LatencyBudget;
  /** The on-device history, in memory after each user's first read (history.ts). */
  private readonly history: HistoryCache;
  /** The last features the edge gave per user (the IndexedDB `features` store's copy in memory), oldest first. */
  private readonly features = new Map<string, CachedFeatures>();
  /** Background refreshes of `featuresMaxAgeMs` in flight, one per user. */
  private readonly refreshing = new Set<string>();
  /** The user the token acts for (its JWT `sub`), unless it may act for any (`service`, `admin`). */
  private readonly tokenSub: string | null;
  /** The last refusal of a features request reported, so that each is reported once. */
  private lastRefusal = '';

  private constructor(
    private backendImpl: Backend,
    private readonly store: EngineStore,
    private readonly options: EngineOptions,
    control: ModelState,
    treatment: ModelState | null,
  ) {
    this.states = { control, treatment };
    const user = options.edge ? tokenUser(options.token) : null;
    this.tokenSub = user && !user.anyUser ? user.sub : null;
    this.history = new HistoryCache(store, {
      maxUsers: options.historyUsers,
      channel: store.persistent ? `vireo-history:${options.dbName ?? 'vireo-engine'}` : null,
    });
    this.featureBudget =
      options.featuresTimeoutMs !== undefined ? LatencyBudget.fixed(options.featuresTimeoutMs) : new LatencyBudget();
    // The uploader sends the events of the token's user only; others stay queued for their own engine.
    const edge = options.edge;
    this.uploader = edge
      ? new EventUploader(store, {
          ...options.upload,
          edge,
          token: options.token,
          ...(this.tokenSub !== null ? { user: this.tokenSub } : {}),
          timeoutMs: options.requestTimeoutMs ?? 10_000,
          fetch: options.fetch,
          onUpload: (r) => {
            if (!r.ok) this.report(uploadError(r, edge, options.upload?.maxAttempts ?? 5));
            options.upload?.onUpload?.(r);
          },
        })
      : null;
    this.uploader?.schedule(0); // events queued before a reload
    if (options.pollIntervalMs)
      this.pollTimer = setInterval(() => void this.checkForUpdate().catch(() => {}), options.pollIntervalMs);
  }

  /** @internal use createEngine */
  static async open(options: EngineOptions): Promise<Engine> {
    requireId(options?.model, 'model');
    requireEdgeUrl(options.edge);
    const store = await openEngineStore(options.dbName);
    let backend = await chooseBackend(options);
    let errors: Error[] = [];
    const loadAll = async (b: Backend) => {
      const control = await loadState(b, store, options, options.model, errors);
      try {
        return {
          control,
          treatment: options.experiment ? await loadState(b, store, options, options.experiment.model, errors) : null,
        };
      } catch (err) {
        control.loaded.dispose();
        throw err;
      }
    };
    let states: Awaited<ReturnType<typeof loadAll>>;
    try {
      states = await loadAll(backend);
    } catch (err) {
      // A model too large for this GPU's memory is served on the CPU, unless WebGPU was asked for.
      if (!(err instanceof GpuOutOfMemoryError) || backend.kind !== 'webgpu' || options.backend === 'webgpu') throw err;
      backend.dispose();
      backend = new CpuBackend(options.cpu, "the model does not fit the GPU's memory");
      errors = [
        new GpuOutOfMemoryError(`${err.message.replace(/\.$/, '')}; the engine runs on the CPU backend instead.`),
      ];
      states = await loadAll(backend);
    }
    if (backend.kind === 'webgpu' && (options.backend ?? 'auto') === 'auto' && options.cpuWhenFaster !== false)
      [backend, states] = await calibrate(backend, states, options);
    const { control, treatment } = states;
    const engine = new Engine(backend, store, options, control, treatment);
    if (errors.length > 0) engine.report(errors[0]);
    return engine;
  }

  get backend(): BackendKind {
    return this.backendImpl.kind;
  }

  get adapter(): AdapterSummary {
    return this.backendImpl.adapter;
  }

  /** The versions serving now. */
  get versions(): { control: string; treatment: string | null } {
    return {
      control: this.states.control.manifest.version,
      treatment: this.states.treatment?.manifest.version ?? null,
    };
  }

  /** The variant of a user: 'treatment' for `experiment.share` of users, else 'control'; null without an experiment. */
  variantOf(userId: string): 'control' | 'treatment' | null {
    const e = this.options.experiment;
    if (!e) return null;
    return bucketOf(e.salt ?? 'vireo', userId) < e.share ? 'treatment' : 'control';
  }
  /** The variant of a user and the model version that serves it (control when no treatment is loaded). */
  private servingFor(userId: string): { variant: RecommendResult['variant']; state: ModelState } {
    const variant = this.variantOf(userId);
    const state = variant === 'treatment' && this.states.treatment ? this.states.treatment : this.states.control;
    return { variant, state };
  }

  private report(err: Error): void {
    this.lastError = err;
    this.options.onError?.(err);
  }

  /** Throws a TypeError for a missing user id and an EdgeError when the token acts for another user. */
  private checkUser(userId: unknown, call: string): asserts userId is string {
    requireId(userId, `${call}: userId`);
    if (this.tokenSub !== null && userId !== this.tokenSub)
      throw new EdgeError(
        `${call}: the token acts for user '${this.tokenSub}' (its sub), not '${userId}': give the engine ` +
          `a token whose sub is the userId you pass (docs/tokens.md).`,
        'forbidden_user',
        403,
      );
  }

  /**
   * Recommends `k` items for a user: features, user tower, catalogue search, ranking, blend.
   * Throws a TypeError without a `userId`, a RangeError when `k` or `candidates` is not a
   * positive integer, and an EdgeError `forbidden_user` when the token acts for another user.
   * When the edge fails or refuses the user's features it answers from on-device data
   * (`degraded: true`); a refusal (HTTP 401 / 403) also goes to `onError`.
   * @example const r = await engine.recommend({ userId: 'u1', context: { 'context:hour': 9 }, k: 10 });
   */
  async recommend(req: RecommendRequest): Promise<RecommendResult> {
    if (this.disposed) throw new Error('This engine was disposed: create a new one.');
    this.checkUser(req?.userId, 'recommend');
    for (const key of ['k', 'candidates'] as const) {
      const v = req[key];
      if (v !== undefined && !(Number.isInteger(v) && v >= 1))
        throw new RangeError(`recommend: ${key} must be a positive integer (got ${describe(v)}).`);
    }
    const { variant, state } = this.servingFor(req.userId);
    state.inflight++;
    try {
      return await this.run(state, req, variant);
    } catch (err) {
      if (this.backendImpl.kind === 'webgpu' && this.backendImpl.lost) {
        await this.fallBackToCpu();
        return this.recommend(req);
      }
      throw err;
    } finally {
      state.inflight--;
      if (state.retired && state.inflight === 0) state.loaded.dispose();
    }
  }

  private async run(
    state: ModelState,
    req: RecommendRequest,
    variant: RecommendResult['variant'],
  ): Promise<RecommendResult> {
    const o = this.options;
    const m = state.data;
    const k = req.k ?? 20;
    const t0 = now();
    // 1 features: the edge (within its latency budget), else the last cached answer; plus local history.
    let featureSource: RecommendResult['featureSource'] = 'none';
    let values: Record<string, unknown> = {};
    let recent: string[] = [];
    if (o.edge) {
      const userId = req.userId;
      const edge = o.edge;
      const store = this.store;
      const remember = (f: { values: Record<string, unknown>; recentItems: string[] }) => {
        const row = { userId, values: f.values, recentItems: f.recentItems, fetchedAt: Date.now() };
        this.features.delete(userId);
        this.features.set(userId, row);
        while (this.features.size > (o.historyUsers ?? 256)) this.features.delete(this.features.keys().next().value!);
        void store.putFeatures(row).catch(() => {});
      };
      const inMemory = this.features.get(userId);
      const maxAge = o.featuresMaxAgeMs ?? 0;
      if (inMemory && maxAge > 0 && Date.now() - inMemory.fetchedAt < maxAge) {
        values = inMemory.values;
        recent = inMemory.recentItems;
        featureSource = 'recent';
        if (!this.refreshing.has(userId)) {
          this.refreshing.add(userId);
          const timeoutMs = Math.max(this.featureBudget.ms, 15_000);
          void fetchUserFeatures(edge, userId, {
            token: o.token,
            model: state.manifest.name,
            timeoutMs,
            fetch: o.fetch,
          })
            .then(remember, () => {})
            .finally(() => this.refreshing.delete(userId));
        }
      } else {
        const f = await raceUserFeatures(edge, userId, {
          token: o.token,
          model: state.manifest.name,
          budget: this.featureBudget,
          fetch: o.fetch,
          onLate: remember,
          onRefused: (err) => {
            if (err.message === this.lastRefusal) return;
            this.lastRefusal = err.message;
            this.report(err);
          },
        });
        if (f) {
          values = f.values;
          recent = f.recentItems;
          featureSource = 'edge';
          remember(f);
        } else {
          const cached = inMemory ?? (await store.getFeatures(userId));
          if (cached) {
            values = cached.values;
            recent = cached.recentItems;
            featureSource = 'cache';
          }
        }
      }
    }
    const L = m.retrieval.config.historyLength;
    const local = await this.history.recent(req.userId, Math.max(L, 1) * 4);
    const types = o.historyTypes;
    const localIds = local.filter((e) => (types ? types(e.type) : isPositive(e))).map((e) => e.itemId);
    const localSet = new Set(localIds);
    const history = [...recent.filter((id) => !localSet.has(id)), ...localIds].slice(-L);
    const own = withUserKey(m, req.userId, { ...values, ...req.context });
    const fields = userFieldValues(m, req.userId, own);
    // 2 user tower → 3 catalogue search, seen and excluded items left out on the device
    const excluded = new Set<number>();
    for (const id of req.exclude ?? []) {
      const r = m.itemRow.get(id);
      if (r !== undefined) excluded.add(r);
    }
    if (o.excludeSeen ?? true)
      for (const id of history) {
        const r = m.itemRow.get(id);
        if (r !== undefined) excluded.add(r);
      }
    const N = m.itemIds.length;
    const want = Math.max(k, Math.min(req.candidates ?? o.candidates ?? 1000, N - excluded.size, N));
    const kk = Math.max(1, Math.min(want, N, o.candidates ?? 1000));
    const t1 = now();
    const found = await state.loaded.retrieve(
      fields,
      historyIndices(m, history),
      kk,
      Uint32Array.from([...excluded].sort((a, b) => a - b)),
    );
    const rows: number[] = [];
    const retrievalScores: number[] = [];
    for (let j = 0; j < found.ids.length; j++) {
      if (found.ids[j] === TOPK_NONE) break;
      rows.push(found.ids[j]);
      retrievalScores.push(found.scores[j]);
    }
    const t3 = now();
    // 4 ranking
    let heads: Float32Array | null = null;
    let rankGpu: number | undefined;
    if (m.ranking && rows.length > 0) {
      const rc = m.ranking.config;
      const n = rows.length;
      const dense = new Float32Array(n * Math.max(1, rc.denseFeatures.length));
      const sparse = new Int32Array(n * rc.sparseFeatures.reduce((s, f) => s + f.width, 0));
      rankingInputs(m, rc, rows, withLocalHistory(m, own, localIds), dense, sparse);
      const ranked = await state.loaded.rank(dense, sparse, n);
      heads = ranked?.heads ?? null;
      rankGpu = ranked?.gpu;
    }
    const t4 = now();
    // 5 blend: every candidate scored, only the first k made into results
    const n = rows.length;
    const blended = new Float64Array(n);
    blendScores(o.blend, retrievalScores, heads, n, blended);
    const ids = m.itemIds;
    // Best first: blended, then retrieval score, then item id (a strict order: the ids differ).
    const before = (a: number, b: number) =>
      blended[a] > blended[b] ||
      (blended[a] === blended[b] &&
        (retrievalScores[a] > retrievalScores[b] ||
          (retrievalScores[a] === retrievalScores[b] && ids[rows[a]] < ids[rows[b]])));
    const items: RecommendedItem[] = bestK(n, k, before).map((j) => ({
      itemId: ids[rows[j]],
      score: blended[j],
      ...candidateScores(retrievalScores[j], heads, j),
    }));
    const t5 = now();
    const gpu: Record<string, number> = {};
    if (found.gpu) Object.assign(gpu, found.gpu);
    if (rankGpu !== undefined) gpu.ranking = rankGpu;
    const userTower = found.ms.userTower;
    return {
      items,
      timings: {
        features: t1 - t0,
        userTower,
        retrieval: t3 - t1 - userTower,
        ranking: t4 - t3,
        blend: t5 - t4,
        total: t5 - t0,
        ...(Object.keys(gpu).length > 0 ? { gpu } : {}),
      },
      search: found.search,
      featureSource,
      degraded: o.edge !== undefined && featureSource !== 'edge' && featureSource !== 'recent',
      history,
      model: { name: state.manifest.name, version: state.manifest.version },
      variant,
      backend: this.backendImpl.kind,
    };
  }

  /**
   * Records what the user did: appended to the on-device history at once (the next recommend()
   * sees it) and queued for the edge (batched, retried, kept across reloads). Returns the event id.
   * Throws a TypeError when `userId`, `itemId` or `type` is not a non-empty string or `value` /
   * `ts` not a finite number, and an EdgeError `forbidden_user` when the token acts for another user.
   * @example await engine.observe({ userId: 'u1', itemId: 'i9', type: 'click' });
   */
  async observe(e: ObserveEvent): Promise<string> {
    if (this.disposed) throw new Error('This engine was disposed: create a new one.');
    this.checkUser(e?.userId, 'observe');
    requireId(e.itemId, 'observe: itemId');
    requireId(e.type, 'observe: type');
    for (const key of ['value', 'ts'] as const)
      if (e[key] !== undefined && !Number.isFinite(e[key]))
        throw new TypeError(`observe: ${key} must be a finite number (got ${describe(e[key])}).`);
    const eventId =
      e.eventId ??
      globalThis.crypto?.randomUUID?.() ??
      `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    const ts = e.ts ?? Date.now();
    const h: HistoryEvent = {
      eventId,
      userId: e.userId,
      itemId: e.itemId,
      type: e.type,
      ts,
      ...(e.value !== undefined ? { value: e.value } : {}),
    };
    try {
      await this.history.append(h);
    } catch (err) {
      // The event is in this page's history and still goes to the edge; only a reload loses it.
      this.report(
        new Error(
          `Saving event ${eventId} to the on-device history failed ` +
            `(${err instanceof Error ? err.message : err}): it counts until this page reloads.`,
        ),
      );
    }
    const { variant, state } = this.servingFor(e.userId);
    const context = { ...e.context, model_version: state.manifest.version, ...(variant ? { variant } : {}) };
    await this.uploader?.enqueue([
      {
        event_id: eventId,
        user_id: e.userId,
        item_id: e.itemId,
        type: e.type,
        ts,
        context,
        ...(e.value !== undefined ? { value: e.value } : {}),
      },
    ]);
    return eventId;
  }

  /** Sends queued events now; resolves with the number the edge accepted. */
  flush(): Promise<number> {
    return this.uploader?.flush() ?? Promise.resolve(0);
  }

  /** Events waiting for the edge that this engine sends (another user's, queued on this device, are not counted). */
  pendingEvents(): Promise<number> {
    return this.uploader?.pending() ?? this.store.outboxSize();
  }

  /**
   * Fetches the current manifest; a new version is downloaded, verified, loaded and swapped in
   * (requests in flight finish on the old one). A refused bundle leaves the current one serving.
   */
  async checkForUpdate(): Promise<UpdateResult> {
    const results = [await this.update('control')];
    if (this.states.treatment) results.push(await this.update('treatment'));
    return results[0];
  }

  private async update(which: 'control' | 'treatment'): Promise<UpdateResult> {
    const current = this.states[which]!;
    try {
      const src = sourceOf(this.options, current.source);
      const manifest = await fetchManifest(src);
      if (manifest.version === current.manifest.version) return { updated: false, version: current.manifest.version };
      const next = await loadFrom(this.backendImpl, this.store, this.options, src, manifest);
      await markGood(this.store, src.model, manifest);
      this.states[which] = next;
      current.retired = true;
      if (current.inflight === 0) current.loaded.dispose();
      return { updated: true, version: manifest.version };
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.report(e);
      return { updated: false, version: current.manifest.version, error: e.message };
    }
  }

  private async fallBackToCpu(): Promise<void> {
    if (this.backendImpl.kind === 'cpu') return;
    const cpu = new CpuBackend(this.options.cpu, 'the GPU device was lost');
    const reload = async (s: ModelState): Promise<ModelState> => ({
      ...s,
      loaded: await cpu.load(s.data, loadOptions(this.options)),
      inflight: 0,
      retired: false,
    });
    this.states = {
      control: await reload(this.states.control),
      treatment: this.states.treatment ? await reload(this.states.treatment) : null,
    };
    this.report(new GpuUnavailableError('The GPU device was lost: the engine continues on the CPU backend.'));
    this.backendImpl = cpu;
  }

  /** Frees every GPU resource and stops timers; queued events stay stored for the next engine. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.uploader?.dispose();
    this.states.control.loaded.dispose();
    this.states.treatment?.loaded.dispose();
    this.backendImpl.dispose();
    this.history.dispose();
    this.store.close();
  }
}

/** The EdgeError for a failed upload: the edge's code (`unreachable` / `timeout` without an answer), and what next. */
function uploadError(r: UploadOutcome, edge: string, maxAttempts: number): EdgeError {
  if (r.code === 'outbox_full')
    return new EdgeError(`Dropped the ${r.sent} oldest queued events: ${r.error}.`, r.code, undefined, edge);
  const why = [r.status !== undefined ? `HTTP ${r.status}` : '', r.error ?? ''].filter(Boolean).join(' ');
  const next =
    r.code === 'forbidden_user'
      ? "they are another user's than the token's: they stay queued for that user's engine."
      : refusesBatch(r.status, r.code)
        ? `they stay queued and are tried ${maxAttempts} times in all, then dropped.`
        : 'they stay queued and will be retried.';
  return new EdgeError(
    `Uploading ${r.sent} events failed (${why.replace(/\.$/, '')}); ${next}`,
    r.code ?? (r.status !== undefined ? `http_${r.status}` : 'unreachable'),
    r.status,
    `${edge.replace(/\/$/, '')}/v1/events`,
  );
}

function sourceOf(o: EngineOptions, model: string): ModelSource {
  return { model, edge: o.edge, token: o.token, fetch: o.fetch, timeoutMs: o.requestTimeoutMs ?? 10_000 };
}

function loadOptions(o: EngineOptions) {
  return { candidates: o.candidates ?? 1000, catalogue: o.catalogue ?? 'f32', maxExclusions: 65_536 } as const;
}

async function chooseBackend(o: EngineOptions): Promise<Backend> {
  const want = o.backend ?? 'auto';
  if (!['auto', 'webgpu', 'cpu'].includes(want))
    throw new Error(`Unknown backend '${want}': expected one of auto, webgpu, cpu.`);
  if (want === 'cpu') return new CpuBackend(o.cpu);
  if (o.gpu === null) return new CpuBackend(o.cpu, 'WebGPU was turned off (gpu: null)');
  let gpu: WebGpuBackend;
  try {
    gpu = await WebGpuBackend.create(o.gpu ? { gpu: o.gpu } : {});
  } catch (err) {
    if (want === 'webgpu') throw err;
    return new CpuBackend(o.cpu, `WebGPU is unavailable: ${err instanceof Error ? err.message : err}`);
  }
  const software = want === 'auto' && o.cpuWhenFaster !== false ? softwareAdapter(gpu.adapter) : null;
  if (!software) return gpu;
  gpu.dispose();
  return new CpuBackend(o.cpu, `WebGPU's adapter is ${software}: the CPU backend is faster there`);
}

/**
 * `auto` on a GPU adapter: a few requests of the loaded model on WebGPU and on the CPU backend
 * (a stranger, no history, every candidate ranked), after one warm-up each; the model serves on
 * the faster, and the adapter summary's `reason` gives both medians.
 */
async function calibrate(
  gpu: Backend,
  states: { control: ModelState; treatment: ModelState | null },
  o: EngineOptions,
): Promise<[Backend, { control: ModelState; treatment: ModelState | null }]> {
  const m = states.control.data;
  const onCpu = await new CpuBackend(o.cpu).load(m, loadOptions(o));
  let gpuMs: number;
  let cpuMs: number;
  try {
    gpuMs = await requestMs(states.control.loaded, m, o);
    cpuMs = await requestMs(onCpu, m, o);
  } catch (err) {
    onCpu.dispose();
    throw err;
  }
  const times = `CPU path ${cpuMs.toFixed(1)} ms, WebGPU ${gpuMs.toFixed(1)} ms per request`;
  if (!(cpuMs < gpuMs)) {
    onCpu.dispose();
    gpu.adapter.reason = `calibration at load: ${times}`;
    return [gpu, states];
  }
  const cpu = new CpuBackend(o.cpu, `calibration at load found the CPU path faster: ${times}`);
  const moved = {
    control: { ...states.control, loaded: onCpu },
    treatment: states.treatment
      ? { ...states.treatment, loaded: await cpu.load(states.treatment.data, loadOptions(o)) }
      : null,
  };
  states.control.loaded.dispose();
  states.treatment?.loaded.dispose();
  gpu.dispose();
  return [cpu, moved];
}

/** Median wall ms of retrieve + rank over `runs` requests after one warm-up. */
async function requestMs(loaded: LoadedModel, m: ModelData, o: EngineOptions, runs = 3): Promise<number> {
  const fields = userFieldValues(m, 'vireo-calibration', {});
  const none = new Uint32Array(0);
  const k = Math.min(m.itemIds.length, o.candidates ?? 1000);
  const rc = m.ranking?.config;
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t = now();
    const found = await loaded.retrieve(fields, none, k, none);
    if (rc) {
      const rows = Array.from(found.ids).filter((id) => id !== TOPK_NONE);
      const dense = new Float32Array(rows.length * Math.max(1, rc.denseFeatures.length));
      const sparse = new Int32Array(rows.length * rc.sparseFeatures.reduce((s, f) => s + f.width, 0));
      rankingInputs(m, rc, rows, {}, dense, sparse);
      await loaded.rank(dense, sparse, rows.length);
    }
    if (i > 0) times.push(now() - t);
  }
  return times.sort((a, b) => a - b)[runs >> 1];
}

async function loadFrom(
  backend: Backend,
  store: EngineStore,
  o: EngineOptions,
  src: ModelSource,
  manifest: BundleManifest,
): Promise<ModelState> {
  const bundle = await loadBundle(src, manifest, store, o.onProgress);
  if (bundle.cacheError) o.onError?.(bundle.cacheError);
  const data = parseModel(bundle);
  const loaded = await backend.load(data, loadOptions(o));
  return { source: src.model, manifest, data, loaded, inflight: 0, retired: false };
}

/** Startup: the current version from the network, else (offline, or refused) the last good one from the store. */
async function loadState(
  backend: Backend,
  store: EngineStore,
  o: EngineOptions,
  model: string,
  errors: Error[],
): Promise<ModelState> {
  const src = sourceOf(o, model);
  let fresh: BundleManifest | null = null;
  try {
    fresh = await fetchManifest(src);
  } catch (err) {
    errors.push(err as Error);
  }
  if (fresh) {
    try {
      const state = await loadFrom(backend, store, o, src, fresh);
      await markGood(store, src.model, fresh);
      return state;
    } catch (err) {
      errors.push(err as Error);
    }
  }
  const cached = await cachedManifest(store, src.model);
  if (cached && cached.version !== fresh?.version) return loadFrom(backend, store, o, src, cached);
  throw errors.at(-1) ?? new Error(`No bundle for ${model}.`);
}

/**
 * Creates an engine: picks the backend, loads the model (network, else the offline cache) and
 * starts the event uploader. When the manifest cannot be fetched (the edge down or silent for
 * `requestTimeoutMs`, a refused token) it starts from the bundle cached on this device and tells
 * `onError`; without one it rejects with that EdgeError: `model_not_found` (a wrong model name),
 * `unreachable`, `timeout`, `token_expired`, `invalid_token`, `unauthorized` (no token),
 * `insufficient_scope` (a token without `features:read`). A bundle that fails verification (a
 * damaged cached copy that cannot be downloaded again too) rejects with a BundleIntegrityError.
 * @example
 * const engine = await createEngine({ model: 'shop', edge: 'http://localhost:8787', token });
 * const { items } = await engine.recommend({ userId: 'u1', k: 10 });
 * await engine.observe({ userId: 'u1', itemId: items[0].itemId, type: 'click' });
 */
export function createEngine(options: EngineOptions): Promise<Engine> {
  return Engine.open(options);
}
