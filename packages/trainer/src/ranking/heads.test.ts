// Which heads the ranker gets from a dataset's labels. Before, a spec with a revenue label but no conversion label
// trained a revenue head on zero rows (revenue is per conversion; loss 0.0000) and `vireo eval ranking` printed
// "revenue model RMSE log1p NaN ± — on 0 conversions".
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture } from '@vireo/testkit/capture';
import { describe, expect, it } from 'vitest';
import { createRng } from '@vireo/core';
import { fixture } from '../../test/ingest-helpers.ts';
import { main } from '../cli.ts';
import { formatReport, type RankingReport } from './evaluate.ts';

const TINY = ['--epochs', '1', '--batch', '64', '--dim', '4', '--bottom', '8', '--top', '8', '--tower', '', '--quiet'];

describe('ranking heads', () => {
  it('a revenue label without a conversion label: no revenue head, and one line says why', async () => {
    const spec = {
      entities: { user: { key: 'user_id' }, item: { key: 'item_id' } },
      timestamp: 'ts',
      features: [
        { name: 'user:id', kind: 'categorical', source: 'user_id' },
        { name: 'item:id', kind: 'categorical', source: 'item_id' },
        { name: 'context:device', kind: 'categorical' },
      ],
      labels: [
        { name: 'click', source: 'clicked', kind: 'binary' },
        { name: 'revenue', source: 'order_value', kind: 'regression', fill: 0 },
      ],
    };
    const rng = createRng(4);
    const rows = ['user_id,item_id,ts,device,clicked,order_value'];
    for (let r = 0; r < 400; r++) {
      const clicked = rng.next() < 0.3 ? 1 : 0;
      const value = clicked && rng.next() < 0.3 ? (5 + rng.int(50)).toString() : '';
      const device = rng.next() < 0.5 ? 'web' : 'app';
      rows.push(`u${rng.int(30)},i${rng.int(20)},${1_700_000_000 + r * 60},${device},${clicked},${value}`);
    }
    const dir = fixture({ 'spec.json': JSON.stringify(spec), 'shop.csv': `${rows.join('\n')}\n` });
    const data = join(dir, 'data');
    const ingest = ['--source', 'csv', '--path', join(dir, 'shop.csv'), '--spec', join(dir, 'spec.json')];
    const ing = await capture(() => main(['ingest', ...ingest, '--out', data, '--quiet']));
    expect(ing.code, ing.err).toBe(0);

    const bundle = join(dir, 'bundle');
    const train = await capture(() => main(['train', 'ranking', '--data', data, '--out', bundle, ...TINY]));
    expect(train.code, train.err).toBe(0);
    expect(train.err.split('\n')[0]).toBe(
      `vireo train ranking: no revenue head: revenue is learned per conversion and ${data} has no conversion label ` +
        '(its labels: click, revenue).',
    );
    const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
    expect(manifest.architecture.ranking.heads).toEqual(['ctr']);
    expect(train.out).not.toMatch(/revenue|NaN/);

    const evaluated = await capture(() => main(['eval', 'ranking', '--data', data, '--bundle', bundle]));
    expect(evaluated.code, evaluated.err).toBe(0);
    expect(evaluated.out).not.toMatch(/revenue|NaN/);
  });

  it('a revenue head with no conversions among the test rows says so, not "RMSE log1p NaN"', () => {
    const metrics = {
      auc: 0.7,
      logLoss: 0.5,
      ece: 0.02,
      eceNoise: 0.01,
      eceDebiased: 0.01,
      se: { auc: 0.01, logLoss: 0.01, ece: 0.01 },
      rows: 10,
      positives: 3,
    };
    const report = {
      split: { train: 30, valid: 10, test: 10, validFrom: 'valid split' },
      model: { ctr: metrics, revenue: { rmseLog1p: Number.NaN, se: Number.NaN, rows: 0 } },
      baselines: { constant: { ctr: metrics }, logistic: { ctr: { ...metrics, l2: 0, lr: 0.1, epochs: 1 } } },
    } as unknown as RankingReport;
    const text = formatReport(report);
    expect(text.split('\n').at(-1)).toBe('revenue model    not evaluated: no conversions among the test rows');
    expect(text).not.toMatch(/NaN/);
  });
});
