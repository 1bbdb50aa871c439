// `vireo predict` on a bundle of each dataset kind that has history features (a synthetic world and
// a MovieLens-layout folder; Criteo is predict.test.ts): ingest, tiny retrieval and ranking models
// (as `vireo start` trains them), `--example` writes
// rows from the bundle's vocabularies, `--help` lists the columns, and every example row scores —
// including the derived user:recent_items>item:category / >item:genres bags, computed from the
// history column and items.safetensors (before, every row failed reading the derived feature), or, for a ranker
// trained alone, the item columns ranking.safetensors keeps.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, jsonLines } from '@vireo/testkit/capture';
import { afterAll, describe, expect, it } from 'vitest';
import { createRng } from '@vireo/core';
import { loadRankingBundle } from '@vireo/models/training';
import { trainRanking } from '../ranking/index.ts';
import { trainRetrieval } from '../retrieval/index.ts';
import { run as ingest } from './ingest.ts';
import { main } from '../cli.ts';
import { inputColumns, run as predict } from './predict.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A MovieLens-layout folder: 60 users rating 30 movies of 5 genres, ≥ 4 on their genre and now and then. */
function movielens(dir: string): string {
  const rng = createRng(3);
  const genres = ['Action', 'Comedy', 'Drama', 'Horror', 'Romance'];
  const movies = ['movieId,title,genres'];
  for (let m = 1; m <= 30; m++)
    movies.push(`${m},Movie ${m} (${1990 + (m % 20)}),${genres[m % 5]}|${genres[(m + 2) % 5]}`);
  const ratings = ['userId,movieId,rating,timestamp'];
  for (let u = 1; u <= 60; u++)
    for (let k = 0; k < 20; k++) {
      const m = 1 + rng.int(30);
      const liked = m % 5 === u % 5 || rng.next() < 0.4;
      ratings.push(`${u},${m},${liked ? 4.5 : 1 + rng.int(3)},${964982703 + u * 1000 + k * 60}`);
    }
  writeFileSync(join(dir, 'movies.csv'), `${movies.join('\n')}\n`);
  writeFileSync(join(dir, 'ratings.csv'), `${ratings.join('\n')}\n`);
  return dir;
}

const TINY = ['--epochs', '1', '--batch', '64', '--dim', '4', '--bottom', '8', '--top', '8', '--tower', '', '--quiet'];

async function bundleOf(kind: 'synthetic' | 'movielens', withRetrieval = true): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `vireo-predict-${kind}-`));
  dirs.push(dir);
  const source =
    kind === 'synthetic'
      ? ['--source', 'synthetic', '--users', '30', '--items', '40', '--events', '1500', '--categories', '4']
      : ['--source', 'movielens', '--path', movielens(dir), '--min-rating', '4'];
  const ing = await capture(() => ingest([...source, '--out', join(dir, 'data'), '--quiet']));
  expect(ing.code, ing.err).toBe(0);
  const bundle = join(dir, 'bundle');
  // Retrieval first, as `vireo start` does: it writes items.safetensors (each item's features).
  const retrieval = ['--epochs', '1', '--batch', '64', '--dim', '8', '--field-dim', '8', '--hidden', '8'];
  if (withRetrieval) {
    const rt = await capture(() =>
      trainRetrieval(['--data', join(dir, 'data'), '--out', bundle, ...retrieval, '--skip-eval', '--quiet']),
    );
    expect(rt.code, rt.err).toBe(0);
  }
  const tr = await capture(() => trainRanking(['--data', join(dir, 'data'), '--out', bundle, ...TINY]));
  expect(tr.code, tr.err).toBe(0);
  return bundle;
}

describe('vireo predict on bundles with history features', () => {
  for (const kind of ['synthetic', 'movielens'] as const) {
    it(`${kind}: --help lists the columns, --example rows all score`, async () => {
      const bundle = await bundleOf(kind);
      const { config } = await loadRankingBundle(bundle);
      const derived = config.sparseFeatures.filter((s) => s.derived);
      expect(config.sparseFeatures.some((s) => s.name === 'user:recent_items')).toBe(true);
      if (kind === 'synthetic') expect(derived.map((s) => s.name)).toContain('user:recent_items>item:category');

      const help = await capture(() => predict(['--bundle', bundle, '--help']));
      expect(help.code).toBe(0);
      for (const s of derived) {
        expect(help.out).toContain(s.derived!.sequence);
        expect(help.out).not.toMatch(new RegExp(`^\\s+${s.name.replace(/[>:]/g, '.')}\\s`, 'm'));
      }

      const example = join(bundle, 'example.csv');
      const ex = await capture(() => predict(['--bundle', bundle, '--example', example]));
      expect(ex.code, ex.err).toBe(0);
      const rows = readFileSync(example, 'utf8').trim().split('\n');
      expect(rows).toHaveLength(4); // header + 3 rows
      if (kind === 'movielens') {
        // The films' years (1990–2009 in the fixture), not 1, 2, 3.
        const year = rows[0].split(',').indexOf('year');
        const years = rows.slice(1).map((r) => Number(r.split(',')[year]));
        expect(
          years.every((y) => y >= 1990 && y <= 2010),
          `years ${years}`,
        ).toBe(true);
      }

      const res = await capture(() => predict(['--bundle', bundle, '--input', example, '--json']));
      expect(res.code, res.err).toBe(0);
      const scored = jsonLines<{ line: number; pCtr?: number; error?: string }>(res.out);
      expect(scored.map((r) => r.line)).toEqual([2, 3, 4]);
      // The same rows as JSON Lines when the name asks for them (they were written as CSV whatever the name).
      const jsonl = join(bundle, 'example.jsonl');
      expect((await capture(() => predict(['--bundle', bundle, '--example', jsonl]))).code).toBe(0);
      const objects = jsonLines<object>(readFileSync(jsonl, 'utf8'));
      expect(objects).toHaveLength(3);
      const asJsonl = await capture(() => predict(['--bundle', bundle, '--input', jsonl, '--json']));
      expect(asJsonl.code, asJsonl.err).toBe(0);
      const fromJsonl = jsonLines<{ pCtr?: number; error?: string }>(asJsonl.out);
      expect(fromJsonl.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
      expect(fromJsonl.map((r) => r.pCtr)).toEqual(scored.map((r) => r.pCtr));
      for (const r of scored) {
        expect(r.error).toBeUndefined();
        expect(r.pCtr).toBeGreaterThan(0);
        expect(r.pCtr).toBeLessThan(1);
      }
    });
  }

  // Before, a ranker trained into a folder of its own (no retrieval model, so no items.safetensors) could not score a
  // row: "the bundle derives item:category from the history but has no items.safetensors".
  it('a ranker without a retrieval model scores rows through the item columns it keeps', async () => {
    const bundle = await bundleOf('synthetic', false);
    const { manifest, through } = await loadRankingBundle(bundle);
    expect(manifest.files.map((f) => f.name)).not.toContain('items.safetensors');
    expect([...through.keys()]).toContain('item:category');
    const example = join(bundle, 'example.csv');
    expect((await capture(() => predict(['--bundle', bundle, '--example', example]))).code).toBe(0);
    const res = await capture(() => predict(['--bundle', bundle, '--input', example, '--json']));
    expect(res.code, res.err).toBe(0);
    const scored = jsonLines<{ pCtr?: number; error?: string }>(res.out);
    expect(scored).toHaveLength(3);
    for (const r of scored) {
      expect(r.error).toBeUndefined();
      expect(r.pCtr).toBeGreaterThan(0);
      expect(r.pCtr).toBeLessThan(1);
    }
  });

  // Before, a file with none of the bundle's columns scored every row as the same all-missing row (0.490602 each,
  // exit 0), and `--example` into a folder that does not exist was a Node ENOENT stack trace.
  it('refuses a file with none of the columns the bundle reads, warns about some missing', async () => {
    const bundle = await bundleOf('synthetic', false);
    const { manifest, config } = await loadRankingBundle(bundle);
    const columns = inputColumns(manifest.featureSpec, config).map((c) => c.column);
    expect(columns).toEqual([
      'price',
      'popularity',
      'user_id',
      'age_group',
      'recent_items',
      'item_id',
      'category',
      'attributes',
      'title',
      'hour',
      'device',
    ]);

    const wrong = join(bundle, 'wrong.csv');
    writeFileSync(wrong, 'foo,bar\n1,2\n3,4\n');
    const refused = await capture(() => main(['predict', '--bundle', bundle, '--input', wrong]));
    expect({ code: refused.code, out: refused.out, err: refused.err }).toEqual({
      code: 2,
      out: '',
      err:
        `vireo predict: ${wrong} has none of the columns the bundle reads: it lacks ${columns.join(', ')} and has ` +
        `foo, bar (\`vireo predict --bundle ${bundle} --help\` lists the columns).\n`,
    });
    const wrongJsonl = join(bundle, 'wrong.jsonl');
    writeFileSync(wrongJsonl, '{"foo": 1}\n{"bar": 2}\n');
    const refusedJsonl = await capture(() => main(['predict', '--bundle', bundle, '--input', wrongJsonl]));
    expect(refusedJsonl.code).toBe(2);
    expect(refusedJsonl.err).toMatch(/wrong\.jsonl has none of the columns the bundle reads: .* and has foo, bar /);

    // Some columns missing: scored (their values are missing on every row), with one line naming them.
    const example = join(bundle, 'example.csv');
    expect((await capture(() => predict(['--bundle', bundle, '--example', example]))).code).toBe(0);
    const [header, ...rows] = readFileSync(example, 'utf8').trim().split('\n');
    const keep = header.split(',').map((c, j) => (c === 'age_group' || c === 'device' ? -1 : j));
    const pick = (line: string) => {
      const fields = line.split(',');
      return keep
        .filter((j) => j >= 0)
        .map((j) => fields[j])
        .join(',');
    };
    const partial = join(bundle, 'partial.csv');
    writeFileSync(partial, `${[header, ...rows].map(pick).join('\n')}\n`);
    const warned = await capture(() => main(['predict', '--bundle', bundle, '--input', partial]));
    expect(warned.code, warned.err).toBe(0);
    expect(warned.out.trim().split('\n')).toHaveLength(4);
    expect(warned.err.split('\n')[0]).toBe(
      `vireo predict: ${partial} has no column age_group, device (read by user:age_group, context:device): ` +
        'every row takes their fill or OOV value.',
    );

    const nowhere = join(bundle, 'no', 'such', 'x.csv');
    const ex = await capture(() => main(['predict', '--bundle', bundle, '--example', nowhere]));
    expect({ code: ex.code, err: ex.err }).toEqual({
      code: 2,
      err:
        `vireo predict: cannot write --example ${nowhere}: the folder ${join(bundle, 'no', 'such')} ` +
        'does not exist.\n',
    });
  });

  // Before, training the retrieval model again into a bundle wrote a manifest of its own files alone: the ranker
  // beside it was dropped from the bundle (its files left unlisted on disk).
  it('training retrieval again into a bundle keeps its ranker', async () => {
    const bundle = await bundleOf('synthetic');
    const before = await loadRankingBundle(bundle);
    const data = join(bundle, '..', 'data');
    const retrieval = ['--epochs', '1', '--batch', '64', '--dim', '8', '--field-dim', '8', '--hidden', '8'];
    const rt = await capture(() =>
      trainRetrieval(['--data', data, '--out', bundle, ...retrieval, '--seed', '2', '--skip-eval', '--quiet']),
    );
    expect(rt.code, rt.err).toBe(0);
    const after = await loadRankingBundle(bundle);
    expect(after.manifest.files.map((f) => f.name).sort()).toEqual(
      ['items.safetensors', 'ranking.onnx', 'ranking.safetensors', 'retrieval.safetensors'].sort(),
    );
    expect(after.manifest.architecture.ranking).toEqual(before.manifest.architecture.ranking);
    expect(after.params).toEqual(before.params);
    expect((after.manifest.metrics as Record<string, unknown>).ranking).toBeDefined();
  });
});
