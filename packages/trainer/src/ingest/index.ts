// `vireo ingest`: raw logs or a synthetic world → a dataset folder (see dataset.ts for the layout).
// The trainers read datasets only through `loadDataset`.
export { loadDataset, SPLIT_TRAIN, SPLIT_VALID, SPLIT_TEST } from './dataset.ts';
export type {
  Dataset,
  DatasetSummary,
  DatasetStatistics,
  EntityTable,
  FeatureStatistics,
  Impressions,
  Interactions,
  RankingSplitSummary,
  RetrievalSplitSummary,
  Table,
} from './dataset.ts';
export { loadOracle } from './load-oracle.ts';
export {
  clickLogitFor,
  conversionFor,
  exposureFor,
  interestAt,
  nextClickScores,
  scoreAllItems,
  type WorldParameters,
  type WorldTruth,
} from './oracle.ts';
export {
  DEFAULT_WORLD,
  START_WORLD,
  generateWorld,
  ingestSynthetic,
  syntheticSpec,
  type World,
  type WorldConfig,
} from './synthetic.ts';
export { DEFAULT_FM_STRENGTH, fmClicks } from './fm-clicks.ts';
export {
  DEFAULT_SEQUENTIAL,
  ingestSequential,
  loadSequentialTruth,
  sequentialOracleScores,
  type SequentialConfig,
  type SequentialTruth,
} from './sequential.ts';
export { DEFAULT_MIN_RATING, ingestMovielens, movielensSpec } from './movielens.ts';
export { ingestCriteo, criteoSpec } from './criteo.ts';
export { ingestTabular, type TabularSource } from './tabular.ts';
export { eventsSpec, ingestEvents, isPositive } from './events.ts';
export { readerFor } from './readers.ts';
export { DEFAULT_OPTIONS, type IngestOptions } from './options.ts';
export { IngestError } from './errors.ts';
