// `vireo start` flags: defaults, world sizes, data sources and one-sentence mistakes. The whole
// stack (train → edge → publish → dashboard) is exercised by apps/demo/src/demo.e2e.test.ts.
import { describe, expect, test } from 'vitest';
import { UsageError } from '../cli/args.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_START, MOVIELENS_START, parseStartFlags, START_HELP } from './start.ts';

describe('vireo start flags', () => {
  test('defaults: the synthetic world in ./.vireo, edge 8787, dashboard 5173', () => {
    const o = parseStartFlags([]);
    expect(o.data).toEqual({
      kind: 'synthetic',
      world: {
        users: DEFAULT_START.users,
        items: DEFAULT_START.items,
        events: DEFAULT_START.events,
        categories: DEFAULT_START.categories,
      },
    });
    expect(o.state.endsWith('.vireo')).toBe(true);
    expect([o.port, o.demoPort, o.epochs, o.retrain, o.open, o.history]).toEqual([
      8787,
      5173,
      DEFAULT_START.epochs,
      false,
      true,
      true,
    ]);
  });

  test('sizes, epochs, ports and switches', () => {
    const o = parseStartFlags([
      '--users',
      '50',
      '--items',
      '40',
      '--events',
      '900',
      '--categories',
      '4',
      '--epochs',
      '1',
      '--ranking-epochs',
      '2',
      '--port',
      '9000',
      '--demo-port',
      '9001',
      '--retrain',
      '--no-open',
      '--no-history',
      '--state',
      '/tmp/x',
    ]);
    expect(o.data).toEqual({ kind: 'synthetic', world: { users: 50, items: 40, events: 900, categories: 4 } });
    expect([o.epochs, o.rankingEpochs, o.port, o.demoPort, o.retrain, o.open, o.history, o.state]).toEqual([
      1,
      2,
      9000,
      9001,
      true,
      false,
      false,
      '/tmp/x',
    ]);
  });

  test('ranking epochs by dataset: the default world 2, MovieLens 1 (their validation AUC peaks), a flag wins', () => {
    expect(parseStartFlags([]).rankingEpochs).toBe(2);
    expect(DEFAULT_START.rankingEpochs).toBe(2);
    const dir = mkdtempSync(join(tmpdir(), 'vireo-start-ml-'));
    try {
      expect(parseStartFlags(['--data', `movielens:${dir}`]).rankingEpochs).toBe(MOVIELENS_START.rankingEpochs);
      expect(MOVIELENS_START.rankingEpochs).toBe(1);
      expect(parseStartFlags(['--data', `movielens:${dir}`, '--ranking-epochs', '3']).rankingEpochs).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(START_HELP).toContain('1 on MovieLens');
  });

  test('retrieval epochs × batch by dataset: world 1 × 128, MovieLens 4 × 128 (on validation); a flag wins', () => {
    const world = parseStartFlags([]);
    expect([world.epochs, world.batch]).toEqual([DEFAULT_START.epochs, DEFAULT_START.batch]);
    expect([DEFAULT_START.epochs, DEFAULT_START.batch]).toEqual([1, 128]);
    expect([MOVIELENS_START.epochs, MOVIELENS_START.batch]).toEqual([4, 128]);
    const dir = mkdtempSync(join(tmpdir(), 'vireo-start-ml-'));
    try {
      const ml = parseStartFlags(['--data', `movielens:${dir}`]);
      expect([ml.epochs, ml.batch, ml.rankingEpochs]).toEqual([4, 128, 1]);
      const flags = parseStartFlags(['--data', `movielens:${dir}`, '--epochs', '3', '--batch', '256']);
      expect([flags.epochs, flags.batch, flags.rankingEpochs]).toEqual([3, 256, 1]);
      // The synthetic world's flags do not change with MovieLens' defaults.
      expect(parseStartFlags(['--epochs', '1']).epochs).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(START_HELP).toContain('retrieval epochs (default 1; 4 on MovieLens)');
  });

  test('refreshes in the background unless --no-refresh', () => {
    expect(parseStartFlags([]).refresh).toBe(true);
    expect(parseStartFlags(['--no-refresh']).refresh).toBe(false);
    expect(START_HELP).toContain('--no-refresh');
  });

  test('mistakes are one sentence naming the flag', () => {
    const bad: [string[], RegExp][] = [
      [['--data', 'kaggle'], /--data must be 'synthetic' or 'movielens:PATH'/],
      [['--data', 'movielens:/no/such/folder'], /does not exist/],
      [['--epochs', '0'], /--epochs must be an integer/],
      [['--categories', '9', '--items', '5'], /cannot exceed --items/],
      [['--name', 'Bad Name'], /--name must be lowercase/],
      [['--frobnicate'], /known flags/],
    ];
    for (const [argv, msg] of bad) {
      expect(() => parseStartFlags(argv)).toThrow(UsageError);
      expect(() => parseStartFlags(argv)).toThrow(msg);
    }
    expect(START_HELP).toContain('--retrain');
  });
});

describe('vireo start stops on Ctrl-C', () => {
  test('SIGINT while training prints "stopped" and exits 0', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const state = mkdtempSync(join(tmpdir(), 'vireo-start-sigint-'));
    const bin = fileURLToPath(new URL('../../bin/vireo.mjs', import.meta.url));
    const world = ['--users', '40', '--items', '30', '--events', '400', '--categories', '3'];
    const child = spawn(process.execPath, [bin, 'start', '--state', state, ...world, '--no-open'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const code = await new Promise<number | null>((resolve) => {
      const take = (c: Buffer) => {
        out += c.toString('utf8');
        if (out.includes('[2/6] train') && child.signalCode === null && !child.killed) child.kill('SIGINT');
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      child.on('exit', (c) => resolve(c));
    });
    rmSync(state, { recursive: true, force: true });
    expect(code).toBe(0);
    expect(out).toContain('vireo start: stopped.');
    expect(out).not.toContain('failed');
  }, 120_000);
});
