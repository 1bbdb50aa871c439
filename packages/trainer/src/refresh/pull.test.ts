// Pulling events from a real Node edge (loopback) exactly once: a pull killed between pages and
// a write cut in the middle of a line are followed by a pull that neither repeats nor loses one.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loopbackEdge } from '../../test/edge.ts';
import { itemFeedPath, pullItems } from './items.ts';
import { eventLogPath, pullEvents, readEventLog } from './pull.ts';

describe('pullEvents', () => {
  const ctx = loopbackEdge('pull', 'events:export events:write service');

  const post = async (ids: string[]) => {
    const now = Date.now();
    const events = ids.map((id, i) => ({
      event_id: id,
      user_id: `u${i % 7}`,
      item_id: `i${i % 11}`,
      type: 'click',
      ts: now - i,
    }));
    const res = await fetch(`${ctx.edge.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.token}` },
      body: JSON.stringify({ events }),
    });
    expect(res.status).toBe(202);
  };

  it('consumes every event exactly once across a killed pull and a line cut in half', async () => {
    const state = join(ctx.root, 'state');
    const first = Array.from({ length: 250 }, (_, i) => `a${i}`);
    await post(first.slice(0, 100));
    await post(first.slice(100));
    // Killed after three pages: the third page's answer never arrives.
    let calls = 0;
    const dying: typeof fetch = async (url, init) => {
      if (++calls === 3) throw new Error('killed');
      return fetch(url, init);
    };
    await expect(
      pullEvents({ edge: ctx.edge.url, token: ctx.token, stateDir: state, pageSize: 40, fetch: dying }),
    ).rejects.toThrow(/cannot reach the edge/);
    expect(readEventLog(state).events.length).toBe(80);
    // Killed in the middle of writing a line: the partial line is cut off and pulled again.
    const text = readFileSync(eventLogPath(state), 'utf8');
    const lines = text.trimEnd().split('\n');
    const partial = lines.pop()!.slice(0, 37);
    rmSync(eventLogPath(state));
    appendFileSync(eventLogPath(state), `${lines.join('\n')}\n${partial}`);
    const second = Array.from({ length: 30 }, (_, i) => `b${i}`);
    await post(second);

    const pulled = await pullEvents({ edge: ctx.edge.url, token: ctx.token, stateDir: state, pageSize: 40 });
    const { events, cursor } = readEventLog(state);
    expect(pulled.after).toBe(String(events[78].seq));
    expect(pulled.count).toBe(280 - 79);
    expect(pulled.through).toBe(String(cursor));
    const ids = events.map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice().sort()).toEqual([...first, ...second].sort());
    for (let k = 1; k < events.length; k++) expect(events[k].seq).toBeGreaterThan(events[k - 1].seq);
    // Nothing new: nothing pulled, the cursor stays.
    expect(await pullEvents({ edge: ctx.edge.url, token: ctx.token, stateDir: state })).toMatchObject({
      count: 0,
      through: String(cursor),
    });
  });

  it('a vireo refresh process killed (SIGKILL) mid-pull, run again, keeps every event once', async () => {
    const state = join(ctx.root, 'killed');
    const ids = Array.from({ length: 400 }, (_, i) => `k${i}`);
    for (let i = 0; i < ids.length; i += 100) await post(ids.slice(i, i + 100));
    const bin = fileURLToPath(new URL('../../bin/vireo.mjs', import.meta.url));
    const args = [
      'refresh',
      '--edge',
      ctx.edge.url,
      '--token',
      ctx.token,
      '--state',
      state,
      '--pull-only',
      '--page-size',
      '3',
    ];
    const child = spawn(process.execPath, [bin, ...args], { stdio: 'ignore' });
    // Kill it once it has kept some pages, while it is still pulling.
    const log = eventLogPath(state);
    for (let t = 0; t < 600; t++) {
      if (existsSync(log) && readFileSync(log, 'utf8').split('\n').length > 30) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const kept = readEventLog(state).events.length;
    expect(kept).toBeGreaterThan(0);
    // Asynchronously: the edge answering it runs in this process.
    const again = await new Promise<{ status: number | null; stdout: string; stderr: string }>((ok) => {
      const c = spawn(process.execPath, [bin, ...args.slice(0, -2), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      c.once('exit', (status) => ok({ status, stdout, stderr }));
    });
    expect(again.status, again.stderr).toBe(0);
    const all = readEventLog(state).events.map((e) => e.event_id);
    const mine = all.filter((id) => id.startsWith('k'));
    expect(mine.length).toBe(ids.length);
    expect(new Set(all).size).toBe(all.length);
    expect(JSON.parse(again.stdout).count).toBe(all.length - kept);
  }, 120_000);

  it('says which scope a token lacks', async () => {
    const reader = await ctx.sign('x', 'features:read');
    await expect(pullEvents({ edge: ctx.edge.url, token: reader, stateDir: join(ctx.root, 'other') })).rejects.toThrow(
      /events:export scope/,
    );
  });

  // An edge with a new database (a new data folder, a restored backup) numbers its events from 1 again; before,
  // a state folder's cursor past its end skipped every event until the numbers passed it, without a word.
  it('says when the state folder comes from another edge database', async () => {
    const state = join(ctx.root, 'from-elsewhere');
    mkdirSync(state, { recursive: true });
    const far = { seq: 1e9, event_id: 'x', user_id: 'u', item_id: 'i', type: 'click', value: null, ts: 1, context: {} };
    writeFileSync(eventLogPath(state), `${JSON.stringify({ ...far, received_at: 1 })}\n`);
    await expect(pullEvents({ edge: ctx.edge.url, token: ctx.token, stateDir: state })).rejects.toThrow(
      /^the edge's event log ends at \d+, before this state folder's cursor 1000000000: .*start with a new --state/,
    );
    // The pushed items' feed (STATE/items.json) the same way.
    writeFileSync(itemFeedPath(state), JSON.stringify({ cursor: 1e9, items: {} }));
    const exporter = await ctx.sign('trainer', 'features:export');
    await expect(pullItems({ edge: ctx.edge.url, token: exporter, stateDir: state })).rejects.toThrow(
      /^the edge's feature log ends at 0, before this state folder's cursor 1000000000/,
    );
  });
});
