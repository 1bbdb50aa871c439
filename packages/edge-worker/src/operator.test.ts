// What an operator found driving the installed `vireo-edge` over HTTP, route by route, as the docs
// describe it (docs/edge-api.md, docs/tokens.md): each test failed before its fix.
import { afterEach, describe, expect, it } from 'vitest';
import { ALL_SCOPES, client, errorOf, makeBundle, NOW, token } from '../test/helpers.ts';
import { nodeTestApp } from '../test/node-test-app.ts';
import { DEFAULT_LIMITS } from './app.ts';
import { workerManifestParser } from './manifest-parser.ts';
import { inlineManifestParser, readManifest } from './registry/manifest.ts';
import { EVENT_RETENTION_MS } from './routes/export.ts';

const DAY = 86_400_000;
let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
});

function setup() {
  const edge = nodeTestApp({ log: null });
  cleanups.push(edge.cleanup);
  return edge;
}

/** An event whose context is as large as the schema allows: 32 keys × 32 strings × 256 characters (~270 KB). */
const fatEvent = (id: string, user: string) => ({
  event_id: id,
  user_id: user,
  item_id: 'i1',
  type: 'view',
  ts: NOW - 1000,
  context: Object.fromEntries(
    Array.from({ length: 32 }, (_, k) => [`k${k}`, Array.from({ length: 32 }, () => 'x'.repeat(256))]),
  ),
});

describe('GET /v1/events/export is bounded in bytes, as GET /v1/features/export is', () => {
  it('answers at most about 4 MiB a page, whatever the limit, and pages through every event once', async () => {
    const { app, setNow, storage } = setup();
    // A visitor's own events: any browser token (events:write) can send these.
    const visitor = client(app, await token('events:write', { sub: 'alice' }));
    const ids: string[] = [];
    for (let b = 0; b < 8; b++) {
      const batch = [0, 1, 2].map((i) => fatEvent(`fat${b}-${i}`, 'alice'));
      const res = await visitor.post('/v1/events', { events: batch });
      expect(res.status).toBe(202);
      ids.push(...batch.map((e) => e.event_id));
    }
    const exporter = client(app, await token('events:export', { sub: 'trainer', exp: (NOW + 30 * DAY) / 1000 }));
    const readAll = async () => {
      const seen: string[] = [];
      let after = '0';
      for (;;) {
        const res = await exporter.get(`/v1/events/export?after=${after}&limit=1000`);
        expect(res.status).toBe(200);
        const text = await res.text();
        // 24 events of ~270 KB (6.4 MB) were 6.4 MB in one answer before.
        expect(text.length).toBeLessThan((4 << 20) + 300_000);
        const page = JSON.parse(text) as { events: Array<{ event_id: string }>; next: string };
        if (page.events.length === 0) return seen;
        seen.push(...page.events.map((e) => e.event_id));
        after = page.next;
      }
    };
    expect(await readAll()).toEqual(ids);
    // Archived (past the retention): archive batches and the pages read from them are bounded the same.
    setNow(NOW + EVENT_RETENTION_MS + DAY);
    for (let i = 0; i < 4; i++) expect((await exporter.get('/v1/events/export?after=0&limit=1')).status).toBe(200);
    expect(await storage.events.get('alice', 'fat7-2')).toBeNull();
    expect(await readAll()).toEqual(ids);
  });
});

describe("a '__proto__' key is refused, never dropped without a word", () => {
  it('in an event context: the batch is refused, naming where, and nothing is stored', async () => {
    const { app, storage } = setup();
    const visitor = client(app, await token('events:write', { sub: 'alice' }));
    const body = `{"events":[{"event_id":"p1","user_id":"alice","item_id":"i1","type":"click","ts":${NOW - 1000},
      "context":{"__proto__":"shoes","hour":3}}]}`;
    const res = await visitor.post('/v1/events', undefined, {
      raw: body,
      headers: { 'content-type': 'application/json' },
    });
    // Was 202 accepted, stored with context { hour: 3 }.
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe(
      "The JSON body has a '__proto__' key in $.events[0].context, a name JavaScript objects cannot hold as data: " +
        'rename or remove it (nothing was written).',
    );
    expect(error.details).toEqual({ path: '$.events[0].context' });
    expect(await storage.events.get('alice', 'p1')).toBeNull();
  });

  it('in pushed features: the push is refused whole', async () => {
    const { app, storage } = setup();
    const publisher = client(app, await token('models:publish', { sub: 'pub' }));
    const body = '{"rows":[{"entity":"user","id":"carol","features":{"__proto__":7,"age":3}}]}';
    const res = await publisher.post('/v1/features/push', undefined, {
      raw: body,
      headers: { 'content-type': 'application/json' },
    });
    // Was 200 { written: 1 }, the '__proto__' value dropped.
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/^The JSON body has a '__proto__' key in \$\.rows\[0\]\.features, /);
    expect((await storage.features.read('user', ['carol'])).get('carol')).toBeUndefined();
  });

  it('in any JSON body, at any depth, however it is spelled: an online lookup, a manifest', async () => {
    const { app, storage } = setup();
    const api = client(app, await token(ALL_SCOPES, { sub: 'ops' }));
    const raw = (path: string, body: string) =>
      api.post(path, undefined, { raw: body, headers: { 'content-type': 'application/json' } });
    // Spelled with escapes (JSON.parse reads "\u005f_proto__" as '__proto__'); strict objects refused it before
    // as an unknown key, without saying which.
    const online = await raw(
      '/v1/features/online',
      '{"features":["user:age"],"entities":{"user_id":["carol"],"\\u005f_proto__":{"user_id":["x"]}}}',
    );
    expect(online.status).toBe(400);
    expect(await errorOf(online)).toMatchObject({ code: 'invalid_request', details: { path: '$.entities' } });
    // A manifest is parsed apart from jsonBody (off the event loop on Node): the same check, the same answer.
    const bundle = await makeBundle('ranker', '1');
    const text = new TextDecoder()
      .decode(bundle.manifest)
      .replace('"ranking":{', '"ranking":{"__proto__":{"embeddingDim":4096},');
    const manifest = await api.put('/v1/models/ranker/1/manifest.json', text, {
      headers: { 'content-type': 'application/json' },
    });
    expect(manifest.status).toBe(400);
    expect((await errorOf(manifest)).message).toMatch(
      /^manifest\.json has a '__proto__' key in \$\.architecture\.ranking, /,
    );
    expect(await storage.models.getVersion('ranker', '1')).toBeNull();
    // The name as a value is data like any other.
    const visitor = client(app, await token('events:write', { sub: 'alice' }));
    const event = { event_id: 'v1', user_id: 'alice', item_id: 'i1', type: 'search', ts: NOW - 1000 };
    const res = await visitor.post('/v1/events', { events: [{ ...event, context: { query: '__proto__' } }] });
    expect(await res.json()).toMatchObject({ accepted: 1, rejected: 0 });
  });

  it("in a manifest's vocabulary names, parsed on the worker thread too", async () => {
    const bundle = await makeBundle('ranker', '1');
    const text = new TextDecoder()
      .decode(bundle.manifest)
      .replace('"vocabularies":{', '"vocabularies":{"__proto__":["a"],');
    const parser = workerManifestParser();
    try {
      for (const parse of [parser.parse, inlineManifestParser])
        await expect(readManifest(text, DEFAULT_LIMITS, parse)).rejects.toMatchObject({
          code: 'invalid_request',
          details: { path: '$.vocabularies' },
        });
    } finally {
      await parser.close();
    }
  });
});

describe("real-time counters are bounded: a visitor's events cannot grow a row without limit", () => {
  it("keeps a user's largest categories and an item's largest event types, and answers them small", async () => {
    const { app } = setup();
    const visitor = client(app, await token('events:write features:read', { sub: 'alice' }));
    for (let b = 0; b < 4; b++) {
      const events = Array.from({ length: 250 }, (_, i) => ({
        event_id: `c${b}-${i}`,
        user_id: 'alice',
        item_id: 'shared-item',
        // Every event a new type and 31 new categories; 'shoes' in every one.
        type: `t${b}_${i}`,
        ts: NOW - 1000,
        context: { category: ['shoes', ...Array.from({ length: 31 }, (_, k) => `cat-${b}-${i}-${k}`)] },
      }));
      expect((await visitor.post('/v1/events', { events })).status).toBe(202);
    }
    const user = await visitor.get('/v1/users/alice/features');
    expect(user.status).toBe(200);
    const row = (await user.json()) as {
      features: { top_categories: string[]; event_count: number };
      realtime: { category_counts: Record<string, number> };
    };
    // Was 31,001 categories (~1.1 MB) for this user (now at most 64 and 31 events' worth), and every new one
    // read and answered on each request.
    expect(Object.keys(row.realtime.category_counts).length).toBeLessThanOrEqual(64 + 31 * 32);
    expect(row.features.top_categories[0]).toBe('shoes');
    expect(row.realtime.category_counts.shoes).toBeCloseTo(1000, 0);
    expect(row.features.event_count).toBe(1000);
    // An item is read by every visitor: was 1,000 popularity_<type> columns from one visitor's events.
    const item = (await (await visitor.get('/v1/items/shared-item/features')).json()) as {
      features: Record<string, number>;
      realtime: { popularity: Record<string, number> };
    };
    expect(Object.keys(item.realtime.popularity).length).toBeLessThanOrEqual(64 + 31);
    expect(Object.keys(item.features).filter((k) => k.startsWith('popularity_')).length).toBeLessThanOrEqual(64 + 31);
  });
});

describe('an export cursor this database never handed out is refused, not read past in silence', () => {
  it('events and features: a cursor past the end of the log is a 400 saying to start from 0', async () => {
    // The trainer saved `next` from this edge; then the edge's data folder was replaced (docs/edge-on-node.md,
    // "Back up the data folder": a restore), and the events sent since get numbers below the saved cursor.
    const { app } = setup();
    const visitor = client(app, await token('events:write', { sub: 'alice' }));
    const publisher = client(app, await token('models:publish', { sub: 'pub' }));
    const exporter = client(app, await token('events:export features:export', { sub: 'trainer' }));
    const events = [1, 2, 3].map((i) => ({
      event_id: `e${i}`,
      user_id: 'alice',
      item_id: 'i1',
      type: 'click',
      ts: NOW,
    }));
    expect((await visitor.post('/v1/events', { events })).status).toBe(202);
    const push = { rows: [{ entity: 'item', id: 'i1', features: { price: 3 } }] };
    expect((await publisher.post('/v1/features/push', push)).status).toBe(200);

    const page = (await (await exporter.get('/v1/events/export')).json()) as { next: string };
    expect(page.next).toBe('3');
    // At the end: an empty page, the cursor kept.
    expect(await (await exporter.get('/v1/events/export?after=3')).json()).toEqual({ events: [], next: '3' });
    // Was 200 { events: [], next: '500' }: the events numbered 4 to 500 would never have been exported.
    const ahead = await exporter.get('/v1/events/export?after=500');
    expect(ahead.status).toBe(400);
    const error = await errorOf(ahead);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain("is past the end of this edge's event log (3)");
    expect(error.message).toContain('read again from after=0');

    const items = (await (await exporter.get('/v1/features/export?entity=item')).json()) as { next: string };
    const at = Number(items.next);
    expect((await exporter.get(`/v1/features/export?entity=item&after=${at}`)).status).toBe(200);
    // A user cursor at the log's end (numbers are shared by both kinds) is fine; past it is not.
    expect((await exporter.get(`/v1/features/export?entity=user&after=${at}`)).status).toBe(200);
    const featuresAhead = await exporter.get(`/v1/features/export?entity=item&after=${at + 1000}`);
    expect(featuresAhead.status).toBe(400);
    expect((await errorOf(featuresAhead)).message).toContain("is past the end of this edge's feature log");
  });
});

describe('a bad number in a query says what it takes, in words', () => {
  it("limit=abc and max_age_s=abc: not 'expected number, received NaN'", async () => {
    const { app } = setup();
    const exporter = client(app, await token('events:export features:export', { sub: 'trainer' }));
    for (const path of ['/v1/events/export?limit=abc', '/v1/features/export?limit=1&limit=2']) {
      const res = await exporter.get(path);
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toBe('Invalid query: limit: expected an integer from 1 to 1,000');
    }
    const reader = client(app, await token('features:read', { sub: 'alice' }));
    const res = await reader.get('/v1/users/alice/features?max_age_s=abc');
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toBe('Invalid query: max_age_s: expected a number of seconds');
  });
});

describe('POST /v1/models/{name}/rollback of a model that does not exist', () => {
  it('is a 404 model_not_found, as GET /v1/models/{name} answers, not a 409', async () => {
    const { app } = setup();
    const publisher = client(app, await token('models:publish', { sub: 'pub' }));
    const res = await publisher.post('/v1/models/no-such-model/rollback');
    // Was 409 nothing_to_roll_back ("has no earlier promoted version").
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toEqual({
      code: 'model_not_found',
      message: "There is no model 'no-such-model'.",
      details: null,
    });
    expect((await publisher.get('/v1/models/no-such-model')).status).toBe(404);
  });
});

describe('a token whose header cannot be read', () => {
  it("says so in one sentence, not \"the token's algorithm 'undefined' is not accepted\"", async () => {
    const { app } = setup();
    for (const bad of ['a.b.c', `${Buffer.from('{"alg":"HS256"}\0').toString('base64url')}.e30.sig`]) {
      const res = await client(app, bad).get('/v1/items/i1/features');
      expect(res.status).toBe(401);
      expect(await errorOf(res)).toEqual({
        code: 'invalid_token',
        message: "The token's header is not base64url JSON naming its algorithm ('alg').",
        details: null,
      });
    }
  });
});

describe('GET /v1/{users,items}/{id}/features?features= with a name that is not one', () => {
  it('names the bad name, where it said the list takes up to 256 names', async () => {
    const { app } = setup();
    const reader = client(app, await token('features:read', { sub: 'alice' }));
    const res = await reader.get('/v1/items/i1/features?features=price,__proto__');
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toBe(
      "features=: '__proto__' is not a feature name (letters, digits and _ . -, at most 64 characters).",
    );
    const many = Array.from({ length: 257 }, (_, i) => `f${i}`).join(',');
    expect((await errorOf(await reader.get(`/v1/items/i1/features?features=${many}`))).message).toBe(
      'features= takes up to 256 comma-separated feature names.',
    );
  });
});
