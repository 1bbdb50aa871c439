// `vireo refresh` against a real Node edge (loopback): what can be checked before the pull is checked before it.
// Before, a --data folder that does not exist, or a --model the edge does not have, was reported only after every
// event had been pulled from the edge into a --state folder created for them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
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

  // Two refreshes on one --state pulled the same 3,000 events into events.ndjson twice (trained on twice after), and
  // one died on the other's dataset.partial with a stack trace (from an operator's walk).
  it('one refresh per --state: a second is one sentence, exit 2; a lock left by a dead process is taken', async () => {
    const state = join(dir, 'state-d');
    mkdirSync(state);
    const lock = join(state, 'refresh.lock');
    // Held by a live process on this host (the test's own parent stands for the other refresh).
    writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: hostname(), since: '2026-12-04T20:00:00.000Z' }));
    const busy = await refresh(state, '--pull-only');
    expect({ code: busy.code, err: busy.err }).toEqual({
      code: 2,
      err:
        `vireo refresh: another vireo refresh (pid ${process.ppid} on ${hostname()}, since 2026-12-04T20:00:00.000Z) ` +
        `is using --state ${state}: two at once would pull the same events twice; wait for it to finish.\n`,
    });
    expect(existsSync(join(state, 'events.ndjson'))).toBe(false);
    // Left by a process that is gone (killed, the machine restarted): taken over, and released at the end.
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), since: '2026-12-04T20:00:00.000Z' }));
    const pulled = await refresh(state, '--pull-only');
    expect(pulled.code, pulled.err).toBe(0);
    expect(existsSync(join(state, 'events.ndjson'))).toBe(true);
    expect(existsSync(lock)).toBe(false);
  });

  it('--token-file: the token is read from the file; an empty or missing file is one sentence', async () => {
    const file = join(dir, 'token.txt');
    writeFileSync(file, `${ctx.token}\n`);
    const state = join(dir, 'state-e');
    const run = (...flags: string[]) =>
      capture(() => main(['refresh', '--edge', ctx.edge.url, '--state', state, '--once', '--quiet', ...flags]));
    const ok = await run('--token-file', file, '--pull-only');
    expect(ok.code, ok.err).toBe(0);
    expect(readFileSync(join(state, 'events.ndjson'), 'utf8')).toBeDefined();
    writeFileSync(file, '\n');
    expect((await run('--token-file', file, '--pull-only')).err).toBe(
      `vireo refresh: --token-file ${file} is empty.\n`,
    );
    expect((await run('--token-file', join(dir, 'none'), '--pull-only')).err).toBe(
      `vireo refresh: cannot read --token-file ${join(dir, 'none')}: no such file.\n`,
    );
    expect((await run('--token-file', file, '--token', 'x', '--pull-only')).err).toBe(
      'vireo refresh: give --token or --token-file, not both.\n',
    );
  });
});
