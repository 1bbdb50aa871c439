// Feature columns: raw values → model-ready columns through @vireo/core's transforms (the same code
// the edge and the runtime run). numeric → F32 (rows); bucketized numeric and categorical → I32
// (rows); multi_hot and sequence → I32 (rows, L).
import {
  encodeCategorical,
  encodeMultiHot,
  encodeSequence,
  transformNumeric,
  type Dtype,
  type Feature,
  type Lookups,
  type RawValue,
} from '@vireo/core';
import type { ColumnWriter, DatasetWriter, TableName } from './dataset.ts';

/** Column dtype and width of a feature. */
export function featureLayout(feature: Feature): { dtype: Dtype; width: number } {
  if (feature.kind === 'numeric')
    return { dtype: feature.transforms.at(-1)?.op === 'bucketize' ? 'I32' : 'F32', width: 1 };
  if (feature.kind === 'categorical') return { dtype: 'I32', width: 1 };
  return { dtype: 'I32', width: feature.maxLength };
}

/** A streamed feature column: push raw values, get encoded rows on disk. */
export class FeatureColumn {
  private readonly row: Int32Array;
  readonly writer: ColumnWriter;
  constructor(
    out: DatasetWriter,
    table: TableName,
    readonly feature: Feature,
    private readonly lookups: Lookups,
  ) {
    const { dtype, width } = featureLayout(feature);
    this.writer = out.column(table, feature.name, dtype, width);
    this.row = new Int32Array(width);
  }
  push(raw: RawValue): void {
    const f = this.feature;
    switch (f.kind) {
      case 'numeric':
        this.writer.push(transformNumeric(f, Array.isArray(raw) ? raw[0] : (raw as never)));
        return;
      case 'categorical':
        this.writer.push(encodeCategorical(f, Array.isArray(raw) ? raw[0] : (raw as never), this.lookups));
        return;
      case 'multi_hot':
        this.writer.pushRow(encodeMultiHot(f, raw, this.lookups, this.row));
        return;
      case 'sequence':
        this.writer.pushRow(encodeSequence(f, raw, this.lookups, this.row));
        return;
    }
  }
}

/** Encodes an in-memory entity table (users or items): `raw(feature, row)` gives each raw value. */
export function writeEntityFeatures(
  out: DatasetWriter,
  table: 'users' | 'items',
  features: Feature[],
  rows: number,
  lookups: Lookups,
  raw: (feature: Feature, row: number) => RawValue,
): void {
  for (const f of features) {
    const column = new FeatureColumn(out, table, f, lookups);
    for (let r = 0; r < rows; r++) column.push(raw(f, r));
  }
}
