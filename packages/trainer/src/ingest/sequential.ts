// A sequential world: implicit feedback where order matters, with its strength as flags, and its posterior oracle.
//
//   - N items in K categories (uniform), each with a log-normal popularity inside its category;
//   - every item has S fixed successors (random items), taken with weights ∝ 1/(s+1);
//   - every user likes 2 categories (their long-term taste) and has minEvents..maxEvents events.
//
// The next item after history h_1..h_t (t ≥ 1) is drawn from
//
//   q(j) = σ · Σ_s w_s [succ(h_t, s) = j]                                   successor of the last item
//        + ρ · Σ_k λ_k · within(cat(h_{t+1−k}))(j)                           recency: a recent item's category
//        + (1 − σ − ρ) · ½ Σ_{c ∈ taste} within(c)(j)                        long-term taste
//
// with within(c)(j) = popularity_j / Σ_{i ∈ c} popularity_i for j in c, λ_k ∝ ½^(k−1) over the last R = 5
// items, σ = --successor-strength and ρ = --recency-strength; the first item is drawn from the taste. Items the
// user already has are redrawn (P(j) ∝ q(j) over the rest). With σ = ρ = 0 order carries no information.
//
// The posterior oracle (sequentialOracleScores) knows this program but sees only the history: it scores
// P(next = j | h) with the taste replaced by its posterior over the K·(K−1)/2 category pairs given h (the exact
// likelihood of every step, renormalisation included), so it is the ceiling any model can reach on this data.
import { buildLookups, createRng, parseFeatureSpec, type FeatureSpec, type Rng } from '@vireo/core';
import { DatasetWriter, type Dataset, type DatasetSummary } from './dataset.ts';
import { writeEntityFeatures } from './encode.ts';
import { IngestError } from './errors.ts';
import { SpecFitter } from './fit.ts';
import type { IngestOptions } from './options.ts';
import { timeRange, writeImpressionCore, writeInteractions } from './views.ts';

/** Sizes, order effects and seed of a sequential world. */
export interface SequentialConfig {
  seed: number;
  users: number;
  items: number;
  categories: number;
  /** S: successors per item. */
  successors: number;
  /** σ: share of next items that are a successor of the last one. */
  successorStrength: number;
  /** ρ: share of next items drawn from the category of a recent item. */
  recencyStrength: number;
  minEvents: number;
  maxEvents: number;
}

export const DEFAULT_SEQUENTIAL: SequentialConfig = {
  seed: 1,
  users: 2000,
  items: 3000,
  categories: 30,
  successors: 3,
  successorStrength: 0.5,
  recencyStrength: 0.1,
  minEvents: 20,
  maxEvents: 60,
};

/** R: how many recent items the recency effect looks back over. */
export const RECENCY_LAGS = 5;
/** 2024-01-01T00:00:00Z. */
const WORLD_START = 1_704_067_200;

/** What the posterior oracle knows: the world's program (dataset.json `oracle` plus the items' oracle columns). */
export interface SequentialTruth {
  successorStrength: number;
  recencyStrength: number;
  categories: number;
  successorWeights: number[]; // (S)
  itemCategory: Int32Array; //   (N)
  itemWithin: Float32Array; //   (N) popularity share inside its category
  successors: Int32Array; //     (N, S)
}

export function sequentialSpec(): FeatureSpec {
  return parseFeatureSpec({
    name: 'sequential',
    entities: { user: { key: 'user_id' }, item: { key: 'item_id' } },
    timestamp: 'ts',
    features: [
      { name: 'user:id', kind: 'categorical' },
      {
        name: 'user:recent_items',
        kind: 'sequence',
        maxLength: 50,
        vocabulary: 'item:id',
        description: "the user's events before this one, oldest first; built from the interactions table",
      },
      { name: 'item:id', kind: 'categorical' },
    ],
    labels: [{ name: 'event', kind: 'binary' }], // every row is an event (implicit feedback)
  });
}

/** The recency weights λ_1..λ_n over the last n = min(R, t) items, summing to 1. */
export function recencyWeights(n: number): Float64Array {
  const w = Float64Array.from({ length: n }, (_, k) => 0.5 ** k);
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

/** The world's catalogue and successor structure from its seed. */
export function sequentialTruth(c: SequentialConfig, rng: Rng = createRng(c.seed)): SequentialTruth {
  const N = c.items;
  const K = c.categories;
  const S = c.successors;
  const itemCategory = Int32Array.from({ length: N }, () => rng.int(K));
  // Every category holds an item (a user's taste draws from two of them): an empty one takes the last item of
  // the largest. Worlds where none came out empty are unchanged, and no extra draw shifts the rng.
  const counts = new Int32Array(K);
  for (const k of itemCategory) counts[k]++;
  for (let k = 0; k < K; k++) {
    if (counts[k] > 0) continue;
    const from = counts.indexOf(Math.max(...counts));
    const i = itemCategory.lastIndexOf(from);
    itemCategory[i] = k;
    counts[from]--;
    counts[k]++;
  }
  const popularity = Float64Array.from({ length: N }, () => Math.exp(rng.normal()));
  const categoryTotal = new Float64Array(K);
  for (let i = 0; i < N; i++) categoryTotal[itemCategory[i]] += popularity[i];
  const itemWithin = Float32Array.from(popularity, (p, i) => p / categoryTotal[itemCategory[i]]);
  const successors = new Int32Array(N * S);
  for (let i = 0; i < N; i++) {
    const taken = new Set([i]);
    for (let s = 0; s < S; s++) {
      let j = rng.int(N);
      while (taken.has(j)) j = rng.int(N);
      taken.add(j);
      successors[i * S + s] = j;
    }
  }
  const raw = Array.from({ length: S }, (_, s) => 1 / (s + 1));
  const total = raw.reduce((a, b) => a + b, 0);
  return {
    successorStrength: c.successorStrength,
    recencyStrength: c.recencyStrength,
    categories: K,
    successorWeights: raw.map((x) => x / total),
    itemCategory,
    itemWithin,
    successors,
  };
}

/** Items of each category (K lists) and per category the cumulative within-shares, for draws. */
function categoryDraws(t: SequentialTruth): (rng: Rng, category: number) => number {
  const members: number[][] = Array.from({ length: t.categories }, () => []);
  for (let i = 0; i < t.itemCategory.length; i++) members[t.itemCategory[i]].push(i);
  const cumulative = members.map((m) => {
    let acc = 0;
    return Float64Array.from(m, (i) => (acc += t.itemWithin[i]));
  });
  return (rng, k) => {
    const cum = cumulative[k];
    const x = rng.next() * cum[cum.length - 1];
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return members[k][lo];
  };
}

/** One user's events (item rows, in order) drawn from the world. */
function drawUser(
  t: SequentialTruth,
  draw: (rng: Rng, category: number) => number,
  taste: [number, number],
  count: number,
  rng: Rng,
): number[] {
  const history: number[] = [];
  const seen = new Set<number>();
  const S = t.successorWeights.length;
  const next = (): number => {
    const tasteDraw = () => draw(rng, taste[rng.int(2)]);
    if (history.length === 0) return tasteDraw();
    const x = rng.next();
    if (x < t.successorStrength) {
      const last = history[history.length - 1];
      let y = rng.next();
      for (let s = 0; s < S; s++)
        if ((y -= t.successorWeights[s]) < 0 || s === S - 1) return t.successors[last * S + s];
    }
    if (x < t.successorStrength + t.recencyStrength) {
      const lags = recencyWeights(Math.min(RECENCY_LAGS, history.length));
      let y = rng.next();
      for (let k = 0; k < lags.length; k++)
        if ((y -= lags[k]) < 0 || k === lags.length - 1)
          return draw(rng, t.itemCategory[history[history.length - 1 - k]]);
    }
    return tasteDraw();
  };
  while (history.length < count) {
    let item = next();
    // Redraw what the user already has; a user who has exhausted what the program offers takes any new item.
    for (let tries = 0; seen.has(item) && tries < 200; tries++) item = next();
    while (seen.has(item)) item = rng.int(t.itemCategory.length);
    seen.add(item);
    history.push(item);
  }
  return history;
}

/**
 * The posterior oracle's scores of every item (N) as the next event after `history` (item rows, oldest first):
 * log P(next = j | history) up to a constant, with the taste's posterior over category pairs given the history.
 * Items in the history get the same formula (evaluation excludes them).
 * @example sequentialOracleScores(truth, [12, 7, 301], new Float32Array(N))
 */
export function sequentialOracleScores(
  t: SequentialTruth,
  history: ArrayLike<number>,
  out: Float32Array,
): Float32Array {
  const K = t.categories;
  const S = t.successorWeights.length;
  const sigma = t.successorStrength;
  const rho = t.recencyStrength;
  const tau = 1 - sigma - rho;
  const pairs: Array<[number, number]> = [];
  for (let a = 0; a < K; a++) for (let b = a + 1; b < K; b++) pairs.push([a, b]);
  const logPost = new Float64Array(pairs.length);
  const consumed = new Float64Array(K); // within-share of the items had so far, per category
  const seen = new Set<number>();
  const h = Array.from(history);
  // The order-dependent part of q_t(j) for the step after h[0..t): successor and recency mass.
  const orderMass = (t_: number, j: number): number => {
    if (t_ === 0) return 0;
    let m = 0;
    const last = h[t_ - 1];
    for (let s = 0; s < S; s++) if (t.successors[last * S + s] === j) m += sigma * t.successorWeights[s];
    const lags = recencyWeights(Math.min(RECENCY_LAGS, t_));
    for (let k = 0; k < lags.length; k++)
      if (t.itemCategory[h[t_ - 1 - k]] === t.itemCategory[j]) m += rho * lags[k] * t.itemWithin[j];
    return m;
  };
  // The same parts' mass on items already had (what the redraw removes).
  const orderConsumed = (t_: number): number => {
    if (t_ === 0) return 0;
    let m = 0;
    const last = h[t_ - 1];
    for (let s = 0; s < S; s++) if (seen.has(t.successors[last * S + s])) m += sigma * t.successorWeights[s];
    const lags = recencyWeights(Math.min(RECENCY_LAGS, t_));
    for (let k = 0; k < lags.length; k++) m += rho * lags[k] * consumed[t.itemCategory[h[t_ - 1 - k]]];
    return m;
  };
  for (let t_ = 0; t_ < h.length; t_++) {
    const j = h[t_];
    const first = t_ === 0;
    const tasteShare = first ? 1 : tau;
    const om = orderMass(t_, j);
    const oc = orderConsumed(t_);
    const cj = t.itemCategory[j];
    for (let p = 0; p < pairs.length; p++) {
      const [a, b] = pairs[p];
      const taste = cj === a || cj === b ? 0.5 * t.itemWithin[j] : 0;
      const num = om + tasteShare * taste;
      const den = 1 - oc - tasteShare * 0.5 * (consumed[a] + consumed[b]);
      logPost[p] += Math.log(Math.max(num, 1e-300)) - Math.log(Math.max(den, 1e-12));
    }
    seen.add(j);
    consumed[cj] += t.itemWithin[j];
  }
  let max = -Infinity;
  for (const l of logPost) max = Math.max(max, l);
  const categoryPost = new Float64Array(K); // P(category c is in the taste | h) · ½
  let total = 0;
  for (let p = 0; p < pairs.length; p++) total += Math.exp(logPost[p] - max);
  for (let p = 0; p < pairs.length; p++) {
    const w = Math.exp(logPost[p] - max) / total;
    categoryPost[pairs[p][0]] += 0.5 * w;
    categoryPost[pairs[p][1]] += 0.5 * w;
  }
  const tasteShare = h.length === 0 ? 1 : tau;
  for (let j = 0; j < out.length; j++) {
    const q = orderMass(h.length, j) + tasteShare * categoryPost[t.itemCategory[j]] * t.itemWithin[j];
    out[j] = Math.log(Math.max(q, 1e-30));
  }
  return out;
}

/** Generates a sequential world into a dataset folder (interactions, users, items, the oracle's item columns). */
export async function ingestSequential(c: SequentialConfig, opts: IngestOptions): Promise<DatasetSummary> {
  if (c.categories < 2 || c.items < c.categories)
    throw new IngestError(
      `a sequential world needs at least 2 categories and at least one item per category ` +
        `(got ${c.items} items in ${c.categories} categories): raise --items or lower --categories.`,
    );
  // drawUser gives a user distinct items: more events than items would never end.
  if (c.maxEvents > c.items)
    throw new IngestError(`a sequential world's users have at most --items events (${c.maxEvents} > ${c.items}).`);
  const started = performance.now();
  const rng = createRng(c.seed);
  const truth = sequentialTruth(c, rng);
  const draw = categoryDraws(truth);
  const user: number[] = [];
  const item: number[] = [];
  const ts: number[] = [];
  for (let u = 0; u < c.users; u++) {
    const a = rng.int(c.categories);
    let b = rng.int(c.categories - 1);
    if (b >= a) b++;
    const count = c.minEvents + rng.int(c.maxEvents - c.minEvents + 1);
    const start = WORLD_START + rng.int(30 * 86_400);
    drawUser(truth, draw, [a, b], count, rng).forEach((i, k) => {
      user.push(u);
      item.push(i);
      ts.push(start + k * 3600 + rng.int(1800));
    });
  }
  const n = user.length;
  const spec = sequentialSpec();
  const fixed = {
    'user:id': Array.from({ length: c.users }, (_, u) => `u${u}`),
    'item:id': Array.from({ length: c.items }, (_, i) => `i${i}`),
  };
  const fitter = new SpecFitter(spec, fixed);
  const feature = (name: string) => spec.features.find((f) => f.name === name)!;
  for (let i = 0; i < c.items; i++) fitter.addFeature(feature('item:id'), fixed['item:id'][i]);
  const label = new Float32Array(n).fill(1);
  for (let e = 0; e < n; e++) {
    fitter.row();
    fitter.addLabel('event', 1);
  }
  const fitted = fitter.fit();
  const lookups = buildLookups(fitted.spec, fitted.vocabularies);
  const fittedFeature = (name: string) => fitted.spec.features.find((f) => f.name === name)!;
  const out = new DatasetWriter(opts.out);
  writeEntityFeatures(out, 'users', [fittedFeature('user:id')], c.users, lookups, (_f, u) => fixed['user:id'][u]);
  writeEntityFeatures(out, 'items', [fittedFeature('item:id')], c.items, lookups, (_f, i) => fixed['item:id'][i]);
  out.writeColumn('items', 'oracle:category', 'I32', truth.itemCategory);
  out.writeColumn('items', 'oracle:within', 'F32', truth.itemWithin);
  out.writeColumn('items', 'oracle:successors', 'I32', truth.successors, [c.items, c.successors]);
  const events = { user: Int32Array.from(user), item: Int32Array.from(item), ts: Float64Array.from(ts) };
  const ranking = writeImpressionCore(out, { ...events, labels: new Map([['event', label]]) }, opts);
  const retrieval = writeInteractions(
    out,
    { ...events, weight: new Float32Array(n).fill(1), positive: new Uint8Array(n).fill(1) },
    c.users,
    opts.minPositives,
  );
  return out.finish(
    {
      source: 'sequential',
      name: opts.name ?? 'sequential',
      createdAt: new Date().toISOString(),
      options: { ...c, validFraction: opts.validFraction, testFraction: opts.testFraction },
      inputs: [],
      counts: { users: c.users, items: c.items, interactions: n, positives: n, impressions: n },
      timeRange: timeRange(events.ts),
      splits: { retrieval, ranking },
      labels: { event: fitted.statistics['label:event'] },
      badRows: { count: 0, samples: [] },
      elapsedSeconds: (performance.now() - started) / 1000,
      oracle: {
        kind: 'sequential',
        successorStrength: c.successorStrength,
        recencyStrength: c.recencyStrength,
        categories: c.categories,
        successorWeights: truth.successorWeights,
      },
    },
    fitted.spec,
    fitted.vocabularies,
    fitted.statistics,
  );
}

/** The posterior oracle's knowledge of a sequential dataset (null for other sources). */
export function loadSequentialTruth(ds: Dataset): SequentialTruth | null {
  const o = ds.summary.oracle;
  if (ds.summary.source !== 'sequential' || !o) return null;
  const col = (name: string) => {
    const c = ds.items?.columns.get(name);
    if (!c) throw new IngestError(`${ds.dir}: sequential dataset has no items column ${name}; ingest it again.`);
    return c.data;
  };
  return {
    successorStrength: o.successorStrength as number,
    recencyStrength: o.recencyStrength as number,
    categories: o.categories as number,
    successorWeights: o.successorWeights as number[],
    itemCategory: col('oracle:category') as Int32Array,
    itemWithin: col('oracle:within') as Float32Array,
    successors: col('oracle:successors') as Int32Array,
  };
}
