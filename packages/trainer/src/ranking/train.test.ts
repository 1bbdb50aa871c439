// `vireo train ranking` / `vireo eval ranking` end to end on a tiny synthetic world: the model beats
// the constant rate, one seed gives the same bytes, an interrupted run resumed gives the same bytes
// as an uninterrupted one, a diverging run stops with a sentence, and the bundle lists both files.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseBundleManifest, sha256Hex } from '@vireo/core';
import { DEFAULT_OPTIONS, ingestSynthetic } from '../ingest/index.ts';
import { InterruptedError } from './fit.ts';
import { evalRanking, trainRanking } from './index.ts';

let dir: string;
let data: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vireo-ranking-'));
  data = join(dir, 'world');
  await ingestSynthetic(
    { seed: 3, users: 120, items: 60, events: 3000, categories: 4, dim: 4, days: 10 },
    { ...DEFAULT_OPTIONS, quiet: true, out: data },
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Small enough for SwiftShader: 2,400 training rows, batch 200, dim 8; the tables' default learning
// rate (0.05: at 0.2 the history-category table, updated by almost every row, overfits this
// tiny world within an epoch and the log loss ends above the constant rate's).
const FLAGS = [
  '--epochs',
  '3',
  '--batch',
  '200',
  '--dim',
  '8',
  '--bottom',
  '16',
  '--top',
  '16',
  '--tower',
  '8',
  '--lr',
  '0.001',
  '--emb-lr',
  '0.05',
  '--checkpoint-every',
  '5',
  '--quiet',
  '--json',
];

/** Runs a CLI entry point, capturing stdout; returns the exit code and what it printed. */
async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await fn(), out };
  } finally {
    spy.mockRestore();
  }
}

const fileHash = (path: string) => sha256Hex(readFileSync(path));

describe('vireo train ranking', () => {
  let first: string;

  it('trains a ranker that beats the constant rate and writes the bundle', async () => {
    first = join(dir, 'a');
    const { code, out } = await capture(() => trainRanking(['--data', data, '--out', first, ...FLAGS]));
    expect(code).toBe(0);
    const result = JSON.parse(out);
    const { model, baselines } = result.evaluation;
    console.log(
      `tiny world: test CTR AUC model ${model.ctr.auc.toFixed(4)}, logistic ` +
        `${baselines.logistic.ctr.auc.toFixed(4)}, constant ${baselines.constant.ctr.auc}, oracle ` +
        `${baselines.oracle.ctr.auc.toFixed(4)}; ${result.training.samplesPerSecond.toFixed(0)} samples/s`,
    );
    expect(baselines.constant.ctr.auc).toBe(0.5);
    expect(model.ctr.auc).toBeGreaterThan(0.6);
    expect(model.ctr.logLoss).toBeLessThan(baselines.constant.ctr.logLoss);
    expect(model.ctcvr.auc).toBeGreaterThan(0.6);
    // Platt scaling on the validation rows (the default --calibration-holdout 0): never worse there than the
    // identity it starts from.
    const split = result.evaluation.split;
    expect(split.calibration).toEqual({ fit: split.train, calibrate: split.valid, calibrateFrom: 'validation' });
    expect(result.calibration.ctr.rows).toBe(split.valid);
    for (const task of ['ctr', 'cvr'] as const) {
      const c = result.calibration[task];
      expect(c.rows).toBeGreaterThan(0);
      expect(c.after.logLoss).toBeLessThanOrEqual(c.before.logLoss + 1e-9);
    }
    const manifest = parseBundleManifest(readFileSync(join(first, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f) => f.name).sort()).toEqual(['ranking.onnx', 'ranking.safetensors']);
    for (const f of manifest.files) expect(f.sha256).toBe(await fileHash(join(first, f.name)));
    expect(manifest.architecture.ranking).toMatchObject({
      embeddingDim: 8,
      bottomMlp: [16, 8],
      heads: ['ctr', 'cvr', 'revenue'],
      interaction: 'dot',
    });
  });

  it('gives the same weights for the same seed, also across an interruption and --resume', async () => {
    // A second run with the same seed, cut short in epoch 2 (at its first checkpoint after 15
    // steps; 12 steps an epoch) and resumed, ends with the first run's bytes.
    const want = await fileHash(join(first, 'ranking.safetensors'));
    const cut = join(dir, 'c');
    await expect(
      capture(() => trainRanking(['--data', data, '--out', cut, ...FLAGS], { stopAfterSteps: 15 })),
    ).rejects.toBeInstanceOf(InterruptedError);
    const resumed = await capture(() => trainRanking(['--data', data, '--out', cut, ...FLAGS, '--resume']));
    expect(resumed.code).toBe(0);
    const from = JSON.parse(resumed.out).training.resumedFrom;
    expect(from.epoch).toBe(2);
    expect(from.step).toBeGreaterThan(0);
    expect(await fileHash(join(cut, 'ranking.safetensors'))).toBe(want);
  });

  it('stops with a sentence when the loss becomes NaN', async () => {
    const err = await trainRanking([
      '--data',
      data,
      '--out',
      join(dir, 'nan'),
      ...FLAGS,
      '--lr',
      '1e30',
      '--emb-lr',
      '1e30',
    ]).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^training diverged: the loss is .*NaN.* at epoch 1 step \d+; lower --lr/);
    expect((err as { exitCode: number }).exitCode).toBe(1);
  });

  it('refuses a resume with other flags, and bad flags, in one sentence', async () => {
    await expect(trainRanking(['--data', data, '--out', first, ...FLAGS, '--dim', '4', '--resume'])).rejects.toThrow(
      /--resume: the checkpoint .* was made with other data, architecture or flags/,
    );
    await expect(trainRanking(['--data', data, '--out', first, '--bottom', '16,x'])).rejects.toThrow(
      /--bottom must be comma-separated positive integers, got '16,x'/,
    );
    await expect(trainRanking(['--out', first])).rejects.toThrow(/--data DATASET is required/);
  });

  it('vireo eval ranking --json reports the model beside constant, logistic and oracle', async () => {
    const { code, out } = await capture(() => evalRanking(['--bundle', first, '--data', data, '--json']));
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(Object.keys(report.baselines).sort()).toEqual(['constant', 'logistic', 'oracle']);
    expect(report.model.ctr.auc).toBeGreaterThan(0.6);
    expect(report.baselines.oracle.ctr.auc).toBeGreaterThan(report.baselines.constant.ctr.auc);
    expect(report.model.cvr.rows).toBeGreaterThan(0);
    expect(report.model.revenue.rmseLog1p).toBeGreaterThan(0);
  });
});
