// Initial weights, from a seed: PyTorch's nn.Linear bounds for weights (U(±1/√fan_in)), zero
// biases, layer norms' gamma 1 and beta 0, a zero pooling query (the pooling starts as the mean of
// the history), and table rows drawn from N(0, σ²). Warm starts (--init-from) copy a previous
// bundle's rows by vocabulary value.
import { FIRST_INDEX, createRng, type Tensor, type Vocabularies } from '@vireo/core';
import { arraysToTensors, tableFields } from './towers.ts';
import { retrievalParamLayout, type RetrievalConfig, type RetrievalField } from './retrieval.ts';

/** The σ of table rows at initialisation. */
export const TABLE_INIT_STD = 0.1;

/** Fresh weights for `config` from `seed`: params in layout order and the table (R, W). */
export function initialWeights(config: RetrievalConfig, seed: number): { params: Float32Array; table: Float32Array } {
  const layout = retrievalParamLayout(config);
  const params = new Float32Array(layout.length);
  for (const e of layout.entries) {
    if (e.name.endsWith('.gamma')) params.fill(1, e.offset, e.offset + e.size); // layer norms start as the identity
    if (!e.name.endsWith('.weight')) continue; // biases, betas and the pooling query start at 0
    const rng = createRng(seed).fork(`init:${e.name}`);
    const bound = 1 / Math.sqrt(e.shape[1]);
    for (let i = 0; i < e.size; i++) params[e.offset + i] = (2 * rng.next() - 1) * bound;
  }
  const W = config.fieldDim;
  const table = new Float32Array(config.tableRows * W);
  for (const f of tableFields(config)) {
    const rng = createRng(seed).fork(`init:embeddings.${f.name}`);
    for (let i = f.offset * W; i < (f.offset + f.rows) * W; i++) table[i] = TABLE_INIT_STD * rng.normal();
  }
  return { params, table };
}

/** What a warm start kept from the previous bundle. */
export interface WarmStartReport {
  /** Dense tensors copied. */
  dense: number;
  /** Table rows copied (matched by vocabulary value, or by position for fields without one). */
  rowsCopied: number;
  /** Table rows new since the previous bundle (fresh initialisation). */
  rowsNew: number;
}

/**
 * Overwrites `weights` (fresh, for the new config) with what `previous` (a bundle's tensors, its
 * config and vocabularies) has for the same rows: dense tensors of equal shape, and table rows
 * whose vocabulary value exists in both (items new since then keep their fresh rows).
 * Throws when a dense tensor changed shape (the architecture differs).
 */
export function warmStart(
  config: RetrievalConfig,
  vocabularies: Vocabularies,
  weights: { params: Float32Array; table: Float32Array },
  previous: { config: RetrievalConfig; vocabularies: Vocabularies; tensors: ReadonlyMap<string, Tensor> },
): WarmStartReport {
  const layout = retrievalParamLayout(config);
  const report: WarmStartReport = { dense: 0, rowsCopied: 0, rowsNew: 0 };
  for (const e of layout.entries) {
    const t = previous.tensors.get(e.name);
    if (!t || t.shape.join(',') !== e.shape.join(',')) {
      throw new Error(
        `--init-from: the previous bundle's ${e.name} is ${t ? `[${t.shape}]` : 'missing'}, this model's is ` +
          `[${e.shape}]: train with the same --dim, --field-dim, --hidden, --heads, --blocks, --ffn-hidden and ` +
          `features (--no-last-item for a bundle without the last-item input), or without --init-from.`,
      );
    }
    weights.params.set(t.data as Float32Array, e.offset);
    report.dense++;
  }
  const W = config.fieldDim;
  const oldFields = new Map<string, RetrievalField>(tableFields(previous.config).map((f) => [f.name, f]));
  for (const f of tableFields(config)) {
    const old = oldFields.get(f.name);
    const t = previous.tensors.get(`embeddings.${f.name}`);
    if (!old || !t || t.shape[1] !== W) {
      report.rowsNew += f.rows;
      continue;
    }
    const data = t.data as Float32Array;
    const copy = (to: number, from: number) => {
      weights.table.set(data.subarray(from * W, (from + 1) * W), (f.offset + to) * W);
      report.rowsCopied++;
    };
    const newVocab = f.vocabulary ? vocabularies[f.vocabulary] : undefined;
    const oldVocab = old.vocabulary ? previous.vocabularies[old.vocabulary] : undefined;
    if (f.kind !== 'numeric' && newVocab && oldVocab) {
      const oldIndex = new Map(oldVocab.map((v, j) => [v, j + FIRST_INDEX]));
      for (let j = 0; j < Math.min(FIRST_INDEX, old.rows); j++) copy(j, j); // PAD, OOV
      for (let j = FIRST_INDEX; j < f.rows; j++) {
        const from = oldIndex.get(newVocab[j - FIRST_INDEX]);
        if (from !== undefined && from < old.rows) copy(j, from);
        else report.rowsNew++;
      }
    } else if (f.kind === 'numeric' && f.features && old.features) {
      f.features.forEach((name, j) => {
        const from = old.features!.indexOf(name);
        if (from >= 0) copy(j, from);
        else report.rowsNew++;
      });
    } else {
      const n = Math.min(f.rows, old.rows);
      for (let j = 0; j < n; j++) copy(j, j);
      report.rowsNew += f.rows - n;
    }
  }
  return report;
}

/** The named tensors of flat weights (for checkpoints and bundles). */
export function weightTensors(
  config: RetrievalConfig,
  w: { params: Float32Array; table: Float32Array },
): Map<string, Tensor> {
  return arraysToTensors(config, w.params, w.table);
}
