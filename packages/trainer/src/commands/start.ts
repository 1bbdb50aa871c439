// `vireo start`: the README's main command. Brings the whole system up on this machine, stage by
// stage, keeping its state in ./.vireo (git-ignored):
//   1 data     the default synthetic world (`vireo ingest --source synthetic`) or --data movielens:PATH
//   2 train    retrieval, then ranking, into one bundle (`vireo train retrieval|ranking`)
//   3 edge     the local edge (Node + SQLite, `vireo-edge`), its development token
//   4 publish  the bundle into the edge's registry, promoted (`vireo publish`)
//   5 history  the users' past positives sent as events, so the edge has real-time history (`vireo history`)
//   6 demo     the Vite dashboard (apps/demo), the edge proxied under the same origin; prints the URL
// A second run reuses the trained bundle (same data and sizes) unless --retrain; a retrain
// publishes a new version beside the old one, which the dashboard compares. A failure names its
// stage and why in one sentence (exit 1); a bad flag is a UsageError (exit 2).
// Every step runs as a child `vireo` / `vireo-edge` process (its own Dawn device), logged to
// .vireo/logs/<stage>.log.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBundleManifest, type BundleManifest } from '@vireo/core';
import { numberFlag, parseFlags, UsageError } from '../cli/args.ts';
import { START_REFRESH_EVERY, startBackgroundRefresh } from '../refresh/background.ts';
import { START_WORLD } from '../ingest/synthetic.ts';
import { MOVIELENS_RETRIEVAL } from '../retrieval/defaults.ts';
import { fmtSeconds, parseCpuLine, PIPED_EVERY_MS, Stages } from '../cli/progress.ts';
import { START_FLAGS } from '../../bin/start-flags.mjs';
import { EdgeError, edgeClient } from '../cli/edge.ts';
import { historySummary, sendHistory, type HistoryResult } from './history.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const VIREO_BIN = join(ROOT, 'packages/trainer/bin/vireo.mjs');
const EDGE_BIN = join(ROOT, 'packages/edge-worker/bin/vireo-edge.mjs');
const DEMO_ROOT = join(ROOT, 'apps/demo');

/**
 * Every default below was chosen on the validation split, never on test (docs/ARCHITECTURE.md, section 4,
 * "Defaults per dataset kind", has the table and the numbers).
 *
 * The default world: trains in a few minutes on 2 CPU cores through SwiftShader. The ranker's
 * validation AUC peaks at epoch 2 (then 2.5 and 3 are lower), and the best weights are kept: a third
 * epoch trained a model that was thrown away. Retrieval: one epoch validates as well as three (NDCG@10 0.099 after
 * one, 0.096 after two, 0.094 after three, mean of seeds 1 and 2, each ± 0.010), at a third of the cost.
 */
export const DEFAULT_START = {
  ...START_WORLD,
  epochs: 1,
  rankingEpochs: 2,
  batch: 128,
  rankingBatch: 256,
};

/**
 * MovieLens (ml-latest-small). Ranking: the validation AUC peaks after one epoch (0.6825, then 0.6752
 * at 1.5), so one epoch keeps the same best weights at a third of the cost. Retrieval: MOVIELENS_RETRIEVAL
 * (retrieval/defaults.ts), which `vireo train retrieval` also reads from the dataset, order-aware flags included.
 */
export const MOVIELENS_START = {
  epochs: MOVIELENS_RETRIEVAL.epochs,
  batch: MOVIELENS_RETRIEVAL.batch,
  rankingEpochs: 1,
};

const FLAGS = START_FLAGS;

const WORLD_DEFAULTS = [DEFAULT_START.users, DEFAULT_START.items, DEFAULT_START.events, DEFAULT_START.categories];
const ML = MOVIELENS_START;
const W = DEFAULT_START;
export const START_HELP = `usage: vireo start [flags]

Brings Vireo up on this machine: data → train retrieval and ranking → local edge → publish →
history → demo dashboard. State lives in ./.vireo; a second run reuses the trained bundle.

flags:
  --data synthetic|movielens:PATH  the data (default: a synthetic world)
  --retrain                        train a new version even when a bundle exists
  --users N --items N --events N --categories N   synthetic world size (default ${WORLD_DEFAULTS.join(', ')})
  --epochs N                       retrieval epochs (default ${W.epochs}; ${ML.epochs} on MovieLens)
  --ranking-epochs N               ranking epochs (default ${W.rankingEpochs}; ${ML.rankingEpochs} on MovieLens)
  --batch N                        retrieval samples per step, a multiple of 8 (default ${W.batch}; ${ML.batch} on
                                   MovieLens)
  --ranking-batch N                ranking samples per step (default ${DEFAULT_START.rankingBatch})
  --port P                         the edge's port (default 8787)
  --demo-port P                    the dashboard's port (default 5173)
  --host H                         the dashboard's host (default localhost)
  --state DIR                      where state lives (default ./.vireo)
  --name NAME                      the model's name in the registry (default vireo)
  --no-history                     do not send the users' past interactions to the edge
  --no-refresh                     do not run vireo refresh every 5 minutes in the background
  --no-open                        do not open a browser
`;

/** A failure of one stage: printed as "<stage> failed: <why>". */
export class StageError extends Error {
  constructor(
    readonly stage: string,
    why: string,
  ) {
    super(why);
    this.name = 'StageError';
  }
}

interface StartOptions {
  data:
    | { kind: 'synthetic'; world: { users: number; items: number; events: number; categories: number } }
    | { kind: 'movielens'; path: string };
  retrain: boolean;
  state: string;
  name: string;
  port: number;
  demoPort: number;
  host: string;
  epochs: number;
  rankingEpochs: number;
  batch: number;
  rankingBatch: number;
  open: boolean;
  history: boolean;
  refresh: boolean;
}

export function parseStartFlags(argv: string[]): StartOptions & { help: boolean } {
  const { values: v } = parseFlags(argv, FLAGS, 'start');
  const int = (name: keyof typeof FLAGS, fallback: number, min = 1, max = 100_000_000) =>
    numberFlag(v[name] as string | undefined, name, fallback, { integer: true, min, max });
  const dataFlag = (v.data as string | undefined) ?? 'synthetic';
  let data: StartOptions['data'];
  if (dataFlag === 'synthetic') {
    data = {
      kind: 'synthetic',
      world: {
        users: int('users', DEFAULT_START.users, 2),
        items: int('items', DEFAULT_START.items, 2),
        events: int('events', DEFAULT_START.events, 10),
        categories: int('categories', DEFAULT_START.categories),
      },
    };
    if (data.world.categories > data.world.items)
      throw new UsageError(`--categories (${data.world.categories}) cannot exceed --items (${data.world.items}).`);
  } else if (dataFlag.startsWith('movielens:')) {
    const path = resolve(dataFlag.slice('movielens:'.length));
    if (!existsSync(path))
      throw new UsageError(`--data ${dataFlag}: ${path} does not exist (expected an ml-latest-small folder).`);
    for (const f of ['users', 'items', 'events', 'categories'] as const)
      if (v[f] !== undefined)
        throw new UsageError(`--${f} only applies to the synthetic world, not to --data ${dataFlag}.`);
    data = { kind: 'movielens', path };
  } else {
    throw new UsageError(`--data must be 'synthetic' or 'movielens:PATH', got '${dataFlag}'.`);
  }
  if (v.batch !== undefined && int('batch', 8) % 8 !== 0)
    throw new UsageError(`--batch must be a multiple of 8, got '${v.batch}'.`);
  const kind = data.kind === 'movielens' ? MOVIELENS_START : DEFAULT_START;
  const name = (v.name as string | undefined) ?? 'vireo';
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name))
    throw new UsageError(`--name must be lowercase letters, digits, '-' and '_', got '${name}'.`);
  return {
    help: v.help ?? false,
    data,
    retrain: v.retrain ?? false,
    state: resolve((v.state as string | undefined) ?? '.vireo'),
    name,
    port: int('port', 8787, 0, 65535),
    demoPort: int('demo-port', 5173, 0, 65535),
    host: (v.host as string | undefined) ?? 'localhost',
    // The dataset kind's defaults (chosen on validation, see MOVIELENS_START); a flag wins.
    epochs: int('epochs', kind.epochs),
    rankingEpochs: int('ranking-epochs', kind.rankingEpochs),
    batch: int('batch', kind.batch, 8, 65536),
    rankingBatch: int('ranking-batch', DEFAULT_START.rankingBatch, 1, 65536),
    open: !(v['no-open'] ?? false),
    history: !(v['no-history'] ?? false),
    refresh: !(v['no-refresh'] ?? false),
  };
}

// ---------------------------------------------------------------------------------------------
// Child processes (every one alive is in `live`, so that a signal or an exit takes them along).

const live = new Set<ChildProcess>();
function track<C extends ChildProcess>(child: C): C {
  live.add(child);
  child.once('close', () => live.delete(child));
  return child;
}

/**
 * Runs `node BIN ...args`, its output to `log`; resolves with stdout and the child's CPU seconds (its
 * `@cpu` line), rejects with the last error line.
 */
function runChild(
  stage: string,
  stages: Stages,
  bin: string,
  args: string[],
  log: string,
): Promise<{ stdout: string; cpu: number }> {
  return new Promise((resolvePromise, reject) => {
    const out = createWriteStream(log);
    out.write(`$ ${bin} ${args.join(' ')}\n`);
    // VIREO_PROGRESS=json: the child's bars arrive as `@progress` lines for this process's stage bar.
    const child = track(
      spawn(process.execPath, [bin, ...args], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, VIREO_PROGRESS: 'json' },
      }),
    );
    let stdout = '';
    let lastLine = '';
    let partial = '';
    let cpu = 0;
    const take = (chunk: Buffer, isOut: boolean) => {
      const text = chunk.toString('utf8');
      if (isOut) stdout += text;
      const lines = (partial + text).split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const raw of lines) {
        cpu += parseCpuLine(raw) ?? 0;
        if (stages.feed(raw)) continue;
        out.write(`${raw}\n`);
        const line = raw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trim();
        if (!line) continue;
        lastLine = line;
        stages.note(line);
      }
    };
    child.stdout.on('data', (c: Buffer) => take(c, true));
    child.stderr.on('data', (c: Buffer) => take(c, false));
    child.on('error', (err) => reject(new StageError(stage, `${bin} could not start (${err.message}).`)));
    child.on('close', (code) => {
      if (partial) out.write(partial);
      out.end();
      if (code === 0) resolvePromise({ stdout, cpu });
      else reject(new StageError(stage, `${oneSentence(lastLine) || `exit code ${code}`} (full log: ${log}).`));
    });
  });
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function oneSentence(line: string): string {
  return line.replace(/^vireo[ a-z-]*: /, '').replace(/[.\s]+$/, '');
}

async function freePort(preferred: number, host: string): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | null>((res) => {
      const s = createNetServer();
      s.once('error', () => res(null));
      s.listen(port, host === 'localhost' ? '127.0.0.1' : host, () => {
        const got = (s.address() as { port: number }).port;
        s.close(() => res(got));
      });
    });
  return (await tryPort(preferred)) ?? (await tryPort(0))!;
}

/** Starts the edge; resolves once it listens, with its URL and development token. */
function startEdge(
  stages: Stages,
  state: string,
  port: number,
  log: string,
): Promise<{ url: string; token: string; child: ChildProcess }> {
  return new Promise((resolvePromise, reject) => {
    const out = createWriteStream(log);
    const child = track(
      spawn(process.execPath, [EDGE_BIN, '--dev', '--port', String(port), '--data', join(state, 'edge'), '--quiet'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    let stdout = '';
    let stderr = '';
    let done = false;
    child.stdout.on('data', (c: Buffer) => {
      out.write(c);
      stdout += c.toString('utf8');
      const token = /development token[^:]*: (\S+)/.exec(stdout)?.[1];
      const url = /listening on (\S+)/.exec(stdout)?.[1];
      if (url && !done) {
        done = true;
        if (!token)
          reject(
            new StageError('edge', 'the edge printed no development token: unset VIREO_JWT_SECRET for the local demo.'),
          );
        else resolvePromise({ url, token, child });
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      out.write(c);
      stderr += c.toString('utf8');
      stages.note(c.toString('utf8').split('\n').filter(Boolean).at(-1) ?? '');
    });
    child.on('error', (err) => reject(new StageError('edge', `the edge could not start (${err.message}).`)));
    child.on('close', (code) => {
      if (!done) {
        done = true;
        const last =
          stderr
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean)
            .at(-1) ?? `exit code ${code}`;
        reject(new StageError('edge', `${oneSentence(last)} (full log: ${log}).`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// State in .vireo: data/, bundles/<version>/, edge/, logs/, state.json.

interface StateFile {
  /** The data and sizes the current bundle was trained with. */
  key: string;
  versions: string[];
  current: string | null;
  /** Edge history seeded for this data key. */
  historyFor?: string;
}

function readState(path: string): StateFile {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as StateFile;
  } catch {
    return { key: '', versions: [], current: null };
  }
}

function dataKey(o: StartOptions): string {
  return JSON.stringify(o.data.kind === 'synthetic' ? { synthetic: o.data.world } : { movielens: o.data.path });
}

// ---------------------------------------------------------------------------------------------

export async function run(argv: string[]): Promise<number> {
  const o = parseStartFlags(argv);
  if (o.help) {
    process.stdout.write(START_HELP);
    return 0;
  }
  const stages = new Stages(6, process.stderr, PIPED_EVERY_MS, true);
  let closeDemo: (() => Promise<void>) | null = null;
  const killChildren = () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  };
  // Ctrl-C (or a SIGTERM) is how a person stops the stack: "stopped", exit 0. Before the stack is
  // up it stops the running stage (its children go too); once up, it ends the wait below.
  let stopping = false;
  let onSignal: (() => void) | null = null;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (onSignal) return onSignal();
    killChildren();
    stages.stopped();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const shutdown = async () => {
    killChildren();
    await closeDemo?.().catch(() => {});
  };
  // Whoever ends this process (a signal, Vite's own SIGTERM handler, an error), the edge goes too.
  process.on('exit', killChildren);
  try {
    mkdirSync(join(o.state, 'logs'), { recursive: true });
    const statePath = join(o.state, 'state.json');
    const st = readState(statePath);
    const key = dataKey(o);
    const dataDir = join(o.state, 'data');
    const save = () => writeFileSync(statePath, JSON.stringify(st, null, 2) + '\n');

    // 1 data
    const dataReady = existsSync(join(dataDir, 'dataset.json')) && st.key === key;
    const sameBundle =
      dataReady && st.current !== null && existsSync(join(o.state, 'bundles', st.current, 'manifest.json'));
    stages.begin(
      'data',
      o.data.kind === 'synthetic'
        ? `synthetic world (${o.data.world.users.toLocaleString('en-US')} users, ` +
            `${o.data.world.items.toLocaleString('en-US')} items, ` +
            `${o.data.world.events.toLocaleString('en-US')} impressions)`
        : `MovieLens from ${o.data.path}`,
    );
    if (dataReady) stages.end(`reused from ${dataDir}`);
    else {
      rmSync(dataDir, { recursive: true, force: true });
      const args =
        o.data.kind === 'synthetic'
          ? [
              'ingest',
              '--source',
              'synthetic',
              '--out',
              dataDir,
              '--users',
              String(o.data.world.users),
              '--items',
              String(o.data.world.items),
              '--events',
              String(o.data.world.events),
              '--categories',
              String(o.data.world.categories),
            ]
          : ['ingest', '--source', 'movielens', '--path', o.data.path, '--out', dataDir];
      await runChild('data', stages, VIREO_BIN, args, join(o.state, 'logs', 'data.log'));
      st.key = key;
      st.current = null;
      st.historyFor = undefined;
      save();
      stages.end('written');
    }
    const dataset = JSON.parse(readFileSync(join(dataDir, 'dataset.json'), 'utf8')) as {
      counts?: { impressions?: number };
    };
    const canRank = (dataset.counts?.impressions ?? 0) > 0;

    // The edge, Vite's module and the display catalogue load while the models train: they need nothing
    // from training, and on two loaded cores each is seconds off the wait.
    const edgePort = await freePort(o.port, '127.0.0.1');
    const edgeReady = startEdge(stages, o.state, edgePort, join(o.state, 'logs', 'edge.log'));
    edgeReady.catch(() => {}); // awaited in the edge stage, which reports its failure
    const viteReady = import('vite');
    viteReady.catch(() => {}); // startDemo reports a missing Vite
    const catalogueReady =
      o.data.kind === 'movielens' ? movielensCatalogue(o.data.path).catch(() => null) : Promise.resolve(null);

    // 2 train
    stages.begin(
      'train',
      `retrieval (two towers, ` +
        `${plural(o.epochs, 'epoch')})${canRank ? ` and ranking (DLRM, ${plural(o.rankingEpochs, 'epoch')})` : ''}`,
    );
    let version: string;
    if (sameBundle && !o.retrain) {
      version = st.current!;
      stages.end(`reused version ${version} (--retrain for a new one)`);
    } else {
      const existing = existsSync(join(o.state, 'bundles'))
        ? readdirSync(join(o.state, 'bundles')).map(Number).filter(Number.isInteger)
        : [];
      version = String(Math.max(0, ...existing) + 1);
      const out = join(o.state, 'bundles', version);
      rmSync(out, { recursive: true, force: true });
      // A retrain changes the seed so the two versions differ and can be compared. Retrieval and
      // ranking train at once (two processes, two Dawn devices): the ranker goes to a folder of its
      // own and joins the bundle when both are done (mergeRanker).
      const seed = String(Number(version));
      const rankerDir = join(out, '.ranking');
      const timed = async (what: string, job: Promise<{ cpu: number }>, summary: () => string) => {
        const t0 = performance.now();
        const { cpu } = await job;
        const took = `${fmtSeconds((performance.now() - t0) / 1000)}, ${cpu.toFixed(0)} CPU-s`;
        stages.detail(`${what} ${summary()} ${stages.dim(`(${took})`)}`);
      };
      await Promise.all([
        timed(
          'retrieval',
          runChild(
            'train',
            stages,
            VIREO_BIN,
            [
              ...['train', 'retrieval', '--data', dataDir, '--out', out, '--name', o.name, '--version', version],
              ...['--epochs', String(o.epochs), '--batch', String(o.batch), '--seed', seed, '--quiet'],
            ],
            join(o.state, 'logs', 'train-retrieval.log'),
          ),
          () => retrievalSummary(out),
        ),
        canRank
          ? timed(
              'ranking',
              runChild(
                'train',
                stages,
                VIREO_BIN,
                [
                  ...['train', 'ranking', '--data', dataDir, '--out', rankerDir, '--epochs', String(o.rankingEpochs)],
                  ...['--batch', String(o.rankingBatch), '--evals-per-epoch', '2', '--seed', seed, '--quiet'],
                ],
                join(o.state, 'logs', 'train-ranking.log'),
              ),
              () => rankingSummary(rankerDir),
            )
          : null,
      ]);
      if (canRank) mergeRanker(out, rankerDir);
      for (const f of ['checkpoint', 'checkpoint.safetensors']) rmSync(join(out, f), { recursive: true, force: true });
      st.current = version;
      st.versions = [...new Set([...st.versions, version])];
      save();
      stages.end(`version ${version} in ${out}`);
    }

    // 3 edge
    stages.begin('edge', `local edge (Node + SQLite) on port ${edgePort}`);
    const edge = await edgeReady;
    stages.end(edge.url);

    // 4 publish (the registry skips files it holds already)
    stages.begin('publish', `${o.name}@${version} into the edge's registry`);
    await runChild(
      'publish',
      stages,
      VIREO_BIN,
      [
        'publish',
        '--bundle',
        join(o.state, 'bundles', version),
        '--edge',
        edge.url,
        '--token',
        edge.token,
        '--promote',
        '--quiet',
      ],
      join(o.state, 'logs', 'publish.log'),
    );
    stages.end('promoted');

    // 5 history: the users' past interactions as events (idempotent event ids)
    stages.begin('history', 'past interactions → edge events (real-time user history)');
    if (!o.history) stages.end('skipped (--no-history)');
    else if (st.historyFor === key) stages.end('already sent');
    else {
      const t0 = performance.now();
      const sent = await sendHistoryStage(dataDir, edge, (n, total) =>
        stages.bar({ label: 'events', done: n, total, elapsed: (performance.now() - t0) / 1000, fields: {} }),
      );
      st.historyFor = key;
      save();
      stages.end(historySummary(sent));
    }

    // 6 demo
    const demoPort = await freePort(o.demoPort, o.host);
    stages.begin('demo', `Vite dashboard on port ${demoPort}`);
    const demo = await startDemo({
      port: demoPort,
      host: o.host,
      edge: edge.url,
      token: edge.token,
      model: o.name,
      versions: st.versions,
      dataset: o.data.kind,
      catalogue: await catalogueReady,
      vite: viteReady,
    });
    closeDemo = demo.close;
    stages.end('ready');

    process.stdout.write(
      `\n  ${stages.bold('Vireo is up:')} ${demo.url}\n  ` +
        `${stages.dim(`edge ${edge.url} · model ${o.name}@${version} · state in ${o.state} · Ctrl-C to stop`)}\n\n`,
    );
    if (o.open) openBrowser(demo.url);
    // The training loop: the edge's new events become the next version every few minutes.
    if (o.refresh) {
      const refresh = startBackgroundRefresh({
        edge: edge.url,
        token: edge.token,
        state: o.state,
        data: dataDir,
        model: o.name,
      });
      track(refresh.child);
      const note = `refresh every ${START_REFRESH_EVERY} in the background (log: ${refresh.log})`;
      process.stdout.write(`  ${stages.dim(note)}\n\n`);
    }

    // Stay up until a signal or the edge exits. The terminal's Ctrl-C reaches the edge too, which
    // then exits 0 (or by the signal), possibly before this process sees it: that is a stop as well.
    const code = await new Promise<number>((res) => {
      onSignal = () => res(0);
      edge.child.once('exit', (c, signal) => {
        if (stopping || c === 0 || signal === 'SIGINT' || signal === 'SIGTERM') return res(0);
        process.stderr.write(
          stages.red(`vireo start: the edge stopped (exit code ${c}); see ${join(o.state, 'logs', 'edge.log')}.\n`),
        );
        res(1);
      });
    });
    await shutdown();
    if (code === 0) stages.stopped();
    return code;
  } catch (err) {
    await shutdown();
    if (stopping) {
      stages.stopped();
      return 0;
    }
    if (err instanceof StageError) {
      stages.fail(err.stage, err.message);
      return 1;
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The train stage's summaries and the ranker joining the bundle.

function manifestAt(dir: string): BundleManifest {
  return parseBundleManifest(readFileSync(join(dir, 'manifest.json'), 'utf8'));
}

const f3 = (x: number | undefined) => (x === undefined ? '?' : x.toFixed(3));

/** "NDCG@10 0.081 (best baseline mostPopular 0.083: the model loses)". */
export function retrievalSummary(dir: string): string {
  const m = (manifestAt(dir).metrics as { retrieval?: { metrics?: Record<string, Record<string, number>> } }).retrieval
    ?.metrics;
  if (!m?.model) return 'trained (not evaluated)';
  const [name, best] = Object.entries(m)
    .filter(([k]) => k !== 'model' && k !== 'model.int8' && k !== 'oracle')
    .reduce<[string, number]>((a, [k, v]) => ((v['ndcg@10'] ?? 0) > a[1] ? [k, v['ndcg@10'] ?? 0] : a), ['', -1]);
  const model = m.model['ndcg@10'] ?? 0;
  return (
    `NDCG@10 ${f3(model)}, Recall@10 ${f3(m.model['recall@10'])}` +
    (name ? ` (best baseline ${name} ${f3(best)}${model < best ? ': the model loses to it' : ''})` : '')
  );
}

/** "CTR AUC 0.712 (logistic 0.701)". */
export function rankingSummary(dir: string): string {
  const r = (
    manifestAt(dir).metrics as {
      ranking?: { test?: { model?: { ctr?: { auc: number } }; baselines?: { logistic?: { ctr?: { auc: number } } } } };
    }
  ).ranking?.test;
  const model = r?.model?.ctr?.auc;
  const logistic = r?.baselines?.logistic?.ctr?.auc;
  return (
    `CTR AUC ${f3(model)}` +
    (logistic !== undefined
      ? ` (logistic ${f3(logistic)}${model !== undefined && model < logistic ? ': the model loses to it' : ''})`
      : '')
  );
}

/**
 * Moves a ranker trained into its own folder (a ranker-only bundle) into the retrieval bundle:
 * its files, and its manifest's architecture.ranking, trainingData.ranking and metrics.ranking, as
 * `vireo train ranking --out BUNDLE` would have written them beside retrieval.
 */
export function mergeRanker(bundleDir: string, rankerDir: string): void {
  const base = manifestAt(bundleDir);
  const ranker = manifestAt(rankerDir);
  const moved = ranker.files.filter((f) => f.name.startsWith('ranking.'));
  for (const f of moved) renameSync(join(rankerDir, f.name), join(bundleDir, f.name));
  const merged = parseBundleManifest({
    ...base,
    architecture: { ...base.architecture, ranking: ranker.architecture.ranking },
    files: [...base.files.filter((f) => !moved.some((m) => m.name === f.name)), ...moved],
    trainingData: { ...base.trainingData, ranking: (ranker.trainingData as Record<string, unknown>).ranking },
    metrics: { ...base.metrics, ranking: (ranker.metrics as Record<string, unknown>).ranking },
  });
  writeFileSync(join(bundleDir, 'manifest.json'), `${JSON.stringify(merged, null, 2)}\n`);
  rmSync(rankerDir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------

/** The history stage: `vireo history`'s sendHistory, its failures worded as the stage's. */
async function sendHistoryStage(
  dataDir: string,
  edge: { url: string; token: string },
  onSent: (done: number, total: number) => void,
): Promise<HistoryResult> {
  try {
    return await sendHistory(dataDir, edgeClient(edge.url, edge.token, 4), { sent: (n, r) => onSent(n, r.events) });
  } catch (err) {
    if (err instanceof EdgeError) throw new StageError('history', err.message);
    if (err instanceof UsageError)
      throw new StageError('history', `the dataset could not be read (${err.message.replace(/\.$/, '')}).`);
    throw err;
  }
}

/** What the dashboard shows for an item beyond what the bundle holds (docs/ARCHITECTURE.md, "Dashboard"). */
export interface DisplayItem {
  title: string;
  year?: number;
  categories?: string[];
}

/** The display catalogue served at /vireo-catalogue.json: item id → title, year and categories. */
export interface DisplayCatalogue {
  source: string;
  /** What the categories are called ("genres"). */
  categories: string;
  items: Record<string, DisplayItem>;
}

/** MovieLens' movies.csv as the display catalogue: full titles with the year, genres as categories. */
export async function movielensCatalogue(dir: string): Promise<DisplayCatalogue> {
  const { forEachRecord } = await import('../ingest/read.ts');
  const items: Record<string, DisplayItem> = {};
  await forEachRecord(join(dir, 'movies.csv'), 'csv', (f, line) => {
    if (line === 1 || f === null || f.length !== 3) return;
    const year = /\((\d{4})(?:[–-]\d{4})?\)\s*$/.exec(f[1])?.[1];
    items[f[0].trim()] = {
      title: f[1].trim(),
      ...(year ? { year: Number(year) } : {}),
      categories: f[2] === '(no genres listed)' ? [] : f[2].split('|').filter(Boolean),
    };
  });
  return { source: 'movielens', categories: 'genres', items };
}

/** The dashboard on Vite's dev server, the edge proxied under /v1 and its settings at /vireo.json. */
async function startDemo(c: {
  port: number;
  host: string;
  edge: string;
  token: string;
  model: string;
  versions: string[];
  dataset: string;
  catalogue: DisplayCatalogue | null;
  /** Vite's module, its import begun early. */
  vite: Promise<typeof import('vite')>;
}): Promise<{ url: string; close: () => Promise<void> }> {
  let vite: typeof import('vite');
  try {
    vite = await c.vite;
  } catch (err) {
    throw new StageError(
      'demo',
      `Vite is not installed (${(err as Error).message.split('\n')[0]}): run npm start from the repository root.`,
    );
  }
  const settings = JSON.stringify({
    model: c.model,
    token: c.token,
    versions: c.versions,
    edgeDirect: c.edge,
    dataset: c.dataset,
    catalogue: c.catalogue ? '/vireo-catalogue.json' : null,
  });
  const catalogue = c.catalogue ? JSON.stringify(c.catalogue) : null;
  try {
    const server = await vite.createServer({
      configFile: join(ROOT, 'vite.config.ts'),
      root: DEMO_ROOT,
      logLevel: 'warn',
      clearScreen: false,
      server: {
        port: c.port,
        host: c.host,
        strictPort: true,
        proxy: { '/v1': { target: c.edge, changeOrigin: true }, '/healthz': { target: c.edge, changeOrigin: true } },
      },
      plugins: [
        {
          name: 'vireo-settings',
          configureServer(s) {
            s.middlewares.use('/vireo.json', (_req, res) => {
              res.setHeader('content-type', 'application/json');
              res.setHeader('cache-control', 'no-store');
              res.end(settings);
            });
            if (catalogue)
              s.middlewares.use('/vireo-catalogue.json', (_req, res) => {
                res.setHeader('content-type', 'application/json');
                res.end(catalogue);
              });
          },
        },
      ],
    });
    await server.listen();
    const url = server.resolvedUrls?.local[0] ?? `http://${c.host}:${c.port}/`;
    return { url, close: () => server.close() };
  } catch (err) {
    throw new StageError(
      'demo',
      `the Vite dev server could not start (${(err as Error).message.split('\n')[0].replace(/\.$/, '')}).`,
    );
  }
}

function openBrowser(url: string): void {
  if (!process.env.DISPLAY && process.platform === 'linux') return;
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'start' : 'xdg-open';
  try {
    spawn(cmd, [url], { stdio: 'ignore', detached: true })
      .on('error', () => {})
      .unref();
  } catch {
    // no browser opener here: the URL is printed above
  }
}
