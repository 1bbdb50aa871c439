// Retrieval training defaults per dataset kind, chosen on the validation split only (docs/ARCHITECTURE.md §4,
// "Defaults per dataset kind", has the table and the numbers). `vireo train retrieval` and `vireo eval retrieval
// --seeds` read the kind from the dataset's dataset.json, so the command that reports a kind's numbers trains with
// the defaults `vireo start` ships; a flag wins.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a dataset kind trains with when the flags do not say. */
export interface RetrievalDefaults {
  epochs: number;
  batch: number;
  /** W: the width of every embedding row and of the history attention (--field-dim). */
  fieldDim: number;
  lastItem: boolean;
  /** The history's own item:id rows (--history-rows). */
  historyRows: boolean;
  causal: boolean;
  lastOutput: boolean;
  /** Weight of the next-item objective (0: off); it applies only with causal attention. */
  nextItem: number;
}

/** Every dataset kind without its own row: the flags' documented defaults. */
export const RETRIEVAL_DEFAULTS: RetrievalDefaults = {
  epochs: 3,
  batch: 128,
  fieldDim: 16,
  lastItem: false,
  historyRows: false,
  causal: false,
  lastOutput: false,
  nextItem: 0,
};

/**
 * MovieLens (ml-latest-small): causal attention, the encoder's output at the most recent event beside the pooled
 * history, and the next-item objective at weight 1, four epochs. Chosen on validation from a sweep of 21 rows × 3
 * seeds on a GPU (bench/gpu/movielens-sweep.txt; docs/ARCHITECTURE.md §4, "Defaults per dataset kind"): validation
 * NDCG@10 0.0620 / 0.0619 / 0.0669 (seeds 1–3, each ± 0.008 over users) against the earlier row's (--epochs 2)
 * 0.0565 / 0.0570 / 0.0556, every seed above; the best of the 21 rows on validation. It costs about 3.7× the earlier
 * row's training (the next-item loss, two more epochs). At one or two epochs these flags validated lower, which is
 * why a CPU-bound screen had kept them off.
 */
export const MOVIELENS_RETRIEVAL: RetrievalDefaults = {
  ...RETRIEVAL_DEFAULTS,
  epochs: 4,
  causal: true,
  lastOutput: true,
  nextItem: 1,
};

/**
 * Event logs (sources sequential, csv, jsonl, parquet): implicit feedback whose order may carry what comes next, with
 * item ids as the only item feature. The flags' defaults learn little there (issue #17). Validation, a sequential
 * world of 800 users, 1,000 items, 20–60 events, successor strength 0.5 (docs/ARCHITECTURE.md §4, "Defaults per
 * dataset kind"; seed 1, 800 users, Recall@10 ± SE over users, 3 epochs): the flags' defaults 0.074 ± 0.009; the
 * order-aware options below without --history-rows, at --field-dim 16, 0.266 ± 0.016; with it 0.399 ± 0.017; with
 * it at --field-dim 32 0.472 ± 0.018 (0.80× the posterior oracle's 0.589, 0.94× the last-item softmax baseline's
 * 0.500, 1.26× last-item kNN's 0.376), after a fourth epoch 0.483 ± 0.018. An epoch costs about 3–4× the CPU of the
 * flags' defaults (the next-item loss, the wider rows).
 */
export const EVENT_LOG_RETRIEVAL: RetrievalDefaults = {
  ...RETRIEVAL_DEFAULTS,
  epochs: 4,
  fieldDim: 32,
  lastItem: true,
  historyRows: true,
  causal: true,
  lastOutput: true,
  nextItem: 3,
};

/** Dataset kinds that train with EVENT_LOG_RETRIEVAL. */
export const EVENT_LOG_SOURCES = ['sequential', 'events', 'csv', 'jsonl', 'parquet'];

const FLAGS: Record<keyof RetrievalDefaults, string> = {
  epochs: '--epochs',
  batch: '--batch',
  fieldDim: '--field-dim',
  lastItem: '--last-item',
  historyRows: '--history-rows',
  causal: '--causal',
  lastOutput: '--last-output',
  nextItem: '--next-item-loss',
};

/**
 * The flags by which a kind's row differs from RETRIEVAL_DEFAULTS, as `vireo train retrieval --help` prints them.
 * @example kindFlags(MOVIELENS_RETRIEVAL) // '--epochs 4 --causal --last-output --next-item-loss 1'
 */
export function kindFlags(row: RetrievalDefaults): string {
  return (Object.keys(FLAGS) as (keyof RetrievalDefaults)[])
    .filter((k) => row[k] !== RETRIEVAL_DEFAULTS[k])
    .map((k) => (row[k] === true ? FLAGS[k] : `${FLAGS[k]} ${row[k]}`))
    .join(' ');
}

/** The `source` of DIR/dataset.json, or null when there is none to read (openDataset then says why). */
export function datasetSource(dir: string): string | null {
  try {
    const source = JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8')).source;
    return typeof source === 'string' ? source : null;
  } catch {
    return null;
  }
}

/** The defaults of the dataset kind in DIR. */
export function retrievalDefaults(dir: string): RetrievalDefaults {
  const source = datasetSource(dir);
  if (source === 'movielens') return MOVIELENS_RETRIEVAL;
  return source !== null && EVENT_LOG_SOURCES.includes(source) ? EVENT_LOG_RETRIEVAL : RETRIEVAL_DEFAULTS;
}
