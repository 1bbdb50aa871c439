// End to end: the README's main command (`vireo start`, on a tiny world so it trains in seconds)
// brings up the edge and the dashboard; Chromium with WebGPU (SwiftShader without a GPU) opens it,
// waits for recommendations, clicks the first one, and checks that the on-device history shows it
// and that the list changes. Screenshots go to test-results/demo/ (git-ignored), for a person to look at.
// VIREO_E2E_URL=http://localhost:5173/ runs the checks against a stack that is already up.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromiumArgs, chromiumPath } from '@vireo/testkit/chromium';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHOTS = fileURLToPath(new URL('../../../test-results/demo/', import.meta.url));

let stack: ChildProcess | null = null;
let state: string | null = null;
let browser: Browser;
let page: Page;
let url: string;
const log: string[] = [];

/** Starts `vireo start` on a tiny world and resolves with the printed dashboard URL. */
function startStack(): Promise<string> {
  state = mkdtempSync(join(tmpdir(), 'vireo-e2e-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const args = [
    'packages/trainer/bin/vireo.mjs',
    'start',
    '--state',
    state,
    '--users',
    '120',
    '--items',
    '150',
    '--events',
    '2500',
    '--categories',
    '6',
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
  stack = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const take = (c: Buffer) => {
      const text = c.toString('utf8');
      log.push(text);
      out += text;
      const m = /Vireo is up:\s+(\S+)/.exec(out.replace(/\x1b\[[0-9;]*m/g, ''));
      if (m) resolve(m[1]);
    };
    stack!.stdout!.on('data', take);
    stack!.stderr!.on('data', take);
    stack!.on('exit', (code) =>
      reject(new Error(`vireo start exited with ${code} before the dashboard was up:\n${log.join('')}`)),
    );
  });
}

const ids = () =>
  page.$$eval('[data-testid="rec-item"]', (els) => els.map((e) => e.getAttribute('data-item-id') ?? ''));

describe('the demo dashboard on the main command’s stack', () => {
  beforeAll(async () => {
    url = process.env.VIREO_E2E_URL ?? (await startStack());
    browser = await chromium.launch({ executablePath: chromiumPath(), args: chromiumArgs(), headless: true });
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}\n`));
  });

  afterAll(async () => {
    await browser?.close();
    if (stack && stack.exitCode === null) {
      stack.kill('SIGTERM');
      await new Promise((r) => stack!.once('exit', r));
    }
    if (state) rmSync(state, { recursive: true, force: true });
  });

  test('recommendations appear, a click enters the history and changes the list', async () => {
    mkdirSync(SHOTS, { recursive: true });
    await page.goto(url);
    await page.waitForSelector('[data-testid="rec-item"]', { timeout: 180_000 }).catch(async (err) => {
      // Say what the page shows instead: its errors, and the stack's own output.
      const shown = await page
        .evaluate(() => document.body.textContent.slice(0, 2000))
        .catch(() => '(page unreadable)');
      throw new Error(`${(err as Error).message}\npage text:\n${shown}\nlog:\n${log.join('').slice(-4000)}`);
    });
    await page.waitForSelector('.map-body svg', { timeout: 30_000 });
    const backend = await page.textContent('[data-testid="backend"]');
    expect(backend).toMatch(/WebGPU|CPU/);
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
});
