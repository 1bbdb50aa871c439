// End to end: the README's main command (`vireo start`, on a tiny world so it trains in seconds)
// brings up the edge and the dashboard; Chromium with WebGPU (SwiftShader without a GPU) opens it,
// waits for recommendations, clicks the first one, and checks that the on-device history shows it
// and that the list changes. A second stack on a small MovieLens-shaped folder (written here) checks
// that the dataset shows: full titles with the year, genres in the list and the map's legend, no
// revenue where the bundle has no revenue head, and a layout that holds at 420 px.
// Screenshots go to test-results/demo/ (git-ignored), for a person to look at.
// VIREO_E2E_URL=http://localhost:5173/ runs the first checks against a stack that is already up.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromiumArgs, chromiumPath } from '@vireo/testkit/chromium';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHOTS = fileURLToPath(new URL('../../../test-results/demo/', import.meta.url));

interface Stack {
  child: ChildProcess | null;
  state: string | null;
  log: string[];
}

const tinyWorld = ['--users', '120', '--items', '150', '--events', '2500', '--categories', '6'];

/** Starts `vireo start` with `data` flags (1 epoch each) and resolves with the printed dashboard URL. */
function startStack(s: Stack, data: string[]): Promise<string> {
  s.state = mkdtempSync(join(tmpdir(), 'vireo-e2e-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const args = [
    'packages/trainer/bin/vireo.mjs',
    'start',
    '--state',
    s.state,
    ...data,
    '--epochs',
    '1',
    '--ranking-epochs',
    '1',
    '--port',
    String(port),
    '--demo-port',
    String(port + 1),
    '--no-open',
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  s.child = child;
  return new Promise((resolve, reject) => {
    let out = '';
    const take = (c: Buffer) => {
      const text = c.toString('utf8');
      s.log.push(text);
      out += text;
      const m = /Vireo is up:\s+(\S+)/.exec(out.replace(/\x1b\[[0-9;]*m/g, ''));
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    child.on('exit', (code) =>
      reject(new Error(`vireo start exited with ${code} before the dashboard was up:\n${s.log.join('')}`)),
    );
  });
}

async function stopStack(s: Stack): Promise<void> {
  const child = s.child;
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  if (s.state) rmSync(s.state, { recursive: true, force: true });
}

/** Waits for the ranked list; on a timeout says what the page shows instead and what the stack printed. */
async function waitForRecs(p: Page, s: Stack): Promise<void> {
  await p.waitForSelector('[data-testid="rec-item"]', { timeout: 180_000 }).catch(async (err) => {
    const shown = await p.evaluate(() => document.body.textContent.slice(0, 2000)).catch(() => '(page unreadable)');
    throw new Error(`${(err as Error).message}\npage text:\n${shown}\nlog:\n${s.log.join('').slice(-4000)}`);
  });
}

/** Runs the `vireo` CLI as a child process; resolves with its exit code and output. */
function vireo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['packages/trainer/bin/vireo.mjs', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', fail);
    child.once('exit', (code) => ok({ code, stdout, stderr }));
  });
}

const synthetic: Stack = { child: null, state: null, log: [] };
const log = synthetic.log;
let browser: Browser;
let page: Page;
let url: string;

const ids = () =>
  page.$$eval('[data-testid="rec-item"]', (els) => els.map((e) => e.getAttribute('data-item-id') ?? ''));

describe('the demo dashboard on the main command’s stack', () => {
  beforeAll(async () => {
    url = process.env.VIREO_E2E_URL ?? (await startStack(synthetic, tinyWorld));
    browser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumArgs(), headless: true });
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}\n`));
  });

  afterAll(async () => {
    await browser?.close();
    await stopStack(synthetic);
  });

  test('recommendations appear, a click enters the history and changes the list', async () => {
    mkdirSync(SHOTS, { recursive: true });
    await page.goto(url);
    await waitForRecs(page, synthetic);
    await page.waitForSelector('.map-body svg', { timeout: 30_000 });
    const backend = await page.textContent('[data-testid="backend"]');
    expect(backend).toMatch(/WebGPU|CPU/);
    // SwiftShader is named as the CPU it is, not as its vendor ("google").
    if (process.env.VIREO_GPU_ADAPTER !== 'native') expect(backend).toContain('CPU (SwiftShader)');
    // The synthetic world has every head: expected value in dollars, with pCVR and revenue shown.
    expect(await page.textContent('.ranked-stage h3')).toContain('expected value');
    expect(await page.$$('[data-testid="score-revenue"]')).not.toHaveLength(0);
    const before = await ids();
    expect(before.length).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });

    const first = before[0];
    await page.click(`[data-testid="rec-item"][data-item-id="${first}"]`);
    await page.waitForFunction(
      (id) => {
        const h = document.querySelector('[data-testid="history"]');
        return !!h && [...h.querySelectorAll('[data-item-id]')].some((e) => e.getAttribute('data-item-id') === id);
      },
      first,
      { timeout: 60_000 },
    );
    await page.waitForFunction(
      (prev) => {
        const now = [...document.querySelectorAll('[data-testid="rec-item"]')].map((e) =>
          e.getAttribute('data-item-id'),
        );
        return now.length > 0 && now.join(',') !== prev;
      },
      before.join(','),
      { timeout: 60_000 },
    );
    const after = await ids();
    expect(after).not.toEqual(before);
    expect(after).not.toContain(first); // seen items are excluded
    const history = await page.$$eval('[data-testid="history"] [data-item-id]', (els) =>
      els.map((e) => e.getAttribute('data-item-id')),
    );
    expect(history[0]).toBe(first); // newest first
    await page.screenshot({ path: join(SHOTS, 'after-click.png'), fullPage: true });
    const errors = log.filter((l) => l.startsWith('pageerror'));
    expect(errors).toEqual([]);
  });

  // It runs `vireo refresh` against the stack this file started (its state folder and data).
  test.skipIf(Boolean(process.env.VIREO_E2E_URL))(
    'an items-only refresh: its parent, the items it consumed, the decision and the metrics beside the parent’s',
    async () => {
      const state = synthetic.state!;
      const settings = (await (await fetch(new URL('vireo.json', url))).json()) as {
        edgeDirect: string;
        token: string;
        model: string;
      };
      const edgeApi = (path: string, init: RequestInit = {}) =>
        fetch(`${settings.edgeDirect}${path}`, {
          ...init,
          headers: { authorization: `Bearer ${settings.token}`, 'content-type': 'application/json', ...init.headers },
        });
      // The background refresh's first run (at start) is over: one JSON line, or a failure, in its log.
      const refreshLog = join(state, 'logs', 'refresh.log');
      const deadline = Date.now() + 240_000;
      while (!/^\{"champion"|refresh: failed/m.test(existsSync(refreshLog) ? readFileSync(refreshLog, 'utf8') : '')) {
        if (Date.now() > deadline) throw new Error(`the background refresh did not finish a run:\n${log.join('')}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      const parent = (await (await edgeApi(`/v1/models/${settings.model}/latest`)).json()) as {
        version: string;
        vocabularies: Record<string, string[]>;
      };
      const push = await edgeApi('/v1/features/push', {
        method: 'POST',
        body: JSON.stringify({
          rows: [
            { entity: 'item', id: 'e2e-new-item', features: { category: parent.vocabularies['item:category'][0] } },
          ],
        }),
      });
      expect(push.status).toBe(200);
      const r = await vireo([
        'refresh',
        ...['--edge', settings.edgeDirect, '--token', settings.token, '--model', settings.model],
        ...['--state', join(state, 'refresh-e2e'), '--data', join(state, 'data')],
        ...['--once', '--json', '--quiet', '--min-events', '1000000000'],
      ]);
      expect(r.code, r.stderr).toBe(0);
      const made = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { challenger: string; promoted: boolean };
      expect(made.promoted).toBe(true);

      await page.reload();
      await waitForRecs(page, synthetic);
      const row = `[data-testid="lineage-row"][data-version="${made.challenger}"]`;
      await page.waitForSelector(row, { timeout: 60_000 });
      const cell = (field: string) => page.textContent(`${row} [data-field="${field}"]`);
      expect(await cell('parent')).toBe(`@${parent.version}`);
      expect(await cell('consumed')).toMatch(/^1 new item · item cursor \d+→\d+$/);
      expect(await page.getAttribute(row, 'data-decision')).toBe('items-only');
      expect(await cell('decision')).toBe('items-only');
      expect(await cell('reason')).toMatch(
        /^items-only: 1 new items embedded by the item tower of .* without retraining/,
      );
      expect(await page.textContent(`${row} [data-metric="Recall@10"]`)).toMatch(/^Recall@10 \d\.\d{3} → \d\.\d{3}/);
      expect(await page.textContent(row)).toContain('serving');
      // The parent is listed too, with where it came from.
      await page.waitForSelector(`[data-testid="lineage-row"][data-version="${parent.version}"]`);
      await page.locator('[data-testid="lineage"]').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(SHOTS, 'lineage.png'), fullPage: true });
    },
    420_000,
  );
});

// A MovieLens-shaped folder (ml-latest-small's files, CRLF, a quoted title with a comma): 48 movies
// in MovieLens' 19 genres, 120 users who each rate 20 movies, the four genres they like high.
const GENRES = [
  'Action',
  'Adventure',
  'Animation',
  'Children',
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'IMAX',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
];
const G = GENRES.length;
const WORDS = ['Midnight', 'River', 'Glass', 'Harbor', 'Orchard', 'Signal', 'Lantern', 'Summit'];

function movielensFixture(dir: string): Map<string, { title: string; genres: string[] }> {
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const movies = new Map<string, { title: string; genres: string[] }>();
  const lines = ['movieId,title,genres'];
  for (let i = 0; i < 48; i++) {
    const id = String(10 + i * 3);
    const g = [GENRES[i % G], ...(i % 4 === 0 ? [GENRES[(i + 2) % G]] : [])];
    const title =
      i === 0 ? 'American President, The (1995)' : `${WORDS[i % 8]} of ${WORDS[(i * 5) % 8]} ${i} (${1970 + i})`;
    movies.set(id, { title, genres: g });
    lines.push(`${id},${title.includes(',') ? `"${title}"` : title},${g.join('|')}`);
  }
  const ids = [...movies.keys()];
  const ratings = ['userId,movieId,rating,timestamp'];
  let ts = 1_500_000_000;
  for (let u = 1; u <= 120; u++) {
    const liked = [u, u * 7, u * 3 + 5, u * 11 + 2].map((k) => GENRES[k % G]);
    const seen = new Set<string>();
    while (seen.size < 20) {
      const id = ids[Math.floor(rand() * ids.length)];
      if (seen.has(id)) continue;
      seen.add(id);
      const likes = movies.get(id)!.genres.some((g) => liked.includes(g));
      const rating = likes ? 4 + Math.round(rand() * 2) / 2 : 1 + Math.round(rand() * 4) / 2;
      ts += 1000 + Math.floor(rand() * 5000);
      ratings.push(`${u},${id},${rating.toFixed(1)},${ts}`);
    }
  }
  writeFileSync(join(dir, 'movies.csv'), `${lines.join('\r\n')}\r\n`);
  writeFileSync(join(dir, 'ratings.csv'), `${ratings.join('\r\n')}\r\n`);
  return movies;
}

describe('the dashboard on MovieLens-shaped data', () => {
  const ml: Stack = { child: null, state: null, log: [] };
  let folder: string;
  let movies: Map<string, { title: string; genres: string[] }>;
  let mlBrowser: Browser;
  let p: Page;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'vireo-e2e-ml-'));
    movies = movielensFixture(folder);
    const mlUrl = await startStack(ml, ['--data', `movielens:${folder}`, '--batch', '32', '--ranking-batch', '64']);
    mlBrowser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumArgs(), headless: true });
    // 420 px wide: a phone, or a side panel.
    p = await mlBrowser.newPage({ viewport: { width: 420, height: 900 }, deviceScaleFactor: 1 });
    p.on('pageerror', (e) => ml.log.push(`pageerror: ${e.message}\n`));
    await p.goto(mlUrl);
    await waitForRecs(p, ml);
    await p.waitForSelector('.map-body svg', { timeout: 30_000 });
  });

  afterAll(async () => {
    await mlBrowser?.close();
    await stopStack(ml);
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  test('titles with the year, genres, no revenue, and a list that holds at 420 px', async () => {
    mkdirSync(SHOTS, { recursive: true });
    await p.screenshot({ path: join(SHOTS, 'movielens-420.png'), fullPage: true });
    const recs = await p.$$eval('[data-testid="rec-item"]', (els) =>
      els.map((e) => ({
        id: e.getAttribute('data-item-id') ?? '',
        title: e.querySelector('[data-testid="rec-title"]')?.textContent ?? '',
        cats: e.querySelector('[data-testid="rec-cats"]')?.textContent ?? '',
        text: e.textContent ?? '',
        titleWidth: e.querySelector('[data-testid="rec-title"]')?.getBoundingClientRect().width ?? 0,
      })),
    );
    expect(recs.length).toBeGreaterThan(0);
    for (const r of recs) {
      const movie = movies.get(r.id)!;
      expect(movie).toBeDefined();
      expect(r.title).toBe(movie.title); // the full title with its year, not title words
      expect(r.cats.split(' · ')).toEqual(movie.genres.slice(0, 3));
      expect(r.text).not.toContain('$'); // no revenue head, no $0.00
      expect(r.titleWidth).toBeGreaterThan(200); // not one word per line
    }
    // A like-only ranker (MovieLens has no conversions or revenue): ranked by pCTR, no pCVR or revenue.
    expect(await p.textContent('.ranked-stage h3')).toContain('pCTR');
    expect(await p.$$('[data-testid="score-revenue"]')).toHaveLength(0);
    expect(await p.$$('[data-testid="score-pcvr"]')).toHaveLength(0);
    expect(await p.$$('[data-testid="score-pctr"]')).not.toHaveLength(0);
    // Genres colour the map and name its legend.
    const legend = (await p.textContent('[data-testid="map-legend"]')) ?? '';
    expect(legend).toContain('genres:');
    expect(GENRES.filter((g) => legend.includes(g)).length).toBeGreaterThanOrEqual(3);
    // Every genre that colours a movie is in the legend, each in a colour of its own (19 genres: a
    // palette of 12 repeated).
    const swatches = await p.$$eval('[data-testid="legend-category"]', (els) =>
      els.map((e) => ({
        name: e.textContent ?? '',
        color: getComputedStyle(e.querySelector('.dot')!).backgroundColor,
      })),
    );
    const firstGenres = new Set([...movies.values()].map((m) => m.genres[0]));
    expect(new Set(swatches.map((s) => s.name))).toEqual(firstGenres);
    expect(new Set(swatches.map((s) => s.color)).size).toBe(swatches.length);
    // The map's points wear those colours (a history item is a white ring).
    const fills = await p.$$eval('.map-body svg circle', (els) => els.map((e) => getComputedStyle(e).fill));
    const colors = new Set([...swatches.map((s) => s.color), 'rgb(255, 255, 255)']);
    expect(fills.length).toBeGreaterThanOrEqual(movies.size);
    expect(fills.filter((f) => !colors.has(f))).toEqual([]);
    // Nothing wider than the screen.
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
    // History and "because" lines name items by title.
    const first = recs[0].id;
    await p.click(`[data-testid="rec-item"][data-item-id="${first}"]`);
    await p.waitForFunction(
      (id) =>
        [...document.querySelectorAll('[data-testid="history"] [data-item-id]')].some(
          (e) => e.getAttribute('data-item-id') === id,
        ),
      first,
      { timeout: 60_000 },
    );
    expect(await p.textContent(`[data-testid="history"] [data-item-id="${first}"]`)).toContain(
      movies.get(first)!.title,
    );
    await p.waitForFunction(() => document.querySelector('.why b') !== null, undefined, { timeout: 60_000 });
    const because = await p.$$eval('.why b', (els) => els.map((e) => e.textContent ?? ''));
    expect(because.every((t) => [...movies.values()].some((m) => m.title === t))).toBe(true);
    expect(ml.log.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  });
});
