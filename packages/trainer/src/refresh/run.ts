// One refresh (docs/ARCHITECTURE.md, section 4, "Refresh"): pull the edge's new events → grow the
// dataset → warm-start both models from the promoted bundle (the champion) and train them (the
// challenger) → evaluate both on the held-out window with `vireo eval`'s metrics → write a
// complete bundle with its lineage → publish it, and promote it only when it is not worse than
// the champion by more than the margin on retrieval Recall@10 and on ranking CTR AUC.
// Before that, items pushed to the edge that the promoted bundle lacks get an items-only update
// (refresh/items.ts): embedded by the promoted item tower, published and promoted in seconds,
// whether or not enough events came for a retrain, which then starts from it.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  parseBundleManifest,
  sha256Hex,
  type BundleLineage,
  type BundleManifest,
  type RankingArchitecture,
} from '@vireo/core';
import type { Gpu } from '@vireo/kernels';
import { ItemTower, RetrievalWeights, type RankingConfig } from '@vireo/models';
import {
  itemEmbeddings,
  itemsFile,
  loadRankingBundle,
  rankingOnnx,
  readBundle,
  retrievalFile,
  weightTensors,
  writeBundle,
  writeRankingBundle,
} from '@vireo/models/training';
import { UsageError } from '../cli/args.ts';
import { evaluateRetrieval, type RetrievalReport } from '../eval/retrieval-report.ts';
import { SPLIT_TRAIN } from '../ingest/index.ts';
import { checkDatasetFolder, type Dataset } from '../ingest/dataset.ts';
import { rankingData, rankingSplits } from '../ranking/data.ts';
import { calibrateHeads } from '../ranking/calibrate.ts';
import { evaluateRanking, type RankingReport } from '../ranking/evaluate.ts';
import {
  DEFAULT_CVR_WEIGHT,
  DEFAULT_SELECTION,
  fitRanking,
  initialWeights as rankingInitialWeights,
  labelPriors,
} from '../ranking/fit.ts';
import { rankingConfigFor } from '../ranking/index.ts';
import { embedItems } from '../retrieval/embed.ts';
import { shapeOf } from '../retrieval/features.ts';
import { retrievalData, trainRetrievalModel, type RetrievalData } from '../retrieval/train.ts';
import { appendEvents, type AppendSummary } from './dataset.ts';
import { itemsOnlyBundle, newItems, pullItems, readItemFeed, type ItemPull } from './items.ts';
import { pullEvents, readEventLog, type PullResult } from './pull.ts';
import { carryRetrieval, warmStartRanking } from './warm.ts';

export interface RefreshOptions {
  edge: string;
  token: string;
  /** The state folder: events.ndjson, the grown dataset, the champion's files, the bundles made. */
  state: string;
  /** The base dataset (what the first version was trained on). */
  data: string;
  model: string;
  /** Largest drop of Recall@10 and of CTR AUC that still promotes (absolute). */
  margin: number;
  /** Share of the pulled events (the latest, by time) held out as the comparison window. */
  holdout: number;
  epochs: number;
  rankingEpochs: number;
  seed: number;
  /** Fewest new events that start a refresh. */
  minEvents: number;
  /** Train the challenger on shuffled labels (checks that the gate refuses a worse model). */
  shuffleLabels: boolean;
  pageSize: number;
  /** No progress lines for the retrieval epochs (they take minutes on a CPU; piped, a line every 5 s with an ETA). */
  quiet?: boolean;
  fetch?: typeof fetch;
}

/** The numbers a decision compares. */
export interface Scores {
  'retrieval.recall@10': number;
  'retrieval.ndcg@10': number;
  'ranking.auc': number;
  'ranking.logLoss': number;
}

/** What a refresh did: `vireo refresh --json` prints it. */
export interface RefreshResult {
  champion: string | null;
  challenger: string | null;
  promoted: boolean;
  reason: string;
  metrics: { champion: Scores | null; challenger: Scores | null; margin: number; window: number } | null;
  events: { after: string; through: string; pulled: number; total: number; newUsers: number; newItems: number };
  /** The items-only update of this refresh: items pulled, those added to the catalogue, the version, its time. */
  items: {
    after: string;
    through: string;
    pulled: number;
    added: string[];
    version: string | null;
    parent: string | null;
    seconds: number;
    skipped: string | null;
  };
  seconds: number;
}

const scoresOf = (r: RetrievalReport, k: RankingReport): Scores => ({
  'retrieval.recall@10': r.metrics.model['recall@10'],
  'retrieval.ndcg@10': r.metrics.model['ndcg@10'],
  'ranking.auc': k.model.ctr.auc,
  'ranking.logLoss': k.model.ctr.logLoss,
});

/**
 * The decision: promote unless the challenger is worse by more than `margin` on a compared metric. A metric the
 * held-out events cannot measure (NaN: e.g. a ranking AUC over a window whose labels are all of one kind) is not
 * compared, and says so; when none can be measured the champion stays, since nothing shows the challenger is not
 * worse.
 */
export function decide(
  champion: Scores,
  challenger: Scores,
  margin: number,
  errors?: { champion: Partial<Scores>; challenger: Partial<Scores> },
): { promote: boolean; reason: string } {
  const keys = ['retrieval.recall@10', 'ranking.auc'] as const;
  // Two standard errors of a difference (the models' errors taken as independent: an upper bound for two models
  // scored on the same events), when both are known.
  const noise = (k: (typeof keys)[number]) => {
    const a = errors?.champion[k];
    const b = errors?.challenger[k];
    return a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b)
      ? 2 * Math.sqrt(a * a + b * b)
      : null;
  };
  const measured = keys.filter((k) => Number.isFinite(champion[k]) && Number.isFinite(challenger[k]));
  const unmeasured = keys.filter((k) => !measured.includes(k));
  const skipped =
    unmeasured.length > 0
      ? `; ${unmeasured.join(' and ')} not compared (the held-out events cannot measure ${
          unmeasured.length > 1 ? 'them' : 'it'
        }: too few, or labels all of one kind)`
      : '';
  if (measured.length === 0)
    return {
      promote: false,
      reason:
        `not promoted: neither ${keys.join(' nor ')} can be measured on the held-out events (too few, or labels ` +
        'all of one kind), so nothing shows the challenger is not worse; the champion stays',
    };
  const worse = measured.filter((k) => challenger[k] < champion[k] - margin);
  const show = (k: (typeof keys)[number]) =>
    `${k} ${challenger[k].toFixed(4)} vs ${champion[k].toFixed(4)} (${challenger[k] - champion[k] >= 0 ? '+' : ''}` +
    `${(challenger[k] - champion[k]).toFixed(4)}${noise(k) === null ? '' : ` ± ${noise(k)!.toFixed(4)}`})`;
  // A window too small to tell a difference of the margin from chance: said, so that the decision is read as such.
  const coarse = measured.filter((k) => (noise(k) ?? 0) > margin);
  const caveat =
    coarse.length > 0
      ? `; the window measures ${coarse.join(' and ')} only to ± ` +
        `${coarse.map((k) => noise(k)!.toFixed(4)).join(' and ')} (2 standard errors), more than the margin: ` +
        'the difference may be chance (more events: --min-events)'
      : '';
  if (worse.length > 0)
    return {
      promote: false,
      reason:
        `not promoted: ${worse.map(show).join(', ')} — worse than the champion by more than the margin ${margin}` +
        skipped +
        caveat,
    };
  return {
    promote: true,
    reason: `promoted: ${measured.map(show).join(', ')}, within the margin ${margin}${skipped}${caveat}`,
  };
}

/**
 * The standard errors of the compared metrics: Recall@10's binomial one over the held-out users (about: a user may
 * hold out more than one item), AUC's bootstrap one from the report.
 */
const errorsOf = (r: RetrievalReport, k: RankingReport): Partial<Scores> => {
  const recall = r.metrics.model['recall@10'];
  return {
    'retrieval.recall@10': r.users > 0 ? Math.sqrt((recall * (1 - recall)) / r.users) : Number.NaN,
    'ranking.auc': k.model.ctr.se.auc,
  };
};

/** A tiny registry client: JSON, files, uploads; every failure is one sentence. */
function registry(o: Pick<RefreshOptions, 'edge' | 'token' | 'fetch'>) {
  const f = o.fetch ?? fetch;
  const call = async (path: string, init: RequestInit = {}, ok = [200]) => {
    let res: Response;
    try {
      res = await f(`${o.edge}${path}`, { ...init, headers: { authorization: `Bearer ${o.token}`, ...init.headers } });
    } catch (err) {
      throw new UsageError(`cannot reach the edge at ${o.edge} (${(err as Error).message}): is it running?`, 1);
    }
    if (!ok.includes(res.status)) {
      const text = await res.text();
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {}
      throw new UsageError(`the edge answered ${res.status} to ${init.method ?? 'GET'} ${path}: ${message}`, 1);
    }
    return res;
  };
  return { call };
}

/** The sentence for a model the edge has no promoted version of. */
const noPromotedVersion = (o: RefreshOptions) =>
  `model '${o.model}' has no promoted version on ${o.edge}: publish and promote a first one (vireo publish).`;

/**
 * What a refresh can check before it pulls the edge's events into the state folder: --data is a dataset folder,
 * and the model has a promoted version on the edge (one GET). Before, either mistake was reported only after the
 * pull.
 * @example await checkBeforePull(options); // throws a UsageError naming the mistake
 */
export async function checkBeforePull(o: RefreshOptions): Promise<void> {
  checkDatasetFolder(o.data);
  const res = await registry(o).call(`/v1/models/${o.model}/latest`, {}, [200, 404]);
  await res.body?.cancel();
  if (res.status === 404) throw new UsageError(noPromotedVersion(o));
}

/** Downloads the promoted version into STATE/models/<version> (files checked against the manifest). */
async function fetchChampion(o: RefreshOptions): Promise<{ dir: string; manifest: BundleManifest }> {
  const { call } = registry(o);
  const res = await call(`/v1/models/${o.model}/latest`, {}, [200, 404]);
  if (res.status === 404) throw new UsageError(noPromotedVersion(o));
  const manifest = parseBundleManifest(await res.text());
  const dir = join(o.state, 'models', manifest.version);
  mkdirSync(dir, { recursive: true });
  for (const file of manifest.files) {
    const path = join(dir, file.name);
    if (existsSync(path) && (await sha256Hex(readFileSync(path))) === file.sha256) continue;
    const bytes = new Uint8Array(
      await (await call(`/v1/models/${o.model}/${manifest.version}/${file.name}`)).arrayBuffer(),
    );
    if ((await sha256Hex(bytes)) !== file.sha256)
      throw new UsageError(`${file.name} of ${o.model}@${manifest.version} does not match its manifest's sha256.`, 1);
    writeFileSync(path, bytes);
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return { dir, manifest };
}

/**
 * The next version: one more than the largest numeric version of the model, deleted ones included (the edge refuses
 * a deleted version again: `highestDeleted`), else a time stamp.
 */
export async function nextVersion(o: Pick<RefreshOptions, 'edge' | 'token' | 'model' | 'fetch'>): Promise<string> {
  // Every page of the listing (an edge without paging answers every version and no `next`).
  const numbers: number[] = [];
  for (let after: string | null | undefined = '0'; after; ) {
    const res = await registry(o).call(`/v1/models/${o.model}?limit=1000&after=${after}`);
    const page = (await res.json()) as {
      versions: Array<{ version: string } | string>;
      next?: string | null;
      highestDeleted?: string | null;
    };
    const deleted = Number(page.highestDeleted ?? Number.NaN);
    if (Number.isSafeInteger(deleted)) numbers.push(deleted);
    for (const v of page.versions) {
      const n = Number(typeof v === 'string' ? v : v.version);
      if (Number.isSafeInteger(n)) numbers.push(n);
    }
    after = page.next;
  }
  if (numbers.length > 0) return String(numbers.reduce((a, b) => Math.max(a, b)) + 1);
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '.').slice(0, 15);
}

/** Uploads a bundle folder (manifest first, then the files the edge lacks) and promotes it if asked. */
async function publishBundle(o: RefreshOptions, dir: string, promote: boolean): Promise<void> {
  const { call } = registry(o);
  const manifestBytes = readFileSync(join(dir, 'manifest.json'));
  const manifest = parseBundleManifest(manifestBytes.toString('utf8'));
  const at = `/v1/models/${manifest.name}/${manifest.version}`;
  const created = await call(
    `${at}/manifest.json`,
    { method: 'PUT', headers: { 'content-type': 'application/json' }, body: manifestBytes },
    [200, 201],
  );
  const { missing } = (await created.json()) as { missing: string[] };
  for (const name of missing)
    await call(
      `${at}/${name}`,
      { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: readFileSync(join(dir, name)) },
      [200, 201],
    );
  if (promote) await call(`${at}/promote`, { method: 'POST' });
}

/** Permutes the train rows' retrieval items and ranking labels (the --shuffle-labels check). */
function shuffleTrainLabels(ds: Dataset, seed: number): void {
  let state = seed * 2654435761 + 1;
  const next = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const permute = (rows: number[], swap: (a: number, b: number) => void) => {
    for (let i = rows.length - 1; i > 0; i--) swap(rows[i], rows[Math.floor(next() * (i + 1))]);
  };
  const it = ds.interactions!;
  const train = [...it.split.keys()].filter((e) => it.split[e] === SPLIT_TRAIN);
  permute(train, (a, b) => ([it.item[a], it.item[b]] = [it.item[b], it.item[a]]));
  const im = ds.impressions!;
  const rows = [...im.split.keys()].filter((r) => im.split[r] === SPLIT_TRAIN);
  for (const labels of im.labels.values())
    permute([...rows], (a, b) => ([labels[a], labels[b]] = [labels[b], labels[a]]));
}

/** The champion's retrieval model carried onto the grown catalogue, evaluated on the window. */
async function evaluateChampionRetrieval(
  gpu: Gpu,
  data: RetrievalData,
  parent: Awaited<ReturnType<typeof readBundle>>,
): Promise<RetrievalReport> {
  const previous = { config: parent.config, vocabularies: parent.manifest.vocabularies, tensors: parent.weights };
  const { weights } = carryRetrieval(data.config, data.ds.vocabularies, previous, 'oov');
  const gpuWeights = RetrievalWeights.fromTensors(gpu, data.config, weightTensors(data.config, weights));
  const tower = await ItemTower.create(gpu, gpuWeights, { maxBatch: 64 });
  try {
    const N = data.ds.items!.rows;
    const items = itemEmbeddings(await embedItems(gpu, tower, data.reader, N), N, data.config.embeddingDim);
    return await evaluateRetrieval(gpu, data, gpuWeights, items, 'test', { lastItemSoftmax: false });
  } finally {
    tower.destroy();
    gpuWeights.destroy();
  }
}

/**
 * The items-only update: the pushed items `champion` lacks, embedded by its item tower, as a
 * complete bundle with lineage decision 'items-only', published and promoted. Null when none is new.
 */
async function updateItems(
  gpu: Gpu,
  o: RefreshOptions,
  champion: { dir: string; manifest: BundleManifest },
  pulled: ItemPull,
  log: (line: string) => void,
): Promise<{ dir: string; manifest: BundleManifest; added: string[]; seconds: number } | null> {
  const fresh = newItems(readItemFeed(o.state), champion.manifest);
  if (fresh.length === 0) return null;
  const t0 = performance.now();
  const version = await nextVersion(o);
  const out = resolve(o.state, 'bundles', version);
  rmSync(out, { recursive: true, force: true });
  const made = await itemsOnlyBundle(gpu, champion.dir, fresh, out, version);
  const seconds = (performance.now() - t0) / 1000;
  const reason =
    `items-only: ${made.added.length} new items embedded by the item tower of ${champion.manifest.version} ` +
    `(catalogue ${made.before} → ${made.after}) in ${seconds.toFixed(2)} s, without retraining`;
  const lineage: BundleLineage = {
    parent: champion.manifest.version,
    items: {
      after: pulled.after,
      through: pulled.through,
      count: made.added.length,
      ids: made.added.slice(0, 100),
    },
    parentMetrics: champion.manifest.metrics,
    decision: { kind: 'items-only', promote: true, reason, seconds },
  };
  const manifest = parseBundleManifest({ ...made.manifest, lineage });
  writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await publishBundle(o, out, true);
  log(`${o.model}@${version} (parent ${champion.manifest.version}): ${reason}`);
  return { dir: out, manifest, added: made.added, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Runs one refresh against the edge; returns what it decided (and logs each step with its numbers).
 * @example const r = await refreshOnce(gpu, options, (line) => console.error(line));
 */
/**
 * How many of the pulled events no published retrain has trained on: those after STATE/trained.json's
 * `through`, else (before the first retrain of this state) those of this pull.
 */
export function pendingEvents(state: string, events: Array<{ seq: number }>, pulled: PullResult): number {
  const through = readTrainedThrough(state) ?? Number(pulled.after);
  return Number.isFinite(through) ? events.filter((e) => e.seq > through).length : pulled.count;
}

/** The last event seq a published retrain was trained on (STATE/trained.json), or null before the first. */
function readTrainedThrough(state: string): number | null {
  try {
    const through = JSON.parse(readFileSync(join(state, 'trained.json'), 'utf8')).through;
    return Number.isSafeInteger(through) ? through : null;
  } catch {
    return null;
  }
}

/** Records that a retrain trained on the events through `through` was published. */
export function writeTrainedThrough(state: string, through: number): void {
  if (!Number.isSafeInteger(through)) return;
  const path = join(state, 'trained.json');
  writeFileSync(`${path}.tmp`, `${JSON.stringify({ through })}\n`);
  renameSync(`${path}.tmp`, path);
}

export async function refreshOnce(gpu: Gpu, o: RefreshOptions, log: (line: string) => void): Promise<RefreshResult> {
  const t0 = performance.now();
  mkdirSync(o.state, { recursive: true });
  const pulled: PullResult = await pullEvents({
    edge: o.edge,
    token: o.token,
    stateDir: o.state,
    pageSize: o.pageSize,
    fetch: o.fetch,
  });
  const { events } = readEventLog(o.state);
  log(`pulled ${pulled.count} new events (cursor ${pulled.after} → ${pulled.through}); ${events.length} in all`);
  const itemPull = await pullItems({ edge: o.edge, token: o.token, stateDir: o.state, fetch: o.fetch });
  log(
    itemPull.refused
      ? `items: ${itemPull.refused}`
      : `pulled ${itemPull.count} pushed items (cursor ${itemPull.after} → ${itemPull.through})`,
  );
  let champion = await fetchChampion(o);
  const parentOfItems = champion.manifest.version;
  const updated = await updateItems(gpu, o, champion, itemPull, log);
  if (updated) champion = updated;
  const itemsOut = {
    after: itemPull.after,
    through: itemPull.through,
    pulled: itemPull.count,
    added: updated?.added ?? [],
    version: updated?.manifest.version ?? null,
    parent: updated ? parentOfItems : null,
    seconds: updated?.seconds ?? 0,
    skipped: itemPull.refused,
  };
  const seconds = () => (performance.now() - t0) / 1000;
  const eventsOut = (s: AppendSummary | null) => ({
    after: pulled.after,
    through: pulled.through,
    pulled: pulled.count,
    total: events.length,
    newUsers: s?.newUsers ?? 0,
    newItems: s?.newItems ?? 0,
  });
  // No retrain this time: the result is the items-only update when there was one.
  // The reason is the command's summary line (stdout); logged here too, a log file held it twice.
  const noRetrain = (reason: string, summary: AppendSummary | null): RefreshResult => {
    const decision = updated?.manifest.lineage?.decision as { reason: string } | undefined;
    return {
      champion: updated ? parentOfItems : champion.manifest.version,
      challenger: updated ? updated.manifest.version : null,
      promoted: Boolean(updated),
      reason: decision ? `${decision.reason}; ${reason}` : reason,
      metrics: null,
      events: eventsOut(summary),
      items: itemsOut,
      seconds: seconds(),
    };
  };
  // The events no published retrain has trained on yet: those pulled now, and those a failed run pulled and
  // never published (the edge down at publish, the process killed while training). Counting only this run's pull
  // left such a run's events waiting for new traffic ("no retrain: 0 new events").
  const pending = pendingEvents(o.state, events, pulled);
  if (pending < o.minEvents) {
    const what = pending === pulled.count ? `${pending} new events` : `${pending} events not trained on yet`;
    return noRetrain(`no retrain: ${what}, fewer than ${o.minEvents}`, null);
  }
  if (pending > pulled.count)
    log(`retraining on ${pending - pulled.count} events an earlier run pulled and never published`);

  // The grown dataset: base + every event pulled so far, the latest `holdout` of them held out.
  const pushed = new Map(Object.values(readItemFeed(o.state).items).map((i) => [i.id, i.features]));
  const { ds, summary } = appendEvents(o.data, events, join(o.state, 'dataset'), o.holdout, pushed);
  log(
    `dataset: +${summary.events} events (${summary.alreadyInBase} already in the base left out; ` +
      `${summary.positives} positives, ${summary.newUsers} new users, ` +
      `${summary.newItems} new items); window: the latest ${summary.windowEvents} events`,
  );
  if (summary.events === 0)
    return noRetrain(`no retrain: the ${events.length} events pulled are all in the base dataset already`, summary);
  if (o.shuffleLabels) shuffleTrainLabels(ds, o.seed);

  const version = await nextVersion(o);
  const out = resolve(o.state, 'bundles', version);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });

  // Retrieval: warm start from the champion (its shape), train, embed, evaluate; the champion beside it.
  const parent = await readBundle(champion.dir, 'the promoted bundle');
  const c = parent.config;
  const trainOptions = {
    data: ds.dir,
    out,
    epochs: o.epochs,
    batch: 64,
    shape: shapeOf(c),
    hyper: { lr: 0.002, tableLr: 0.05, weightDecay: 0 },
    seed: o.seed,
    userIdDropout: 0.5,
    resume: false,
    initFrom: champion.dir,
    quiet: o.quiet ?? true,
  };
  const run = await trainRetrievalModel(gpu, trainOptions, log, ds);
  let retrieval: { challenger: RetrievalReport; champion: RetrievalReport };
  try {
    const data = run.data;
    const N = ds.items!.rows;
    const items = itemEmbeddings(await embedItems(gpu, run.training.item, data.reader, N), N, c.embeddingDim);
    retrieval = {
      challenger: await evaluateRetrieval(gpu, data, run.training.weights, items, 'test', { lastItemSoftmax: false }),
      champion: await evaluateChampionRetrieval(gpu, retrievalData(ds, trainOptions.shape), parent),
    };
    await writeBundle(
      out,
      {
        name: o.model,
        version,
        config: data.config,
        ds,
        metrics: { retrieval: retrieval.challenger },
        training: { epochs: run.epochs, seed: o.seed, warmStart: run.warmStart },
      },
      retrievalFile(data.config, await run.training.weights.toTensors()),
      itemsFile(ds, items, c.embeddingDim),
    );
  } finally {
    run.training.destroy();
  }
  rmSync(join(out, 'checkpoint.safetensors'), { force: true });

  // Ranking: the champion's architecture on the grown tables, warm-started, trained, evaluated.
  const ranker = await loadRankingBundle(champion.dir);
  const rdata = rankingData(ds);
  for (const note of rdata.notes) log(`ranking ${note}`);
  const splits = rankingSplits(rdata, 0.1);
  const pc = ranker.config;
  const config: RankingConfig = rankingConfigFor(rdata, {
    dim: pc.embeddingDim,
    bottom: pc.bottomMlp.slice(0, -1),
    top: pc.topMlp,
    tower: pc.towerMlp,
    interaction: pc.interaction,
  });
  const previous = { ...ranker, vocabularies: champion.manifest.vocabularies };
  const init = rankingInitialWeights(config, o.seed, labelPriors(rdata, splits.train));
  const warm = warmStartRanking(config, ds.spec, ds.vocabularies, init, previous, 'fresh');
  log(`ranking warm start: ${warm.dense} dense tensors, ${warm.rowsCopied} table rows copied, ${warm.rowsNew} new`);
  const opts = {
    epochs: o.rankingEpochs,
    batch: 256,
    lr: 1e-3,
    embLr: 0.05,
    weightDecay: 0,
    revenueWeight: 0.1,
    cvrWeight: DEFAULT_CVR_WEIGHT,
    seed: o.seed,
    evalsPerEpoch: 4,
    patience: 4,
    select: DEFAULT_SELECTION,
    checkpointEvery: 0,
    lossEvery: 10,
  };
  const fit = await fitRanking(gpu, config, rdata, splits, opts, {
    checkpointDir: join(out, 'checkpoint'),
    resume: false,
    quiet: true,
    datasetId: `${ds.dir}@${ds.summary.createdAt}`,
    log,
    init,
  });
  rmSync(join(out, 'checkpoint'), { recursive: true, force: true });
  // Platt calibration of the challenger's heads on the validation rows, folded into its weights, as `vireo train
  // ranking` does (docs/ARCHITECTURE.md §4): the engine multiplies the heads, so an uncalibrated pCTR would skew
  // the blend of every user the challenger serves.
  // With the wide term where stacking it helps, as there too.
  const calibrated = await calibrateHeads(gpu, config, fit.params, fit.tables, rdata, splits.valid, {
    train: splits.train,
    seed: o.seed,
    log: (line) => log(`ranking ${line}`),
  });
  for (const [task, c] of Object.entries(calibrated.calibration))
    log(`ranking calibration ${task}: ECE ${c.before.ece.toFixed(4)} → ${c.after.ece.toFixed(4)} on ${c.rows} rows`);
  fit.params = calibrated.params;
  const served = calibrated.config;
  // The champion as it serves the grown catalogue, with its own wide term if it has one.
  const championConfig = { ...config, wide: Boolean(previous.config.wide) };
  const championTables = rankingInitialWeights(championConfig, o.seed, labelPriors(rdata, splits.train));
  warmStartRanking(championConfig, ds.spec, ds.vocabularies, championTables, previous, 'oov');
  const ranking = {
    challenger: await evaluateRanking(gpu, served, fit.params, fit.tables, rdata, splits, o.seed),
    champion: await evaluateRanking(
      gpu,
      championConfig,
      championTables.params,
      championTables.tables,
      rdata,
      splits,
      o.seed,
    ),
  };
  await writeRankingBundle(out, {
    config: served,
    params: fit.params,
    tables: fit.tables,
    onnx: rankingOnnx(served, fit.params, fit.tables),
    spec: ds.spec,
    vocabularies: ds.vocabularies,
    name: o.model,
    trainingData: { dataset: ds.summary.name, source: ds.summary.source, warmStart: warm, options: opts },
    metrics: {
      test: ranking.challenger,
      training: { bestEpoch: fit.bestEpoch, bestValidAuc: fit.bestValidAuc },
      calibration: calibrated.calibration,
    },
    items: ds.items,
  });

  // Decide, record the lineage in the manifest, publish (and promote when the gate passes).
  const scores = {
    champion: scoresOf(retrieval.champion, ranking.champion),
    challenger: scoresOf(retrieval.challenger, ranking.challenger),
  };
  const decision = decide(scores.champion, scores.challenger, o.margin, {
    champion: errorsOf(retrieval.champion, ranking.champion),
    challenger: errorsOf(retrieval.challenger, ranking.challenger),
  });
  const lineage: BundleLineage = {
    parent: champion.manifest.version,
    events: {
      after: pulled.after,
      through: pulled.through,
      count: pulled.count,
      timeRange: summary.timeRange,
    },
    parentMetrics: { retrieval: retrieval.champion, ranking: ranking.champion },
    decision: {
      kind: 'retrain',
      ...decision,
      margin: o.margin,
      champion: scores.champion,
      challenger: scores.challenger,
    },
  };
  const manifestPath = join(out, 'manifest.json');
  const manifest = parseBundleManifest(JSON.parse(readFileSync(manifestPath, 'utf8')));
  const architecture = manifest.architecture.ranking as RankingArchitecture | undefined;
  if (!architecture || !manifest.files.some((f) => f.name === 'ranking.onnx'))
    throw new Error(`refresh wrote an incomplete bundle in ${out}`);
  writeFileSync(manifestPath, `${JSON.stringify(parseBundleManifest({ ...manifest, lineage }), null, 2)}\n`);
  await publishBundle(o, out, decision.promote);
  writeTrainedThrough(o.state, Number(pulled.through));
  log(`${o.model}@${version} (parent ${champion.manifest.version}): ${decision.reason}`);
  return {
    champion: champion.manifest.version,
    challenger: version,
    promoted: decision.promote,
    reason: decision.reason,
    metrics: { ...scores, margin: o.margin, window: summary.windowEvents },
    events: eventsOut(summary),
    items: itemsOut,
    seconds: seconds(),
  };
}
