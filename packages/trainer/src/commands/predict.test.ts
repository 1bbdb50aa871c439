// `vireo predict` on a tiny Criteo-format bundle: good rows scored (with and without labels) in
// line order, malformed rows reported by line number with exit code 1, and the raw-row path
// giving the same scores as the ingested dataset's rows (no train/serve skew).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, jsonLines } from '@vireo/testkit/capture';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '@vireo/core';
import { DEFAULT_OPTIONS, ingestCriteo, loadDataset } from '../ingest/index.ts';
import { openGpu } from '../node/gpu.ts';
import { loadRankingBundle } from '@vireo/models/training';
import { rankingData } from '../ranking/data.ts';
import { scoreRows } from '../ranking/fit.ts';
import { trainRanking } from '../ranking/index.ts';
import { RankingModel } from '@vireo/models';
import { run as predict, typicalNumeric } from './predict.ts';

let dir: string;
let bundle: string;
let trainFile: string;
let lines: string[];

/** Criteo rows whose click depends on C1 and I1. */
function criteoRows(n: number, seed: number): string[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    const c1 = ['68fd1e64', '05db9164', '8cf07265'][rng.int(3)];
    const i1 = rng.int(20);
    const p = (c1 === '05db9164' ? 0.6 : 0.15) + (i1 > 10 ? 0.2 : 0);
    const dense = [i1, ...Array.from({ length: 12 }, () => (rng.next() < 0.2 ? '' : rng.int(100)))];
    const sparse = [c1, ...Array.from({ length: 25 }, (_, j) => (rng.next() < 0.1 ? '' : `${j}${rng.int(4)}`))];
    return [rng.next() < p ? 1 : 0, ...dense, ...sparse].join('\t');
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vireo-predict-'));
  lines = criteoRows(400, 5);
  trainFile = join(dir, 'train.txt');
  writeFileSync(trainFile, lines.join('\n') + '\n');
  await ingestCriteo(trainFile, { ...DEFAULT_OPTIONS, quiet: true, out: join(dir, 'data'), minCount: 1 });
  bundle = join(dir, 'bundle');
  const flags = [
    '--epochs',
    '1',
    '--batch',
    '100',
    '--dim',
    '4',
    '--bottom',
    '8',
    '--top',
    '8',
    '--tower',
    '',
    '--quiet',
  ];
  await capture(() => trainRanking(['--data', join(dir, 'data'), '--out', bundle, ...flags]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vireo predict', () => {
  it('scores good rows and reports bad ones by line number', async () => {
    const input = join(dir, 'mixed.txt');
    const unlabelled = lines[1].split('\t').slice(1).join('\t');
    const badWidth = lines[2].split('\t').slice(0, 12).join('\t');
    const badInt = lines[3].replace(/^(\d)\t\d+/, '$1\tx7');
    const unseen = lines[4]
      .replace('68fd1e64', 'ffffffff')
      .replace('05db9164', 'ffffffff')
      .replace('8cf07265', 'ffffffff');
    writeFileSync(input, [lines[0], unlabelled, badWidth, badInt, unseen].join('\n') + '\n');

    const text = await capture(() => predict(['--bundle', bundle, '--input', input]));
    expect(text.code).toBe(1);
    const rows = text.out.trim().split('\n');
    expect(rows[0]).toBe('line\tpCtr\tpCvr\trevenue');
    expect(rows.slice(1).map((r) => r.split('\t')[0])).toEqual(['1', '2', '5']);
    for (const r of rows.slice(1)) {
      const [, pCtr, pCvr, revenue] = r.split('\t');
      expect(Number(pCtr)).toBeGreaterThan(0);
      expect(Number(pCtr)).toBeLessThan(1);
      expect([pCvr, revenue]).toEqual(['-', '-']); // a click-only bundle has no CVR or revenue head
    }
    expect(text.err).toMatch(
      /mixed\.txt line 3: expected 40 tab-separated fields \(or 39 without the label\), found 12/,
    );
    expect(text.err).toMatch(/mixed\.txt line 4: I1 must be an integer or empty, got "x7"/);

    const json = await capture(() => predict(['--bundle', bundle, '--input', input, '--json']));
    expect(json.code).toBe(1);
    const objects = jsonLines<{ line: number; pCtr: number; error?: string }>(json.out);
    expect(objects.map((o) => o.line)).toEqual([1, 2, 3, 4, 5]);
    expect(objects[2].error).toMatch(/found 12/);
    expect(objects[0]).toMatchObject({ line: 1, pCvr: null, revenue: null });
    expect(Number(rows[1].split('\t')[1])).toBeCloseTo(objects[0].pCtr, 5);
  });

  it('gives the same scores from raw rows as from the ingested dataset (exit 0 when all rows are good)', async () => {
    const input = join(dir, 'head.txt');
    writeFileSync(input, lines.slice(0, 30).join('\n') + '\n');
    const { code, out, err } = await capture(() => predict(['--bundle', bundle, '--input', input, '--json']));
    expect(code).toBe(0);
    expect(err).toMatch(/scored 30 rows \(0 malformed\); CTR AUC over the 30 labelled rows: /);
    const fromRaw = jsonLines<{ pCtr: number }>(out).map((r) => r.pCtr);

    const { config, params, tables } = await loadRankingBundle(bundle);
    const data = rankingData(loadDataset(join(dir, 'data')));
    const gpu = await openGpu();
    const model = await RankingModel.create(gpu, config, { maxBatch: 30 });
    model.writeWeights(params, tables);
    const fromDataset = await scoreRows(
      model,
      data,
      Uint32Array.from({ length: 30 }, (_, i) => i),
    );
    model.destroy();
    gpu.destroy();
    expect(fromRaw).toEqual(Array.from({ length: 30 }, (_, i) => fromDataset[i * 3]));
  });

  it('fails in one sentence on a missing bundle or input', async () => {
    await expect(predict(['--bundle', join(dir, 'nope'), '--input', trainFile])).rejects.toThrow(
      /has no manifest\.json/,
    );
    await expect(predict(['--bundle', bundle, '--input', join(dir, 'missing.txt')])).rejects.toThrow(
      /cannot read input file .*missing\.txt: no such file/,
    );
    await expect(predict(['--bundle', bundle])).rejects.toThrow(/--input FILE is required/);
  });

  it('--help lists the Criteo columns and --example writes rows that score', async () => {
    const help = await capture(() => predict(['--bundle', bundle, '--help']));
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^\s+c1\s+categorical/m);
    const example = join(dir, 'example.tsv');
    expect((await capture(() => predict(['--bundle', bundle, '--example', example]))).code).toBe(0);
    const rows = readFileSync(example, 'utf8').trim().split('\n');
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r.split('\t')).toHaveLength(39);
    const res = await capture(() => predict(['--bundle', bundle, '--input', example, '--json']));
    expect(res.code, res.err).toBe(0);
    const scored = jsonLines<{ line: number; pCtr: number }>(res.out);
    expect(scored.map((r) => r.line)).toEqual([1, 2, 3]);
    for (const r of scored) expect(r.pCtr).toBeGreaterThan(0);
  });
});

describe('vireo predict --example: numeric values', () => {
  it('are typical raw values, the fitted transforms run backwards', () => {
    const year = {
      name: 'item:year',
      kind: 'numeric' as const,
      fill: 2000,
      transforms: [
        { op: 'clip' as const, min: 1900, max: 2030 },
        { op: 'standardize' as const, mean: 1994.6, std: 18.5 },
      ],
    };
    expect([0, 1, 2].map((i) => typicalNumeric(year, i))).toEqual([1995, 1985, 2004]);
    const count = {
      name: 'context:i1',
      kind: 'numeric' as const,
      fill: 0,
      transforms: [{ op: 'log1p' as const }, { op: 'standardize' as const, mean: 2.1, std: 2.1 }],
    };
    expect(typicalNumeric(count, 0)).toBe(Math.round(Math.expm1(2.1)));
    expect(typicalNumeric({ name: 'context:x', kind: 'numeric', fill: 3, transforms: [] }, 1)).toBe(4);
  });
});
