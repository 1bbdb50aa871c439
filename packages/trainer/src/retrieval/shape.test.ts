// A warm start trains the champion's architecture again: shapeOf(config) read back from a trained model's config
// builds the same config. vireo refresh used to rebuild the shape field by field and dropped lastItem, so a
// champion trained with --last-item was warm-started as a model without that input (its user MLP's rows no
// longer matched).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, DEFAULT_SEQUENTIAL, ingestSequential } from '../ingest/index.ts';
import { loadDataset } from '../ingest/dataset.ts';
import { retrievalConfig, shapeOf, type RetrievalShape } from './features.ts';

const dir = mkdtempSync(join(tmpdir(), 'vireo-shape-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('shapeOf', () => {
  it('carries every architecture option of a config, so a warm start rebuilds the same config', async () => {
    const world = { ...DEFAULT_SEQUENTIAL, seed: 3, users: 30, items: 20, categories: 4, minEvents: 5, maxEvents: 8 };
    await ingestSequential(world, { ...DEFAULT_OPTIONS, out: join(dir, 'ds'), quiet: true });
    const ds = loadDataset(join(dir, 'ds'));
    const base = { fieldDim: 8, embeddingDim: 16, heads: 2, itemHidden: 16, userHidden: 16, temperature: 0.1 };
    const shapes: RetrievalShape[] = [
      { ...base, historyLength: 6, historyItemFields: true, lastItem: true, causal: true, lastOutput: true },
      { ...base, historyLength: 6, causal: true, lastOutput: true, nextItem: 0.5 },
      { ...base, historyLength: 4, historyItemFields: false, lastItem: false, causal: false, lastOutput: false },
      { ...base, historyLength: 5, lastItem: true },
      { ...base, historyLength: 5, lastItem: true, historyRows: true },
      { ...base, historyLength: 5, lastItem: true, historyRows: true, historyItemFields: true },
    ];
    for (const shape of shapes) {
      const config = retrievalConfig(ds, shape);
      expect(retrievalConfig(ds, shapeOf(config))).toEqual(config);
      expect(shapeOf(config).lastItem).toBe(shape.lastItem ?? false);
      expect(shapeOf(config).nextItem).toBe(shape.nextItem ?? 0);
      expect(shapeOf(config).historyRows).toBe(shape.historyRows ?? false);
    }
    // A config from before the next-item objective (no nextItem) trains without it.
    const { nextItem: _, ...older } = retrievalConfig(ds, shapes[1]);
    expect(shapeOf(older).nextItem).toBe(0);
    // The history's own rows hold the id alone unless the items' other fields are asked for too.
    expect(retrievalConfig(ds, { ...base, historyLength: 5, historyRows: true }).historyItemFields).toBe(false);
  });
});
