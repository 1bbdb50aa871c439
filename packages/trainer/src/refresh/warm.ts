// Carrying a promoted bundle's weights onto a grown dataset (docs/ARCHITECTURE.md, section 4,
// "Refresh"). Rows follow vocabulary values, so a value known to the parent keeps its row; what
// a new value gets depends on the use:
//   'fresh'  a warm start to train from: the new config's own initial row (`--init-from`)
//   'oov'    the parent as it would serve the grown catalogue: the OOV row, which is what the
//            parent serves for an id it never saw. Used to evaluate the champion on the new
//            window, and for the items-only update (new items embedded by the parent's item tower)
// Retrieval uses the models' own warmStart (models/src/retrieval/init.ts) and only patches the
// 'oov' rows here; the ranker's equivalent is warmStartRanking below.
import { FIRST_INDEX, OOV_INDEX, vocabularyName, type FeatureSpec, type Vocabularies } from '@vireo/core';
import {
  rankingParameters,
  tableBases,
  tableFields,
  WIDE_WEIGHT,
  wideWidth,
  type RankingConfig,
  type RetrievalConfig,
  type SparseFeatureShape,
} from '@vireo/models';
import { initialWeights, warmStart, type WarmStartReport } from '@vireo/models/training';
import { UsageError } from '../cli/args.ts';

export type NewRows = 'fresh' | 'oov';

/**
 * Row indices (≥ FIRST_INDEX) of `vocabulary` whose values `previous` has no row for: values it
 * lacks, and values past its table's `previousRows` (an items-only update lists new ids it serves
 * with the OOV row).
 */
function newRowsOf(
  values: readonly string[] | undefined,
  previous: readonly string[] | undefined,
  previousRows: number,
): number[] {
  if (!values) return [];
  const known = new Set((previous ?? []).slice(0, Math.max(0, previousRows - FIRST_INDEX)));
  const out: number[] = [];
  values.forEach((v, j) => {
    if (!known.has(v)) out.push(j + FIRST_INDEX);
  });
  return out;
}

/**
 * The parent's retrieval weights laid out for `config` (the grown dataset's): params and the table.
 * @example const w = carryRetrieval(config, ds.vocabularies, parent, 'oov');
 */
export function carryRetrieval(
  config: RetrievalConfig,
  vocabularies: Vocabularies,
  previous: Parameters<typeof warmStart>[3],
  rows: NewRows,
  seed = 1,
): { weights: { params: Float32Array; table: Float32Array }; report: WarmStartReport } {
  const weights = initialWeights(config, seed);
  let report: WarmStartReport;
  try {
    report = warmStart(config, vocabularies, weights, previous);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (rows === 'oov') {
    const W = config.fieldDim;
    const previousRows = new Map(tableFields(previous.config).map((f) => [f.name, f.rows]));
    for (const f of tableFields(config)) {
      if (!f.vocabulary || f.kind === 'numeric') continue;
      const oov = weights.table.slice((f.offset + OOV_INDEX) * W, (f.offset + OOV_INDEX + 1) * W);
      const rowsBefore = previousRows.get(f.name) ?? 0;
      for (const j of newRowsOf(vocabularies[f.vocabulary], previous.vocabularies[f.vocabulary], rowsBefore))
        if (j < f.rows) weights.table.set(oov, (f.offset + j) * W);
    }
  }
  return { weights, report };
}

/** The vocabulary a ranking table's rows follow, or null (hash buckets: rows by position). */
function tableVocabulary(f: SparseFeatureShape, spec: FeatureSpec): string | null {
  const feature = spec.features.find((x) => x.name === (f.derived?.through ?? f.name));
  if (!feature || feature.kind === 'numeric' || feature.buckets !== undefined) return null;
  return vocabularyName(feature);
}

export interface RankingWarmStartReport {
  dense: number;
  rowsCopied: number;
  rowsNew: number;
}

/**
 * The ranker's warm start: `init` (fresh weights for `config`) overwritten with the parent's dense
 * tensors (same layout required) and its table rows matched by vocabulary value.
 * @example warmStartRanking(config, spec, ds.vocabularies, init, parent, 'fresh');
 */
export function warmStartRanking(
  config: RankingConfig,
  spec: FeatureSpec,
  vocabularies: Vocabularies,
  init: { params: Float32Array; tables: Float32Array[] },
  previous: { config: RankingConfig; params: Float32Array; tables: Float32Array[]; vocabularies: Vocabularies },
  rows: NewRows,
): RankingWarmStartReport {
  const report: RankingWarmStartReport = { dense: 0, rowsCopied: 0, rowsNew: 0 };
  const old = new Map(rankingParameters(previous.config).entries.map((e) => [e.name, e]));
  for (const e of rankingParameters(config).entries) {
    if (e.name === WIDE_WEIGHT) continue; // by rows, below
    const o = old.get(e.name);
    if (!o || o.shape.join(',') !== e.shape.join(','))
      throw new UsageError(
        `the promoted ranker's ${e.name} is ${o ? `[${o.shape}]` : 'missing'} where this one's is [${e.shape}]: ` +
          'its architecture or features differ from the dataset, so it cannot be warm-started.',
      );
    init.params.set(previous.params.subarray(o.offset, o.offset + o.size), e.offset);
    report.dense++;
  }
  const D = config.embeddingDim;
  if (previous.config.embeddingDim !== D)
    throw new UsageError(`the promoted ranker's embedding width is ${previous.config.embeddingDim}, not ${D}.`);
  // The wide term (RankingConfig.wide) is a row per head of [dense weights, one weight per table row, bias]: its
  // dense weights and bias carry over as they are, its table rows as the tables' rows do.
  const wide = config.wide && previous.config.wide ? wideRows(config, previous, init.params) : null;
  config.sparseFeatures.forEach((f, t) => {
    const j = previous.config.sparseFeatures.findIndex((p) => p.name === f.name);
    const table = init.tables[t];
    if (j < 0) {
      report.rowsNew += f.rows;
      return;
    }
    const from = previous.tables[j];
    const oldRows = previous.config.sparseFeatures[j].rows;
    const copy = (to: number, src: number) => {
      table.set(from.subarray(src * D, (src + 1) * D), to * D);
      wide?.(t, j, to, src);
      report.rowsCopied++;
    };
    const vocab = tableVocabulary(f, spec);
    const values = vocab ? vocabularies[vocab] : undefined;
    const oldValues = vocab ? previous.vocabularies[vocab] : undefined;
    if (!values || !oldValues) {
      for (let r = 0; r < Math.min(f.rows, oldRows); r++) copy(r, r);
      report.rowsNew += Math.max(0, f.rows - oldRows);
      return;
    }
    const oldIndex = new Map(oldValues.map((v, k) => [v, k + FIRST_INDEX]));
    for (let r = 0; r < Math.min(FIRST_INDEX, oldRows, f.rows); r++) copy(r, r);
    for (let r = FIRST_INDEX; r < f.rows; r++) {
      const src = oldIndex.get(values[r - FIRST_INDEX]);
      if (src !== undefined && src < oldRows) copy(r, src);
      else {
        report.rowsNew++;
        if (rows === 'oov') {
          table.set(from.subarray(OOV_INDEX * D, (OOV_INDEX + 1) * D), r * D);
          wide?.(t, j, r, OOV_INDEX);
        }
      }
    }
  });
  return report;
}

/**
 * Copies the previous wide term's dense weights and biases into `params` and returns the copier of one table row
 * (feature t's row `to` from the previous feature j's row `src`), for every head.
 */
function wideRows(
  config: RankingConfig,
  previous: { config: RankingConfig; params: Float32Array },
  params: Float32Array,
): (t: number, j: number, to: number, src: number) => void {
  const entry = (c: RankingConfig) => rankingParameters(c).entries.find((e) => e.name === WIDE_WEIGHT)!;
  const [e, o] = [entry(config), entry(previous.config)];
  const [W, Wo] = [wideWidth(config), wideWidth(previous.config)];
  const Nd = config.denseFeatures.length; // equal to the previous one's: the bottom MLP's shape was checked
  const [bases, oldBases] = [tableBases(config).bases, tableBases(previous.config).bases];
  const heads = config.heads.map((h) => previous.config.heads.indexOf(h));
  heads.forEach((h, k) => {
    if (h < 0) return;
    params.set(previous.params.subarray(o.offset + h * Wo, o.offset + h * Wo + Nd), e.offset + k * W);
    params[e.offset + k * W + W - 1] = previous.params[o.offset + h * Wo + Wo - 1];
  });
  return (t, j, to, src) =>
    heads.forEach((h, k) => {
      if (h >= 0)
        params[e.offset + k * W + Nd + bases[t] + to] = previous.params[o.offset + h * Wo + Nd + oldBases[j] + src];
    });
}
