// `vireo start`: the README's main command. Brings the whole system up on this machine, stage by
// stage, keeping its state in ./.vireo (git-ignored):
//   1 data     the default synthetic world (`vireo ingest --source synthetic`) or --data movielens:PATH
//   2 train    retrieval, then ranking, into one bundle (`vireo train retrieval|ranking`)
//   3 edge     the local edge (Node + SQLite, `vireo-edge`), its development token
//   4 publish  the bundle into the edge's registry, promoted (`vireo publish`)
//   5 history  the users' training interactions sent as events, so the edge has real-time history
//   6 demo     the Vite dashboard (apps/demo), the edge proxied under the same origin; prints the URL
// A second run reuses the trained bundle (same data and sizes) unless --retrain; a retrain
// publishes a new version beside the old one, which the dashboard compares. A failure names its
// stage and why in one sentence (exit 1); a bad flag is a UsageError (exit 2).
// Every step runs as a child `vireo` / `vireo-edge` process (its own Dawn device), logged to
// .vireo/logs/<stage>.log.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberFlag, parseFlags, UsageError } from '../cli/args.ts';
import { START_REFRESH_EVERY, startBackgroundRefresh } from '../refresh/background.ts';
import { START_WORLD } from '../ingest/synthetic.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const VIREO_BIN = join(ROOT, 'packages/trainer/bin/vireo.mjs');
const EDGE_BIN = join(ROOT, 'packages/edge-worker/bin/vireo-edge.mjs');
const DEMO_ROOT = join(ROOT, 'apps/demo');

/** The default world: trains in a few minutes on 2 CPU cores through SwiftShader. */
export const DEFAULT_START = { ...START_WORLD, epochs: 3, rankingEpochs: 3 };

const FLAGS = {
  data: { type: 'string' },
  retrain: { type: 'boolean' },
  state: { type: 'string' },
  name: { type: 'string' },
  port: { type: 'string' },
  'demo-port': { type: 'string' },
  host: { type: 'string' },
  users: { type: 'string' },
  items: { type: 'string' },
  events: { type: 'string' },
  categories: { type: 'string' },
  epochs: { type: 'string' },
  'ranking-epochs': { type: 'string' },
  'no-open': { type: 'boolean' },
  'no-history': { type: 'boolean' },
  'no-refresh': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const WORLD_DEFAULTS = [DEFAULT_START.users, DEFAULT_START.items, DEFAULT_START.events, DEFAULT_START.categories];
export const START_HELP = `usage: vireo start [flags]

Brings Vireo up on this machine: data → train retrieval and ranking → local edge → publish →
history → demo dashboard. State lives in ./.vireo; a second run reuses the trained bundle.

flags:
  --data synthetic|movielens:PATH  the data (default: a synthetic world)
  --retrain                        train a new version even when a bundle exists
  --users N --items N --events N --categories N   synthetic world size (default ${WORLD_DEFAULTS.join(', ')})
  --epochs N                       retrieval epochs (default ${DEFAULT_START.epochs})
  --ranking-epochs N               ranking epochs (default ${DEFAULT_START.rankingEpochs})
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
    epochs: int('epochs', DEFAULT_START.epochs),
    rankingEpochs: int('ranking-epochs', DEFAULT_START.rankingEpochs),
    open: !(v['no-open'] ?? false),
    history: !(v['no-history'] ?? false),
    refresh: !(v['no-refresh'] ?? false),
  };
}

// ---------------------------------------------------------------------------------------------
// Progress: one line per stage; on a terminal the running line shows the elapsed time and the
// child's last progress fragment.

const tty = process.stderr.isTTY === true;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const green = (s: string) => (tty ? `\x1b[32m${s}\x1b[0m` : s);
const red = (s: string) => (tty ? `\x1b[31m${s}\x1b[0m` : s);

class Stages {
  private index = 0;
  private current: {
    name: string;
    what: string;
    t0: number;
    last: string;
    timer: ReturnType<typeof setInterval> | null;
  } | null = null;
  constructor(private readonly total: number) {}

  begin(name: string, what: string): void {
    this.index++;
    const t0 = Date.now();
    const prefix = `${dim(`[${this.index}/${this.total}]`)} ${bold(name.padEnd(8))} ${what}`;
    const timer = tty ? setInterval(() => this.redraw(), 500) : null;
    this.current = { name, what: prefix, t0, last: '', timer };
    if (tty) this.redraw();
    else process.stderr.write(`${prefix} …\n`);
  }

  note(fragment: string): void {
    if (this.current) this.current.last = fragment.trim().slice(0, 60);
  }

  private redraw(): void {
    const c = this.current;
    if (!c) return;
    const s = ((Date.now() - c.t0) / 1000).toFixed(0);
    process.stderr.write(`\r\x1b[2K${c.what} ${dim(`${s} s ${c.last}`)}`);
  }

  end(result: string): void {
    const c = this.current;
    if (!c) return;
    if (c.timer) clearInterval(c.timer);
    const s = ((Date.now() - c.t0) / 1000).toFixed(1);
    process.stderr.write(`${tty ? '\r\x1b[2K' : ''}${c.what} ${green('✓')} ${result} ${dim(`(${s} s)`)}\n`);
    this.current = null;
  }

  fail(err: StageError): void {
    const c = this.current;
    if (c?.timer) clearInterval(c.timer);
    const failed = red(bold(`vireo start: the ${err.stage} stage failed: ${err.message}`));
    process.stderr.write(`${tty && c ? '\r\x1b[2K' : ''}${c ? `${c.what} ${red('✗')}\n` : ''}${failed}\n`);
    this.current = null;
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes (every one alive is in `live`, so that a signal or an exit takes them along).

const live = new Set<ChildProcess>();
function track<C extends ChildProcess>(child: C): C {
  live.add(child);
  child.once('close', () => live.delete(child));
  return child;
}

/** Runs `node BIN ...args`, its output to `log`; resolves with stdout, rejects with the last error line. */
function runChild(stage: string, stages: Stages, bin: string, args: string[], log: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const out = createWriteStream(log);
    out.write(`$ ${bin} ${args.join(' ')}\n`);
    const child = track(spawn(process.execPath, [bin, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let lastLine = '';
    const take = (chunk: Buffer, isOut: boolean) => {
      const text = chunk.toString('utf8');
      out.write(text);
      if (isOut) stdout += text;
      const lines = text
        .split(/[\r\n]+/)
        .map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trim())
        .filter(Boolean);
      if (lines.length > 0) {
        lastLine = lines[lines.length - 1];
        stages.note(lastLine);
      }
    };
    child.stdout.on('data', (c: Buffer) => take(c, true));
    child.stderr.on('data', (c: Buffer) => take(c, false));
    child.on('error', (err) => reject(new StageError(stage, `${bin} could not start (${err.message}).`)));
    child.on('close', (code) => {
      out.end();
      if (code === 0) resolvePromise(stdout);
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
  const stages = new Stages(6);
  let closeDemo: (() => Promise<void>) | null = null;
  const killChildren = () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  };
  // A signal before the stack is up stops the running stage; once up, it stops the stack (below).
  let onSignal: (() => void) | null = null;
  const signalled = (code: number) => () => {
    if (onSignal) return onSignal();
    killChildren();
    process.stderr.write('\nvireo start: stopped.\n');
    process.exit(code);
  };
  process.once('SIGINT', signalled(130));
  process.once('SIGTERM', signalled(143));
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
      // A retrain changes the seed so the two versions differ and can be compared.
      const seed = String(Number(version));
      await runChild(
        'train',
        stages,
        VIREO_BIN,
        [
          'train',
          'retrieval',
          '--data',
          dataDir,
          '--out',
          out,
          '--name',
          o.name,
          '--version',
          version,
          '--epochs',
          String(o.epochs),
          '--seed',
          seed,
          '--quiet',
        ],
        join(o.state, 'logs', 'train-retrieval.log'),
      );
      if (canRank)
        await runChild(
          'train',
          stages,
          VIREO_BIN,
          [
            'train',
            'ranking',
            '--data',
            dataDir,
            '--out',
            out,
            '--epochs',
            String(o.rankingEpochs),
            '--seed',
            seed,
            '--quiet',
          ],
          join(o.state, 'logs', 'train-ranking.log'),
        );
      for (const f of ['checkpoint', 'checkpoint.safetensors']) rmSync(join(out, f), { recursive: true, force: true });
      st.current = version;
      st.versions = [...new Set([...st.versions, version])];
      save();
      stages.end(`version ${version} in ${out}`);
    }

    // 3 edge
    const edgePort = await freePort(o.port, '127.0.0.1');
    stages.begin('edge', `local edge (Node + SQLite) on port ${edgePort}`);
    const edge = await startEdge(stages, o.state, edgePort, join(o.state, 'logs', 'edge.log'));
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
      const sent = await sendHistory(dataDir, edge.url, edge.token, (n, total) => stages.note(`${n}/${total}`));
      st.historyFor = key;
      save();
      stages.end(`${sent.toLocaleString('en-US')} events`);
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
    });
    closeDemo = demo.close;
    stages.end('ready');

    process.stdout.write(
      `\n  ${bold('Vireo is up:')} ${demo.url}\n  ` +
        `${dim(`edge ${edge.url} · model ${o.name}@${version} · state in ${o.state} · Ctrl-C to stop`)}\n\n`,
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
      process.stdout.write(`  ${dim(`refresh every ${START_REFRESH_EVERY} in the background (log: ${refresh.log})`)}

`);
    }

    // Stay up until a signal or the edge exits.
    const code = await new Promise<number>((res) => {
      onSignal = () => res(0);
      edge.child.once('exit', (c) => {
        process.stderr.write(
          red(`vireo start: the edge stopped (exit code ${c}); see ${join(o.state, 'logs', 'edge.log')}.\n`),
        );
        res(1);
      });
    });
    await shutdown();
    return code;
  } catch (err) {
    await shutdown();
    if (err instanceof StageError) {
      stages.fail(err);
      return 1;
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------

async function sendHistory(
  dataDir: string,
  edge: string,
  token: string,
  progress: (n: number, total: number) => void,
): Promise<number> {
  const { loadDataset } = await import('../ingest/index.ts');
  let ds: ReturnType<typeof loadDataset>;
  try {
    ds = loadDataset(dataDir);
  } catch (err) {
    throw new StageError('history', `the dataset could not be read (${(err as Error).message.replace(/\.$/, '')}).`);
  }
  const it = ds.interactions;
  const users = ds.users?.ids ?? [];
  const items = ds.items?.ids ?? [];
  if (!it) return 0;
  const events: object[] = [];
  for (let r = 0; r < it.rows; r++) {
    if (!it.positive[r]) continue;
    const user = users[it.user[r]];
    const item = items[it.item[r]];
    if (user === undefined || item === undefined) continue;
    events.push({
      event_id: `history-${r}`,
      user_id: String(user),
      item_id: String(item),
      type: 'click',
      ts: Math.round(it.ts[r] * 1000),
    });
  }
  let sent = 0;
  for (let i = 0; i < events.length; i += 1000) {
    const batch = events.slice(i, i + 1000);
    let res: Response;
    try {
      res = await fetch(`${edge}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ events: batch }),
      });
    } catch (err) {
      throw new StageError('history', `the edge did not answer (${(err as Error).message}).`);
    }
    if (res.status >= 300)
      throw new StageError(
        'history',
        `the edge refused the events with HTTP ${res.status}: ${(await res.text()).slice(0, 200)}.`,
      );
    sent += batch.length;
    progress(sent, events.length);
  }
  return sent;
}

/** The dashboard on Vite's dev server, the edge proxied under /v1 and its settings at /vireo.json. */
async function startDemo(c: {
  port: number;
  host: string;
  edge: string;
  token: string;
  model: string;
  versions: string[];
}): Promise<{ url: string; close: () => Promise<void> }> {
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch (err) {
    throw new StageError(
      'demo',
      `Vite is not installed (${(err as Error).message.split('\n')[0]}): run npm start from the repository root.`,
    );
  }
  const settings = JSON.stringify({ model: c.model, token: c.token, versions: c.versions, edgeDirect: c.edge });
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
