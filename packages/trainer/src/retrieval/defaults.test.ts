// Retrieval defaults per dataset kind: `vireo train retrieval` (and `eval --seeds`, which parses the same flags)
// reads the kind from dataset.json, so MovieLens trains with what was chosen on its validation split; a flag wins.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  EVENT_LOG_RETRIEVAL,
  EVENT_LOG_SOURCES,
  kindFlags,
  MOVIELENS_RETRIEVAL,
  RETRIEVAL_DEFAULTS,
  retrievalDefaults,
} from './defaults.ts';
import { parseTrainFlags, TRAIN_HELP } from './index.ts';

const root = mkdtempSync(join(tmpdir(), 'vireo-defaults-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A folder whose dataset.json names `source` (all the flags read). */
function folder(source: string): string {
  const dir = mkdtempSync(join(root, `${source}-`));
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify({ format: 'vireo-dataset', source }));
  return dir;
}

const picked = (argv: string[]) => {
  const o = parseTrainFlags([...argv, '--out', join(root, 'out')]);
  const s = o.shape;
  return {
    epochs: o.epochs,
    batch: o.batch,
    fieldDim: s.fieldDim,
    lastItem: s.lastItem,
    historyRows: s.historyRows,
    causal: s.causal,
    lastOutput: s.lastOutput,
    nextItem: s.nextItem,
  };
};

describe('retrieval defaults per dataset kind', () => {
  test('MovieLens and event logs train with their validated rows, every other kind with the flags’ defaults', () => {
    const ml = folder('movielens');
    expect(retrievalDefaults(ml)).toBe(MOVIELENS_RETRIEVAL);
    expect(picked(['--data', ml])).toEqual(MOVIELENS_RETRIEVAL);
    expect(MOVIELENS_RETRIEVAL).toEqual({
      epochs: 4,
      batch: 128,
      fieldDim: 16,
      lastItem: false,
      historyRows: false,
      causal: true,
      lastOutput: true,
      nextItem: 1,
    });
    for (const source of ['synthetic', 'criteo'])
      expect(picked(['--data', folder(source)])).toEqual(RETRIEVAL_DEFAULTS);
    expect(EVENT_LOG_SOURCES).toEqual(['sequential', 'events', 'csv', 'jsonl', 'parquet']);
    for (const source of EVENT_LOG_SOURCES) expect(picked(['--data', folder(source)])).toEqual(EVENT_LOG_RETRIEVAL);
    expect(EVENT_LOG_RETRIEVAL).toMatchObject({
      epochs: 4,
      fieldDim: 32,
      lastItem: true,
      historyRows: true,
      causal: true,
      lastOutput: true,
      nextItem: 3,
    });
    expect(RETRIEVAL_DEFAULTS).toMatchObject({ epochs: 3, batch: 128, causal: false, nextItem: 0 });
    // No dataset.json yet: the flags' defaults (opening the dataset then says what is wrong).
    expect(picked(['--data', join(root, 'missing')])).toEqual(RETRIEVAL_DEFAULTS);
  });

  test('--help prints each kind as the flags by which its row differs from the defaults, read from the rows', () => {
    expect(kindFlags(MOVIELENS_RETRIEVAL)).toBe('--epochs 4 --causal --last-output --next-item-loss 1');
    expect(kindFlags(EVENT_LOG_RETRIEVAL)).toBe(
      '--epochs 4 --field-dim 32 --last-item --history-rows --causal --last-output --next-item-loss 3',
    );
    expect(kindFlags(RETRIEVAL_DEFAULTS)).toBe('');
    const sources = EVENT_LOG_SOURCES.join(', ');
    const ml = '--epochs 4 --causal --last-output --next-item-loss 1';
    expect(TRAIN_HELP).toContain(`MovieLens (source movielens) ${ml};\nevent logs (sources ${sources})\n--epochs 4`);
    expect(TRAIN_HELP).toContain(`${kindFlags(EVENT_LOG_RETRIEVAL)};`);
    expect(TRAIN_HELP).toContain('passes over the training clicks (kind; default 3)');
    expect(TRAIN_HELP).toContain('a multiple of 8 and of --heads (kind; default 16)');
  });

  test('a flag wins over the kind', () => {
    const ml = folder('movielens');
    const o = picked(['--data', ml, '--epochs', '3', '--batch', '256', '--last-item', '--causal', '--last-output']);
    expect(o).toMatchObject({ epochs: 3, batch: 256, lastItem: true, causal: true, lastOutput: true });
    expect(picked(['--data', ml, '--history-rows']).historyRows).toBe(true);
    expect(picked(['--data', folder('csv'), '--field-dim', '16']).fieldDim).toBe(16);
    expect(picked(['--data', ml, '--no-causal', '--no-last-output', '--no-last-item'])).toMatchObject({
      lastItem: false,
      causal: false,
      lastOutput: false,
      nextItem: 0,
    });
  });
});

describe('--logq', () => {
  test('sets the strength of the logQ correction, 1 by default; a value outside 0 to 4 is one sentence', () => {
    const ml = folder('movielens');
    const strength = (argv: string[]) =>
      parseTrainFlags(['--data', ml, ...argv, '--out', join(root, 'out')]).logqStrength;
    expect(strength([])).toBe(1);
    expect(strength(['--logq', '0'])).toBe(0);
    expect(strength(['--logq', '1.5'])).toBe(1.5);
    for (const bad of ['-1', '5', 'lots']) expect(() => strength([`--logq=${bad}`])).toThrow(/^--logq .*\.$/);
    expect(TRAIN_HELP).toContain('--logq X');
  });
});
