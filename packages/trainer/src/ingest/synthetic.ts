// A synthetic world with known structure, generated from one seed, streamed to disk user by user
// (10M impressions in well under 2 GB):
//   - K categories with centres in a D-dim latent space; items sit near their category's centre,
//     carry 1–3 attributes (chosen by affinity), a title of pseudo-words (category, attribute and
//     filler tokens), a price (log-normal per category) and a long-tailed (Zipf) popularity;
//   - users belong to an age group (a direction in the space) and like 2 categories; each drifts
//     towards a third interest over the world's span, has an activity level (log-normal), a
//     favourite device and a peak hour;
//   - sessions: a time (day, hour around the peak), a device, and a slate of SLATE impressions from
//     a logging policy (interest-driven, popular, or uniform); each impression is clicked,
//     converted and paid for by the known function in oracle.ts.
// The oracle (true probabilities per impression, latent factors per user and item) is written too.
import {
  FIRST_INDEX,
  buildLookups,
  createRng,
  parseFeatureSpec,
  type FeatureSpec,
  type Rng,
  type Vocabularies,
} from '@vireo/core';
import { DatasetWriter, SPLIT_TRAIN, type DatasetSummary, type RankingSplitSummary } from './dataset.ts';
import { writeEntityFeatures } from './encode.ts';
import { SpecFitter } from './fit.ts';
import { DEFAULT_FM_STRENGTH, fmClicks, type FmFields } from './fm-clicks.ts';
import { clickLogitFor, conversionFor, interestAt, sigmoid, type WorldParameters, type WorldTruth } from './oracle.ts';
import { stage, type IngestOptions } from './options.ts';
import { RetrievalSplitCounter, timeSplitOf } from './splits.ts';

/** Sizes and seed of a world. */
export interface WorldConfig {
  seed: number;
  users: number;
  items: number;
  /** Impressions in total (clicks are a share of them). */
  events: number;
  categories: number;
  dim: number;
  days: number;
  /** Where clicks come from: the latent world (oracle.ts, the default) or a factorization machine (fm-clicks.ts). */
  clicks?: 'latent' | 'fm';
  /** The FM's pairwise strength (clicks 'fm'). */
  fmStrength?: number;
}

/**
 * The world `vireo ingest --source synthetic` and `vireo start` (npm start) make when no size is
 * given: small enough to train in a few minutes on a laptop's CPU through SwiftShader.
 * DEFAULT_WORLD below is larger: the benchmarks' world (BENCHMARKS.md).
 */
export const START_WORLD = { users: 1000, items: 500, events: 20_000, categories: 12 } as const;

export const DEFAULT_WORLD: WorldConfig = {
  seed: 1,
  users: 2000,
  items: 1000,
  events: 100_000,
  categories: 20,
  dim: 16,
  days: 30,
};

/** Impressions per session. */
const SLATE = 10;
const ATTRIBUTES_PER_CATEGORY = 2;
const TOPIC_TOKENS = 8;
const FILLER_TOKENS = 200;
/** 2024-01-01T00:00:00Z: the world's first day. */
const WORLD_START = 1_704_067_200;
export const AGE_GROUPS = ['18-24', '25-34', '35-44', '45-54', '55-64', '65+'];
export const DEVICES = ['mobile', 'desktop', 'tablet'];
const DEVICE_SHARE = [0.6, 0.3, 0.1];
/** Logging policy: the share of slate slots filled by interest, then by popularity; the rest uniform. */
const POLICY_INTEREST = 0.5;
const POLICY_POPULAR = 0.25;
const POLICY_TEMPERATURE = 5;

export function syntheticSpec(): FeatureSpec {
  return parseFeatureSpec({
    name: 'synthetic',
    entities: { user: { key: 'user_id' }, item: { key: 'item_id' } },
    timestamp: 'ts',
    features: [
      { name: 'user:id', kind: 'categorical' },
      { name: 'user:age_group', kind: 'categorical' },
      {
        name: 'user:recent_items',
        kind: 'sequence',
        maxLength: 20,
        vocabulary: 'item:id',
        description: "the user's clicks before the event, oldest first; built from the interactions table",
      },
      { name: 'item:id', kind: 'categorical' },
      { name: 'item:category', kind: 'categorical' },
      { name: 'item:attributes', kind: 'multi_hot', maxLength: 4 },
      { name: 'item:title', kind: 'multi_hot', maxLength: 8 },
      { name: 'item:price', kind: 'numeric', transforms: [{ op: 'log1p' }, { op: 'standardize' }] },
      {
        name: 'item:popularity',
        kind: 'numeric',
        transforms: [{ op: 'log1p' }, { op: 'standardize' }],
        description: 'prior popularity (expected weekly views), known before any event',
      },
      { name: 'context:hour', kind: 'categorical' },
      { name: 'context:device', kind: 'categorical' },
    ],
    labels: [
      { name: 'click', kind: 'binary' },
      { name: 'conversion', kind: 'binary' },
      { name: 'revenue', kind: 'regression' },
    ],
  });
}

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  're',
  'su',
  'ta',
  'vo',
  'ne',
  'pi',
  'da',
  'ru',
  'shi',
  'mo',
  'ga',
  'li',
  'zen',
  'fa',
  'ko',
  'ba',
  'te',
];
/** A pronounceable, unique token for an index: 'kalo', 'kami', … */
function word(j: number): string {
  const s = SYLLABLES.length;
  let w = SYLLABLES[j % s] + SYLLABLES[Math.floor(j / s) % s];
  if (j >= s * s) w += SYLLABLES[Math.floor(j / (s * s)) % s] + String(Math.floor(j / (s * s * s)) || '');
  return w;
}

function unitVector(rng: Rng, D: number, out = new Float32Array(D)): Float32Array {
  let n = 0;
  for (let d = 0; d < D; d++) n += (out[d] = rng.normal()) ** 2;
  n = Math.sqrt(n) || 1;
  for (let d = 0; d < D; d++) out[d] /= n;
  return out;
}

function normalize(v: Float32Array): Float32Array {
  let n = 0;
  for (let d = 0; d < v.length; d++) n += v[d] * v[d];
  n = Math.sqrt(n) || 1;
  for (let d = 0; d < v.length; d++) v[d] /= n;
  return v;
}

/** Walker's alias table: O(1) draws from a fixed discrete distribution. */
function aliasTable(weights: ArrayLike<number>): (rng: Rng) => number {
  const n = weights.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i];
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) {
    prob[i] = (weights[i] * n) / total;
    (prob[i] < 1 ? small : large).push(i);
  }
  while (small.length && large.length) {
    const s = small.pop()!;
    const l = large.pop()!;
    alias[s] = l;
    prob[l] += prob[s] - 1;
    (prob[l] < 1 ? small : large).push(l);
  }
  for (const i of [...small, ...large]) prob[i] = 1;
  return (rng) => {
    const i = rng.int(n);
    return rng.next() < prob[i] ? i : alias[i];
  };
}

/** A copy of `a` with twice the room. */
function grow<T extends Int32Array | Float64Array | Float32Array>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2);
  b.set(a as never);
  return b;
}

/** The popular draw's probability per item (popularity + 1, normalized). */
function exposureOf(popularity: Float32Array): Float32Array {
  let total = 0;
  for (let i = 0; i < popularity.length; i++) total += popularity[i] + 1;
  return Float32Array.from(popularity, (p) => (p + 1) / total);
}

/** The generated catalogue, world parameters and per-user traits (everything but the events). */
export interface World {
  config: WorldConfig;
  params: WorldParameters;
  truth: WorldTruth;
  vocabularies: Vocabularies;
  categoryCentre: Float32Array; // (K, D)
  itemAttributes: number[][]; // (N, ≤3) attribute indices
  itemTitle: number[][]; //      (N, 3..6) token indices
  itemPopularity: Float32Array; // (N) expected weekly views
  userAgeGroup: Uint8Array; //   (U)
  userDevice: Uint8Array; //     (U) favourite device
  userPeakHour: Float32Array; // (U)
  userActivity: Float64Array; // (U) relative activity
}

/**
 * Builds a world's catalogue and users from its config (deterministic in the seed).
 * @example const world = generateWorld({ ...DEFAULT_WORLD, seed: 7 });
 */
export function generateWorld(config: WorldConfig): World {
  const { users: U, items: N, categories: K, dim: D } = config;
  const root = createRng(config.seed);
  const rng = root.fork('world');
  const A = K * ATTRIBUTES_PER_CATEGORY;

  // Categories: centres, hour peaks, price levels, and a Zipf share of the catalogue.
  const centre = new Float32Array(K * D);
  for (let k = 0; k < K; k++) unitVector(rng, D, centre.subarray(k * D, (k + 1) * D));
  const hourPeak = Array.from({ length: K }, () => rng.next() * 24);
  const hourAmp = Array.from({ length: K }, () => 0.2 + rng.next() * 0.8);
  const priceLevel = Array.from({ length: K }, () => 2 + rng.next() * 3);
  const categoryDraw = aliasTable(Array.from({ length: K }, (_, k) => 1 / (k + 1) ** 0.7));
  const deviceShift = Array.from(unitVector(rng, D * 3)).map((x) => x * 0.6);
  const ageDirection = new Float32Array(AGE_GROUPS.length * D);
  for (let g = 0; g < AGE_GROUPS.length; g++) unitVector(rng, D, ageDirection.subarray(g * D, (g + 1) * D));
  const attribute = new Float32Array(A * D);
  for (let a = 0; a < A; a++) {
    // Attributes lean towards a category so that they carry signal.
    const v = unitVector(rng, D, attribute.subarray(a * D, (a + 1) * D));
    const k = a % K;
    for (let d = 0; d < D; d++) v[d] = v[d] * 0.6 + centre[k * D + d];
    normalize(v);
  }

  // Items.
  const itemRng = root.fork('items');
  const itemLatent = new Float32Array(N * D);
  const itemCategory = new Int32Array(N);
  const itemPrice = new Float32Array(N);
  const itemBias = new Float32Array(N);
  const itemPopularity = new Float32Array(N);
  const itemAttributes: number[][] = [];
  const itemTitle: number[][] = [];
  const popularityRank = itemRng.shuffle(Int32Array.from({ length: N }, (_, i) => i));
  let meanLogPop = 0;
  for (let i = 0; i < N; i++) meanLogPop += -Math.log(i + 1) / N;
  const noise = new Float32Array(D);
  for (let i = 0; i < N; i++) {
    const k = categoryDraw(itemRng);
    itemCategory[i] = k;
    unitVector(itemRng, D, noise);
    const v = itemLatent.subarray(i * D, (i + 1) * D);
    for (let d = 0; d < D; d++) v[d] = centre[k * D + d] + 0.7 * noise[d];
    normalize(v);
    itemPrice[i] = Math.round(Math.exp(priceLevel[k] + 0.4 * itemRng.normal()) * 100) / 100;
    const logPop = -Math.log(popularityRank[i] + 1); // Zipf, exponent 1
    itemBias[i] = 0.35 * (logPop - meanLogPop);
    itemPopularity[i] = Math.round((7 * 1000 * Math.exp(logPop)) / Math.log(N + 1));
    // Attributes: Gumbel top-m over affinity.
    const m = 1 + itemRng.int(3);
    const keyed = Array.from({ length: A }, (_, a) => {
      let s = 0;
      for (let d = 0; d < D; d++) s += attribute[a * D + d] * v[d];
      return [3 * s - Math.log(-Math.log(itemRng.next() || 1e-12)), a] as const;
    }).sort((x, y) => y[0] - x[0]);
    const attrs = keyed.slice(0, m).map(([, a]) => a);
    itemAttributes.push(attrs);
    // Title: a topic word, a word per attribute, one or two filler words (Zipf-ish), shuffled.
    const title = [
      k * TOPIC_TOKENS + itemRng.int(TOPIC_TOKENS),
      ...attrs.map((a) => K * TOPIC_TOKENS + a * 2 + itemRng.int(2)),
    ];
    const fillers = 1 + itemRng.int(2);
    for (let f = 0; f < fillers; f++)
      title.push(K * TOPIC_TOKENS + 2 * A + Math.floor(FILLER_TOKENS * itemRng.next() ** 2));
    itemTitle.push(itemRng.shuffle([...new Set(title)]));
  }
  let meanLogPrice = 0;
  for (let i = 0; i < N; i++) meanLogPrice += Math.log(itemPrice[i]) / N;

  // Users.
  const userRng = root.fork('users');
  const userLatent = new Float32Array(U * D);
  const userDrift = new Float32Array(U * D);
  const userAgeGroup = new Uint8Array(U);
  const userDevice = new Uint8Array(U);
  const userPeakHour = new Float32Array(U);
  const userActivity = new Float64Array(U);
  const deviceDraw = aliasTable(DEVICE_SHARE);
  for (let u = 0; u < U; u++) {
    const g = userRng.int(AGE_GROUPS.length);
    userAgeGroup[u] = g;
    const k1 = categoryDraw(userRng);
    const k2 = categoryDraw(userRng);
    const k3 = userRng.int(K); // drift goes anywhere, not only to popular categories
    const w1 = 0.6 + 0.4 * userRng.next();
    const latent = userLatent.subarray(u * D, (u + 1) * D);
    const drift = userDrift.subarray(u * D, (u + 1) * D);
    unitVector(userRng, D, noise);
    for (let d = 0; d < D; d++)
      latent[d] =
        w1 * centre[k1 * D + d] + (1 - w1) * centre[k2 * D + d] + 0.35 * ageDirection[g * D + d] + 0.3 * noise[d];
    normalize(latent);
    unitVector(userRng, D, noise);
    for (let d = 0; d < D; d++) drift[d] = centre[k3 * D + d] + 0.35 * ageDirection[g * D + d] + 0.3 * noise[d];
    normalize(drift);
    userDevice[u] = deviceDraw(userRng);
    userPeakHour[u] = userRng.next() < 0.6 ? 20 + 1.5 * userRng.normal() : 8 + 1.5 * userRng.normal();
    userActivity[u] = Math.exp(0.8 * userRng.normal());
  }

  const params: WorldParameters = {
    dim: D,
    start: WORLD_START,
    span: config.days * 86_400,
    scale: 4,
    clickOffset: -2.6,
    driftWeight: 0.6,
    convScale: 2,
    convOffset: -1.2,
    priceEffect: 0.6,
    meanLogPrice,
    hourPeak,
    hourAmp,
    deviceShift,
    categoryCentre: Array.from(centre),
    policy: {
      interest: POLICY_INTEREST,
      popular: POLICY_POPULAR,
      uniform: 1 - POLICY_INTEREST - POLICY_POPULAR,
      temperature: POLICY_TEMPERATURE,
    },
  };
  const pad = (n: number) => (j: number) => String(j + 1).padStart(String(n).length, '0');
  const vocabularies: Vocabularies = {
    'user:id': Array.from({ length: U }, (_, u) => `u${pad(U)(u)}`),
    'user:age_group': AGE_GROUPS,
    'item:id': Array.from({ length: N }, (_, i) => `i${pad(N)(i)}`),
    'item:category': Array.from({ length: K }, (_, k) => `cat${pad(K)(k)}`),
    'item:attributes': Array.from({ length: A }, (_, a) => `attr${pad(A)(a)}`),
    'item:title': Array.from({ length: K * TOPIC_TOKENS + 2 * A + FILLER_TOKENS }, (_, j) => word(j)),
    'context:hour': Array.from({ length: 24 }, (_, h) => String(h)),
    'context:device': DEVICES,
  };
  return {
    config,
    params,
    truth: {
      ...params,
      userLatent,
      userDrift,
      itemLatent,
      itemBias,
      itemCategory,
      itemPrice,
      itemExposure: exposureOf(itemPopularity),
    },
    vocabularies,
    categoryCentre: centre,
    itemAttributes,
    itemTitle,
    itemPopularity,
    userAgeGroup,
    userDevice,
    userPeakHour,
    userActivity,
  };
}

/**
 * Generates a world and writes it as a dataset: users and items with their features and oracle
 * factors, every impression (the ranking view) and every click (the retrieval view).
 */
export async function ingestSynthetic(config: WorldConfig, opts: IngestOptions): Promise<DatasetSummary> {
  const started = performance.now();
  const world = generateWorld(config);
  const { users: U, items: N, categories: K, dim: D } = config;
  const truth = world.truth;
  const spec = syntheticSpec();
  const vocab = world.vocabularies;

  // Entity features: fitted for the standardize statistics, vocabularies fixed by construction.
  const fitter = new SpecFitter(spec, vocab);
  const feature = (name: string) => spec.features.find((f) => f.name === name)!;
  const itemRaw: Record<string, (i: number) => unknown> = {
    'item:id': (i) => vocab['item:id'][i],
    'item:category': (i) => vocab['item:category'][truth.itemCategory[i]],
    'item:attributes': (i) => world.itemAttributes[i].map((a) => vocab['item:attributes'][a]),
    'item:title': (i) => world.itemTitle[i].map((t) => vocab['item:title'][t]),
    'item:price': (i) => truth.itemPrice[i],
    'item:popularity': (i) => world.itemPopularity[i],
  };
  const userRaw: Record<string, (u: number) => unknown> = {
    'user:id': (u) => vocab['user:id'][u],
    'user:age_group': (u) => AGE_GROUPS[world.userAgeGroup[u]],
  };
  for (const [name, raw] of Object.entries(itemRaw))
    for (let i = 0; i < N; i++) fitter.addFeature(feature(name), raw(i) as never);
  const fitted = fitter.fit();
  const lookups = buildLookups(fitted.spec, vocab);
  const fittedFeature = (name: string) => fitted.spec.features.find((f) => f.name === name)!;

  const out = new DatasetWriter(opts.out);
  writeEntityFeatures(
    out,
    'items',
    Object.keys(itemRaw).map(fittedFeature),
    N,
    lookups,
    (f, i) => itemRaw[f.name](i) as never,
  );
  out.writeColumn('items', 'oracle:latent', 'F32', truth.itemLatent, [N, D]);
  out.writeColumn('items', 'oracle:bias', 'F32', truth.itemBias);
  out.writeColumn('items', 'oracle:category', 'I32', truth.itemCategory);
  out.writeColumn('items', 'oracle:price', 'F32', truth.itemPrice);
  out.writeColumn('items', 'oracle:exposure', 'F32', truth.itemExposure);
  writeEntityFeatures(
    out,
    'users',
    Object.keys(userRaw).map(fittedFeature),
    U,
    lookups,
    (f, u) => userRaw[f.name](u) as never,
  );
  out.writeColumn('users', 'oracle:latent', 'F32', truth.userLatent, [U, D]);
  out.writeColumn('users', 'oracle:drift', 'F32', truth.userDrift, [U, D]);

  // Streamed event columns.
  const im = {
    user: out.column('impressions', 'user', 'I32'),
    item: out.column('impressions', 'item', 'I32'),
    ts: out.column('impressions', 'ts', 'F64'),
    split: out.column('impressions', 'split', 'U8'),
    hour: out.column('impressions', 'context:hour', 'I32'),
    device: out.column('impressions', 'context:device', 'I32'),
    click: out.column('impressions', 'label:click', 'F32'),
    conversion: out.column('impressions', 'label:conversion', 'F32'),
    revenue: out.column('impressions', 'label:revenue', 'F32'),
    pClick: out.column('impressions', 'oracle:pClick', 'F32'),
    pConversion: out.column('impressions', 'oracle:pConversion', 'F32'),
    expectedRevenue: out.column('impressions', 'oracle:expectedRevenue', 'F32'),
  };
  const it = {
    user: out.column('interactions', 'user', 'I32'),
    item: out.column('interactions', 'item', 'I32'),
    ts: out.column('interactions', 'ts', 'F64'),
    weight: out.column('interactions', 'weight', 'F32'),
    positive: out.column('interactions', 'positive', 'U8'),
    split: out.column('interactions', 'split', 'U8'),
  };

  // Impressions per user: the activity share of the total, rounded so that they add up exactly.
  let activityTotal = 0;
  for (let u = 0; u < U; u++) activityTotal += world.userActivity[u];
  const span = world.params.span;
  const cutoffs = {
    validFrom: WORLD_START + span * (1 - opts.validFraction - opts.testFraction),
    testFrom: WORLD_START + span * (1 - opts.testFraction),
  };
  const ranking: RankingSplitSummary = { method: 'time', ...cutoffs, train: 0, valid: 0, test: 0 };
  const retrieval = new RetrievalSplitCounter(opts.minPositives);

  // Items by category, for the interest slots of the logging policy.
  const byCategory: number[][] = Array.from({ length: K }, () => []);
  for (let i = 0; i < N; i++) byCategory[truth.itemCategory[i]].push(i);
  const nonEmpty = byCategory.map((c) => c.length > 0);
  const popularDraw = aliasTable(truth.itemExposure);

  const eventsRng = createRng(config.seed).fork('events');
  const fmStrength = config.fmStrength ?? DEFAULT_FM_STRENGTH;
  const fm =
    config.clicks === 'fm' ? fmClicks(config.seed, [U, AGE_GROUPS.length, N, K, 24, DEVICES.length], fmStrength) : null;
  const fields: FmFields = [0, 0, 0, 0, 0, 0];
  const interest = new Float32Array(D);
  const categoryWeight = new Float64Array(K);
  // One user's clicks, buffered to apply leave-last-out before writing.
  let clickItem = new Int32Array(1024);
  let clickTs = new Float64Array(1024);
  let clickWeight = new Float32Array(1024);
  let sessionTimes = new Float64Array(64);
  const slate = new Int32Array(SLATE);
  let clicks = 0;
  let conversions = 0;
  let revenueTotal = 0;
  let written = 0;
  let cumulative = 0;
  let assigned = 0;
  const bar = stage(opts, 'synthetic', config.events);

  for (let u = 0; u < U; u++) {
    cumulative += world.userActivity[u];
    const target = Math.round((cumulative / activityTotal) * config.events);
    const count = target - assigned;
    assigned = target;
    if (count === 0) continue;
    const rng = eventsRng.fork(`u${u}`);
    const sessions = Math.ceil(count / SLATE);
    if (sessions > sessionTimes.length) sessionTimes = new Float64Array(sessions * 2);
    for (let s = 0; s < sessions; s++) {
      const hour = ((Math.round(world.userPeakHour[u] + 2.5 * rng.normal()) % 24) + 24) % 24;
      sessionTimes[s] = WORLD_START + rng.int(config.days) * 86_400 + hour * 3600 + rng.int(3600 - SLATE * 30);
    }
    const times = sessionTimes.subarray(0, sessions).sort();
    // Sessions do not overlap: a slate takes SLATE · 30 s.
    for (let s = 1; s < sessions; s++) times[s] = Math.max(times[s], times[s - 1] + SLATE * 30);
    let userClicks = 0;
    let left = count;
    for (let s = 0; s < sessions; s++) {
      const t0 = times[s];
      const hour = Math.floor((t0 - WORLD_START) / 3600) % 24;
      const device = rng.next() < 0.8 ? world.userDevice[u] : rng.int(3);
      interestAt(truth, u, t0, interest);
      // Interest slots draw a category by softmax(temperature · interest · centre), then an item in it.
      let wsum = 0;
      for (let k = 0; k < K; k++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += interest[d] * world.categoryCentre[k * D + d];
        categoryWeight[k] = nonEmpty[k] ? Math.exp(POLICY_TEMPERATURE * dot) : 0;
        wsum += categoryWeight[k];
      }
      const n = Math.min(SLATE, left);
      left -= n;
      for (let j = 0; j < n; j++) {
        let item: number;
        const r = rng.next();
        if (r < POLICY_INTEREST) {
          let x = rng.next() * wsum;
          let k = 0;
          while (k < K - 1 && (x -= categoryWeight[k]) > 0) k++;
          if (!nonEmpty[k]) k = truth.itemCategory[rng.int(N)];
          const members = byCategory[k];
          item = members[rng.int(members.length)];
        } else if (r < POLICY_INTEREST + POLICY_POPULAR) item = popularDraw(rng);
        else item = rng.int(N);
        slate[j] = item;
        const ts = t0 + j * 30;
        let logit: number;
        if (fm) {
          fields[0] = u;
          fields[1] = world.userAgeGroup[u];
          fields[2] = item;
          fields[3] = truth.itemCategory[item];
          fields[4] = hour;
          fields[5] = device;
          logit = fm.logit(fields);
        } else logit = clickLogitFor(truth, interest, item, hour, device);
        const pClick = sigmoid(logit);
        const pConversion = conversionFor(truth, interest, item);
        const click = rng.next() < pClick ? 1 : 0;
        const conversion = click && rng.next() < pConversion ? 1 : 0;
        const revenue = conversion ? Math.round(truth.itemPrice[item] * (0.8 + 0.4 * rng.next()) * 100) / 100 : 0;
        const split = timeSplitOf(ts, cutoffs);
        if (split === SPLIT_TRAIN) ranking.train++;
        else if (split === 1) ranking.valid++;
        else ranking.test++;
        im.user.push(u);
        im.item.push(item);
        im.ts.push(ts);
        im.split.push(split);
        im.hour.push(FIRST_INDEX + hour);
        im.device.push(FIRST_INDEX + device);
        im.click.push(click);
        im.conversion.push(conversion);
        im.revenue.push(revenue);
        im.pClick.push(pClick);
        im.pConversion.push(pConversion);
        im.expectedRevenue.push(pClick * pConversion * truth.itemPrice[item]);
        if (click) {
          if (userClicks === clickItem.length) {
            clickItem = grow(clickItem);
            clickTs = grow(clickTs);
            clickWeight = grow(clickWeight);
          }
          clickItem[userClicks] = item;
          clickTs[userClicks] = ts;
          clickWeight[userClicks] = 1 + conversion;
          userClicks++;
          clicks++;
          conversions += conversion;
          revenueTotal += revenue;
        }
        written++;
      }
      if ((s & 63) === 0) bar.update(written, { clicks });
    }
    // Every click is a positive; leave-last-out over this user's clicks.
    const positive = new Uint8Array(userClicks).fill(1);
    const split = new Uint8Array(userClicks);
    retrieval.user(positive, 0, userClicks, split);
    for (let c = 0; c < userClicks; c++) {
      it.user.push(u);
      it.item.push(clickItem[c]);
      it.ts.push(clickTs[c]);
      it.weight.push(clickWeight[c]);
      it.positive.push(1);
      it.split.push(split[c]);
    }
  }
  bar.finish({ clicks });

  const stat = (positives: number) => ({
    kind: 'binary' as const,
    count: written,
    missing: 0,
    positives,
    rate: written ? positives / written : 0,
  });
  const labels = {
    click: stat(clicks),
    conversion: stat(conversions),
    revenue: { kind: 'regression' as const, count: written, missing: 0, mean: written ? revenueTotal / written : 0 },
  };
  const statistics = {
    ...fitted.statistics,
    'label:click': labels.click,
    'label:conversion': labels.conversion,
    'label:revenue': labels.revenue,
  };
  return out.finish(
    {
      source: 'synthetic',
      name: opts.name ?? 'synthetic',
      createdAt: new Date().toISOString(),
      options: {
        ...config,
        clicks: config.clicks ?? 'latent',
        ...(fm ? { fmStrength } : {}),
        slate: SLATE,
        validFraction: opts.validFraction,
        testFraction: opts.testFraction,
        minPositives: opts.minPositives,
      },
      inputs: [],
      counts: { users: U, items: N, interactions: clicks, positives: clicks, impressions: written },
      timeRange: { min: WORLD_START, max: WORLD_START + span },
      splits: { retrieval: retrieval.summary, ranking },
      labels,
      badRows: { count: 0, samples: [] },
      oracle: {
        ...world.params,
        clicks: fm ? 'fm' : 'latent',
        formula: fm
          ? 'clicks: a factorization machine, packages/trainer/src/ingest/fm-clicks.ts ' +
            '(oracle:pClick per impression); ' +
            'conversions: packages/trainer/src/ingest/oracle.ts'
          : 'see packages/trainer/src/ingest/oracle.ts',
        columns: {
          users: ['oracle:latent (U, D)', 'oracle:drift (U, D)'],
          items: [
            'oracle:latent (N, D)',
            'oracle:bias (N)',
            'oracle:category (N)',
            'oracle:price (N)',
            'oracle:exposure (N)',
          ],
          impressions: ['oracle:pClick (R)', 'oracle:pConversion (R)', 'oracle:expectedRevenue (R)'],
        },
      },
      elapsedSeconds: (performance.now() - started) / 1000,
    },
    fitted.spec,
    vocab,
    statistics,
  );
}
