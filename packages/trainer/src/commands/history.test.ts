// `vireo history` (packages/trainer/src/commands/history.ts) against a real Node edge on loopback, with datasets
// written by `vireo ingest`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main as vireo } from '../cli.ts';
import { loadDataset } from '../ingest/dataset.ts';
import { signHs256 } from '@vireo/edge-worker';
import { startNodeServer, type RunningServer } from '@vireo/edge-worker/node';

const SECRET = 'history-test-secret-0123456789-abcdefgh';

async function run(command: string, argv: string[]) {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await vireo([command, ...argv]), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const n = (x: number) => x.toLocaleString('en-US');
const sign = (scope: string, secret = SECRET) =>
  signHs256({ sub: 'importer', scope, exp: Math.floor(Date.now() / 1000) + 600 }, secret);

/** The positives `vireo history` should send: [user id, item id] per row, from the dataset itself. */
function positives(dir: string): [string, string][] {
  const ds = loadDataset(dir);
  const it = ds.interactions!;
  const out: [string, string][] = [];
  for (let r = 0; r < it.rows; r++)
    if (it.positive[r]) out.push([ds.users!.ids[it.user[r]], ds.items!.ids[it.item[r]]]);
  return out;
}

describe('vireo history', () => {
  let edge: RunningServer;
  let root: string;
  let data: string;
  let service: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'vireo-history-'));
    edge = await startNodeServer({
      port: 0,
      dataDir: join(root, 'edge'),
      log: null,
      env: { VIREO_JWT_SECRET: SECRET },
    });
    service = await sign('service events:write features:read');
    data = join(root, 'world');
    const world = ['--users', '30', '--items', '40', '--events', '600', '--categories', '4'];
    const ingest = await run('ingest', ['--source', 'synthetic', ...world, '--out', data, '--quiet']);
    expect(ingest.code).toBe(0);
  });
  afterAll(async () => {
    await edge.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("sends every positive, which a user's realtime.history then shows; a re-run stores none again", async () => {
    const sent = positives(data);
    const users = new Set(sent.map(([u]) => u));
    expect(sent.length).toBeGreaterThan(50);
    const first = await run('history', ['--data', data, '--edge', edge.url, '--token', service, '--quiet']);
    expect(first).toEqual({
      code: 0,
      out: `sent ${n(sent.length)} past positives of ${users.size} users: ${n(sent.length)} new, 0 already there\n`,
      err: '',
    });
    // Every user's history holds its positives (fewer than the edge's 50 here), newest first.
    for (const user of users) {
      const res = await fetch(`${edge.url}/v1/users/${user}/features`, {
        headers: { authorization: `Bearer ${service}` },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { realtime: { history: { item_id: string }[] } };
      const got = body.realtime.history.map((h) => h.item_id).sort();
      const want = sent.filter(([u]) => u === user).map(([, item]) => item);
      expect(want.length, user).toBeLessThan(50);
      expect(got, user).toEqual(want.sort());
    }

    const again = await run('history', ['--data', data, '--edge', edge.url, '--token', service, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toEqual({
      edge: edge.url,
      events: sent.length,
      users: users.size,
      accepted: 0,
      duplicate: sent.length,
      rejected: 0,
      firstRejection: null,
      before2000: 0,
      future: 0,
    });
  });

  it('a token without service, or not signed by the edge: exit 1, one sentence naming the token to mint', async () => {
    const own = await run('history', ['--data', data, '--edge', edge.url, '--token', await sign('events:write')]);
    expect(own.code).toBe(1);
    expect(own.out).toBe('');
    expect(own.err).toBe(
      `vireo history: the token may not post other users' events (403): sending history needs the scopes ` +
        '"service events:write"; mint one with vireo token --sub importer --scope "service events:write" --ttl 1h.\n',
    );
    const forged = await sign('service events:write', 'another-secret-0123456789-abcdefghijk');
    const bad = await run('history', ['--data', data, '--edge', edge.url, '--token', forged]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^vireo history: the edge did not accept the token \(401\): [^\n]+\.\n$/);
  });

  it('an edge that is not there: exit 1 and one sentence', async () => {
    // A port that was free a moment ago: nothing listens on it.
    const port = await new Promise<number>((ok) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => ok(port));
      });
    });
    const at = `http://127.0.0.1:${port}`;
    const r = await run('history', ['--data', data, '--edge', at, '--token', service, '--retries', '1']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      new RegExp(
        `^vireo history: sending past interactions failed: cannot reach http://127.0.0.1:${port} \\([^\\n]+\\)\\.\\n$`,
      ),
    );
    expect(r.err).not.toContain('    at ');
  });

  it('leaves out positives dated before 2000, says so and counts them', async () => {
    // Two users of a site since 1998: three of their positives are from before 2000, two after.
    const dir = join(root, 'old');
    const rows = [
      ['alice', 'a', '1998-05-01T00:00:00Z', 1],
      ['alice', 'b', '1999-12-31T23:59:59Z', 1],
      ['alice', 'c', '2000-01-02T00:00:00Z', 1],
      ['alice', 'd', '2001-01-01T00:00:00Z', 0],
      ['bob', 'a', '1997-01-01T00:00:00Z', 1],
      ['bob', 'c', '2003-03-03T00:00:00Z', 1],
      ['bob', 'b', '2004-04-04T00:00:00Z', 0],
    ];
    const csv = join(root, 'old.csv');
    writeFileSync(csv, ['user_id,item_id,ts,clicked', ...rows.map((r) => r.join(','))].join('\n'));
    const spec = join(root, 'old.spec.json');
    writeFileSync(
      spec,
      JSON.stringify({
        entities: { user: { key: 'user_id' }, item: { key: 'item_id' } },
        timestamp: 'ts',
        features: [
          { name: 'user:id', kind: 'categorical', source: 'user_id' },
          { name: 'item:id', kind: 'categorical', source: 'item_id' },
        ],
        labels: [{ name: 'click', source: 'clicked', kind: 'binary' }],
      }),
    );
    const ingest = await run('ingest', ['--source', 'csv', '--path', csv, '--spec', spec, '--out', dir, '--quiet']);
    expect(ingest.code, ingest.err).toBe(0);
    const r = await run('history', ['--data', dir, '--edge', edge.url, '--token', service, '--quiet']);
    expect(r).toEqual({
      code: 0,
      out: 'sent 2 past positives of 2 users: 2 new, 0 already there, 3 before 2000 left out\n',
      err:
        'vireo history: left out 3 of 5 past positives: the edge refuses times before 2000-01-01 and more than a ' +
        'day ahead.\n',
    });
    for (const [user, item] of [
      ['alice', 'c'],
      ['bob', 'c'],
    ]) {
      const res = await fetch(`${edge.url}/v1/users/${user}/features`, {
        headers: { authorization: `Bearer ${service}` },
      });
      const body = (await res.json()) as { realtime: { history: { item_id: string }[] } };
      expect(body.realtime.history.map((h) => h.item_id)).toEqual([item]);
    }
  });

  it('missing flags are one sentence, exit 2', async () => {
    vi.stubEnv('VIREO_EDGE_URL', '');
    expect(await run('history', ['--edge', edge.url, '--token', service])).toEqual({
      code: 2,
      out: '',
      err: 'vireo history: --data DIR is required (the dataset folder vireo ingest --out wrote).\n',
    });
    const noEdge = await run('history', ['--data', data, '--token', service]);
    expect(noEdge.code).toBe(2);
    expect(noEdge.err).toContain('--edge URL is required');
    const noData = await run('history', ['--data', join(root, 'missing'), '--edge', edge.url, '--token', service]);
    expect(noData.code).toBe(2);
    expect(noData.err).toContain('does not exist');
    vi.unstubAllEnvs();
  });
});
