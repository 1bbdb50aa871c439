// The user's features from the edge (GET /v1/users/:id/features?transform=1) within a latency
// budget that follows the edge (docs/ARCHITECTURE.md, "A request"): the engine waits about twice
// the edge's recent P90, at least 250 ms and at most 2 s (1 s before it has measured anything).
// Past the budget the caller answers from the cached features and the on-device history, and the
// edge's answer, when it comes, still refreshes that cache, so that a slow edge never leaves a
// user whose history this device has seen with an empty one. An edge that refuses the request
// (HTTP 401 / 403: an expired token, one for another user) is told to `onRefused`, so that the
// engine reports it instead of answering degraded without a word.
import { EdgeError, httpError } from './errors.ts';

/** Model-ready values and the edge's real-time history of one user. */
export interface EdgeFeatures {
  values: Record<string, unknown>;
  recentItems: string[];
}

/** How long to wait for the edge: adaptive (the default) or fixed. */
export class LatencyBudget {
  private readonly samples: number[] = [];
  private penalty = 1;

  constructor(
    private readonly o: { floorMs: number; ceilingMs: number; initialMs: number; fixedMs?: number } = {
      floorMs: 250,
      ceilingMs: 2000,
      initialMs: 1000,
    },
  ) {}

  /** A fixed budget (the engine's `featuresTimeoutMs`). */
  static fixed(ms: number): LatencyBudget {
    return new LatencyBudget({ floorMs: ms, ceilingMs: ms, initialMs: ms, fixedMs: ms });
  }

  /** Milliseconds to wait for the next answer. */
  get ms(): number {
    if (this.o.fixedMs !== undefined) return this.o.fixedMs;
    if (this.samples.length === 0) return Math.min(this.o.ceilingMs, this.o.initialMs * this.penalty);
    const sorted = [...this.samples].sort((a, b) => a - b);
    const p90 = sorted[Math.min(sorted.length - 1, Math.floor(0.9 * sorted.length))];
    return Math.min(this.o.ceilingMs, Math.max(this.o.floorMs, 2 * p90 * this.penalty));
  }

  /** The edge answered after `ms` (in time or late). */
  record(ms: number): void {
    this.samples.push(ms);
    if (this.samples.length > 32) this.samples.shift();
    this.penalty = 1;
  }

  /** The budget ran out: wait longer next time until an answer is measured. */
  missed(): void {
    this.penalty = Math.min(this.penalty * 1.5, 8);
  }
}

/** Fetches a user's model-ready features; throws on timeout, network or HTTP error (an EdgeError). */
export async function fetchUserFeatures(
  edge: string,
  userId: string,
  opts: { token?: string; model?: string; timeoutMs: number; fetch?: typeof fetch },
): Promise<EdgeFeatures> {
  const f = opts.fetch ?? fetch;
  const ctl = new AbortController();
  const timer = setTimeout(
    () => ctl.abort(new Error(`the edge did not answer within ${opts.timeoutMs} ms`)),
    opts.timeoutMs,
  );
  try {
    const q = new URLSearchParams({ transform: '1' });
    if (opts.model) q.set('model', opts.model);
    const url = `${edge.replace(/\/$/, '')}/v1/users/${encodeURIComponent(userId)}/features?${q}`;
    const res = await f(url, {
      headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      signal: ctl.signal,
    });
    if (!res.ok) throw await httpError(res, url, `Reading the features of user '${userId}'`);
    const body = (await res.json()) as {
      features?: Record<string, unknown>;
      model_ready?: { values?: Record<string, unknown> };
    };
    const recent = body.features?.recent_items;
    return { values: body.model_ready?.values ?? {}, recentItems: Array.isArray(recent) ? recent.map(String) : [] };
  } finally {
    clearTimeout(timer);
  }
}

/** Longest the edge's answer is awaited in the background after the budget ran out. */
const LATE_MS = 15_000;

/**
 * The edge's features if they come within `budget` (null otherwise, or on an error). An answer
 * that comes later still reaches `onLate` (to refresh the cache) and the budget's measurements.
 * @example const f = await raceUserFeatures(edge, 'u1', { budget, onLate: (f) => cache.put(f) });
 */
export async function raceUserFeatures(
  edge: string,
  userId: string,
  opts: {
    token?: string;
    model?: string;
    budget: LatencyBudget;
    fetch?: typeof fetch;
    onLate?: (f: EdgeFeatures) => void;
    /** The edge refused the request (HTTP 401 or 403), in time or late. */
    onRefused?: (err: EdgeError) => void;
  },
): Promise<EdgeFeatures | null> {
  const t0 = performance.now();
  const wait = opts.budget.ms;
  let late = false;
  const answer = fetchUserFeatures(edge, userId, { ...opts, timeoutMs: Math.max(wait, LATE_MS) }).then((f) => {
    opts.budget.record(performance.now() - t0);
    if (late) opts.onLate?.(f);
    return f;
  });
  answer.catch((err) => {
    if (err instanceof EdgeError && (err.status === 401 || err.status === 403)) opts.onRefused?.(err);
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const budget = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), wait);
  });
  try {
    const first = await Promise.race([answer, budget]);
    if (first === null) {
      late = true;
      opts.budget.missed();
    }
    return first;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}
