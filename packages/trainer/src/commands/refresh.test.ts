// `vireo refresh` against a real Node edge (loopback): what can be checked before the pull is checked before it.
// Before, a --data folder that does not exist, or a --model the edge does not have, was reported only after every
// event had been pulled from the edge into a --state folder created for them.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '@vireo/testkit/capture';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopbackEdge } from '../../test/edge.ts';
import { main } from '../cli.ts';
import { DEFAULT_OPTIONS } from '../ingest/options.ts';
import { ingestSynthetic } from '../ingest/synthetic.ts';

describe('vireo refresh: checks before the pull', () => {
  const ctx = loopbackEdge('refresh-checks', 'events:export features:export models:publish');
  let dir: string;
  let data: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vireo-refresh-'));
    data = join(dir, 'data');
    await ingestSynthetic(
      { seed: 1, users: 20, items: 20, events: 300, categories: 3, dim: 4, days: 5 },
      { ...DEFAULT_OPTIONS, quiet: true, out: data },
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const refresh = (state: string, ...flags: string[]) =>
    capture(() =>
      main(['refresh', '--edge', ctx.edge.url, '--token', ctx.token, '--state', state, '--once', '--quiet', ...flags]),
    );

  it('a --data folder that does not exist: one sentence, exit 2, no --state folder', async () => {
    const state = join(dir, 'state-a');
    const nope = join(dir, 'nope');
    const r = await refresh(state, '--data', nope);
    expect({ code: r.code, err: r.err }).toEqual({
      code: 2,
      err: `vireo refresh: ${nope} does not exist: pass the folder vireo ingest --out wrote (or run vireo ingest).\n`,
    });
    expect(existsSync(state)).toBe(false);
  });

  it('a --data folder that is not a dataset: one sentence, exit 2', async () => {
    const r = await refresh(join(dir, 'state-b'), '--data', dir);
    expect({ code: r.code, err: r.err }).toEqual({
      code: 2,
      err: `vireo refresh: ${dir} is not a Vireo dataset: dataset.json is missing (run vireo ingest --out ${dir}).\n`,
    });
  });

  it('a --model the edge does not have: one sentence, exit 2, no --state folder', async () => {
    const state = join(dir, 'state-c');
    const r = await refresh(state, '--data', data, '--model', 'wrongname');
    expect({ code: r.code, err: r.err }).toEqual({
      code: 2,
      err:
        `vireo refresh: model 'wrongname' has no promoted version on ${ctx.edge.url}: publish and promote a first ` +
        'one (vireo publish).\n',
    });
    expect(existsSync(state)).toBe(false);
  });
});
