// A generated set of malformed requests (wrong types, missing fields, huge strings and numbers,
// deep nesting, invalid UTF-8, SQL-looking ids, oversized bodies, wrong content types, bad paths
// and headers): every one must be a 4xx with the error shape, no 500 may be logged, and the
// server must still answer /healthz. In-process through app.request().
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeTestApp } from '../test/node-test-app.ts';
import { ALL_SCOPES, apiEvent, errorOf, makeBundle, NOW, publish, client, token } from '../test/helpers.ts';

type Case = {
  name: string;
  method: string;
  path: string;
  body?: string | Uint8Array<ArrayBuffer>;
  contentType?: string | null;
  headers?: Record<string, string>;
  expect?: number;
  code?: string;
};

const SQL_IDS = [
  "1' OR '1'='1",
  "' OR 1=1 --",
  "admin'--",
  "'; DROP TABLE events; --",
  '1; DELETE FROM features',
  '" OR ""="',
  "1' UNION SELECT * FROM model_files --",
  "x') OR ('a'='a",
  '1 OR 1=1',
  "'; ATTACH DATABASE '/tmp/x' AS x; --",
  'SELECT * FROM events',
  "u1' AND sqlite_version() --",
  '%27%20OR%201%3D1',
  "\\'; --",
  'Robert"); DROP TABLE students;--',
  '*',
  "' ; PRAGMA writable_schema=1; --",
  '1/**/OR/**/1=1',
  '$(rm -rf /)',
  '`whoami`',
];
const BAD_IDS = [
  ...SQL_IDS,
  '',
  ' ',
  'a b',
  '-leading-dash',
  '.hidden',
  '../etc/passwd',
  'a/b',
  'x'.repeat(129),
  'x'.repeat(10_000),
  'tab\there',
  'new\nline',
  'nul\u0000',
  'é',
  '😀',
  'a?b',
  'a#b',
  'a%b',
  '<script>',
  'a\\b',
];
const WRONG_TYPES: unknown[] = [123, -1, 1.5, true, false, null, [], ['x'], {}, { a: 1 }];
const huge = (n: number) => 'x'.repeat(n);

/** JSON text with a value spliced in raw (for numbers JSON.stringify cannot write). */
const rawJson = (template: string, raw: string) => template.replace('"__RAW__"', raw);
const nest = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);
const nestObj = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

function generate(): Case[] {
  const cases: Case[] = [];
  const post = (name: string, path: string, body: unknown, extra: Partial<Case> = {}) =>
    cases.push({
      name,
      method: 'POST',
      path,
      body:
        typeof body === 'string' || body instanceof Uint8Array
          ? (body as string | Uint8Array<ArrayBuffer>)
          : JSON.stringify(body),
      ...extra,
    });
  const event = (over: Record<string, unknown>) => ({ ...apiEvent('e1'), ...over });
  const without = (obj: Record<string, unknown>, key: string) =>
    Object.fromEntries(Object.entries(obj).filter(([k]) => k !== key));
  const pushRow = { entity: 'user', id: 'u1', features: { a: 1 } };
  const online = { features: ['user:a'], entities: { user_id: ['u1'] } };

  // --- SQL-looking and otherwise bad ids in every place an id goes ---------------------------
  for (const id of BAD_IDS) {
    const short = JSON.stringify(id).slice(0, 40);
    for (const field of ['event_id', 'user_id', 'item_id'])
      post(`event ${field}=${short}`, '/v1/events', { events: [event({ [field]: id })] }, { expect: 400 });
    post(`push id=${short}`, '/v1/features/push', { rows: [{ ...pushRow, id }] }, { expect: 400 });
    post(`online user_id=${short}`, '/v1/features/online', { ...online, entities: { user_id: [id] } }, { expect: 400 });
    post(
      `online item_id=${short}`,
      '/v1/features/online',
      { features: ['item:a'], entities: { item_id: ['ok', id] } },
      { expect: 400 },
    );
    for (const entity of ['users', 'items'])
      cases.push({
        name: `GET ${entity}/${short}`,
        method: 'GET',
        path: `/v1/${entity}/${encodeURIComponent(id)}/features`,
      });
    cases.push({ name: `GET model ${short}`, method: 'GET', path: `/v1/models/${encodeURIComponent(id)}` });
    cases.push({
      name: `PUT model name ${short}`,
      method: 'PUT',
      path: `/v1/models/${encodeURIComponent(id)}/1/manifest.json`,
      body: '{}',
      contentType: 'application/json',
    });
    cases.push({
      name: `PUT version ${short}`,
      method: 'PUT',
      path: `/v1/models/ranker/${encodeURIComponent(id)}/w.bin`,
      body: 'x',
    });
    cases.push({
      name: `promote version ${short}`,
      method: 'POST',
      path: `/v1/models/ranker/${encodeURIComponent(id)}/promote`,
    });
    cases.push({ name: `latest of ${short}`, method: 'GET', path: `/v1/models/${encodeURIComponent(id)}/latest` });
    cases.push({ name: `rollback of ${short}`, method: 'POST', path: `/v1/models/${encodeURIComponent(id)}/rollback` });
    post(
      `push feature name ${short}`,
      '/v1/features/push',
      { rows: [{ ...pushRow, features: { [id]: 1 } }] },
      { expect: 400 },
    );
    post(`event context key ${short}`, '/v1/events', { events: [event({ context: { [id]: 1 } })] }, { expect: 400 });
  }

  // --- events: wrong types, missing fields, huge values ----------------------------------------
  const eventBad: Record<string, unknown[]> = {
    event_id: WRONG_TYPES.filter((v) => typeof v !== 'string'),
    user_id: WRONG_TYPES,
    item_id: WRONG_TYPES,
    type: [...WRONG_TYPES, '', 'Click', 'click me', huge(33), 'click;drop'],
    value: ['1', true, false, [], [1], {}, { a: 1 }, 1e16, -1e16],
    ts: [
      '',
      'yesterday',
      -1,
      1.5,
      1e20,
      true,
      false,
      null,
      {},
      [],
      [NOW],
      946_684_799_999,
      NOW + 2 * 86_400_000,
      '2026-13-45T00:00:00Z',
      '2026-01-01',
      Math.floor(NOW / 1000),
    ],
    context: [
      'str',
      1,
      [],
      [1, 2],
      true,
      { 'bad key': 1 },
      { k: { nested: 1 } },
      { k: huge(300) },
      { k: [[1]] },
      { k: Array(33).fill(1) },
      Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])),
      { k: [{}] },
    ],
  };
  for (const [field, values] of Object.entries(eventBad)) {
    for (const v of values)
      post(
        `event ${field}=${JSON.stringify(v).slice(0, 30)}`,
        '/v1/events',
        { events: [event({ [field]: v })] },
        { expect: 400, code: 'invalid_events' },
      );
  }
  for (const field of ['event_id', 'user_id', 'item_id', 'type', 'ts'])
    post(`event without ${field}`, '/v1/events', { events: [without(event({}), field)] }, { expect: 400 });
  post('event extra field', '/v1/events', { events: [event({ surprise: 1 })] }, { expect: 400 });
  for (const v of ['x', 1, null, {}, [], true])
    post(`events=${JSON.stringify(v)}`, '/v1/events', { events: v }, { expect: 400 });
  for (const v of [1, 'x', null, true, [], [apiEvent('e1')]])
    post(`event batch body ${JSON.stringify(v).slice(0, 20)}`, '/v1/events', v, { expect: 400 });
  post('events missing', '/v1/events', {}, { expect: 400 });
  post('events extra batch key', '/v1/events', { events: [event({})], extra: 1 }, { expect: 400 });
  post(
    '1001 events',
    '/v1/events',
    { events: Array.from({ length: 1001 }, (_, i) => apiEvent(`n${i}`)) },
    { expect: 400 },
  );
  post(
    '1000 invalid events',
    '/v1/events',
    { events: Array.from({ length: 1000 }, (_, i) => ({ event_id: `n${i}` })) },
    { expect: 400 },
  );
  for (const [label, raw] of [
    ['1e400', '1e400'],
    ['-1e400', '-1e400'],
    ['30-digit int', '123456789012345678901234567890'],
    ['1e-400', '1e-400'],
  ]) {
    post(`event ts ${label}`, '/v1/events', rawJson(JSON.stringify({ events: [event({ ts: '__RAW__' })] }), raw), {
      expect: 400,
    });
    post(
      `event value ${label === '1e-400' ? '1e999' : label}`,
      '/v1/events',
      rawJson(JSON.stringify({ events: [event({ value: '__RAW__' })] }), label === '1e-400' ? '1e999' : raw),
      { expect: 400 },
    );
    post(
      `online max_age_s ${label}`,
      '/v1/features/online',
      rawJson(JSON.stringify({ ...online, max_age_s: '__RAW__' }), raw),
      { expect: 400 },
    );
  }

  // --- push ------------------------------------------------------------------------------------
  const pushBad: Record<string, unknown[]> = {
    entity: ['users', 'context', 'USER', 1, null, [], {}],
    features: [
      {},
      [],
      'x',
      null,
      1,
      { a: { nested: 1 } },
      { a: [[1]] },
      { a: [{}] },
      { a: huge(1025) },
      { a: Array(1025).fill(1) },
      Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`f${i}`, i])),
      { recent_items: ['x'] },
      { event_count: 3 },
    ],
    event_ts: ['x', -5, 1.5, 1e20, true, null, {}, '2026-02-30T99:00:00Z'],
  };
  for (const [field, values] of Object.entries(pushBad)) {
    for (const v of values)
      post(
        `push ${field}=${JSON.stringify(v).slice(0, 30)}`,
        '/v1/features/push',
        { rows: [{ ...pushRow, [field]: v }] },
        { expect: 400 },
      );
  }
  for (const field of ['entity', 'id', 'features'])
    post(`push row without ${field}`, '/v1/features/push', { rows: [without(pushRow, field)] }, { expect: 400 });
  for (const v of [[], 'x', null, {}, 1])
    post(`push rows=${JSON.stringify(v)}`, '/v1/features/push', { rows: v }, { expect: 400 });
  post(
    'push 5001 rows',
    '/v1/features/push',
    { rows: Array.from({ length: 5001 }, (_, i) => ({ ...pushRow, id: `u${i}` })) },
    { expect: 400 },
  );
  post('push extra key', '/v1/features/push', { rows: [pushRow], extra: true }, { expect: 400 });
  post('push row extra key', '/v1/features/push', { rows: [{ ...pushRow, extra: 1 }] }, { expect: 400 });
  post('push bad model', '/v1/features/push', { rows: [pushRow], model: 'Not A Model' }, { expect: 400 });
  post('push model not promoted', '/v1/features/push', { rows: [pushRow], model: 'nothing' }, { expect: 404 });

  // --- online ------------------------------------------------------------------------------------
  const onlineBad: Record<string, unknown[]> = {
    features: [
      [],
      ['bad'],
      ['user:'],
      ['user:a b'],
      ['session:x'],
      ['context:hour'],
      ['item:a'],
      Array.from({ length: 257 }, (_, i) => `user:f${i}`),
      [1],
      'user:a',
      null,
      {},
    ],
    entities: [
      {},
      [],
      null,
      { user_id: [] },
      { user_id: 'u1' },
      { user_id: [1] },
      { session_id: ['x'] },
      { user_id: ['a'], item_id: ['a', 'b'] },
      { user_id: Array.from({ length: 1001 }, (_, i) => `u${i}`) },
      { user_id: [null] },
    ],
    max_age_s: [-1, 0, 'x', 1e12, true, null, []],
    transform: ['yes', 1, null, {}],
    model: ['UPPER', 'a b', 1, ''],
  };
  for (const [field, values] of Object.entries(onlineBad)) {
    for (const v of values)
      post(`online ${field}=${JSON.stringify(v).slice(0, 30)}`, '/v1/features/online', { ...online, [field]: v });
  }
  post(
    'online transform with a model never promoted',
    '/v1/features/online',
    { ...online, transform: true, model: 'nothing' },
    { expect: 404 },
  );
  post('online without features', '/v1/features/online', { entities: online.entities }, { expect: 400 });
  post('online without entities', '/v1/features/online', { features: online.features }, { expect: 400 });
  post('online extra key', '/v1/features/online', { ...online, extra: 1 }, { expect: 400 });

  // --- GET query strings -------------------------------------------------------------------------
  for (const q of [
    'max_age_s=-1',
    'max_age_s=abc',
    'max_age_s=1e400',
    'max_age_s=',
    'max_age_s=0',
    'transform=maybe',
    'transform=TRUE',
    'model=UPPER',
    'model=a%20b',
    `features=${Array.from({ length: 257 }, (_, i) => `f${i}`).join(',')}`,
    'features=a%20b',
    'features=%00',
    `features=${huge(5000)}`,
    'transform=1&model=nothing',
  ]) {
    for (const entity of ['users', 'items'])
      cases.push({ name: `GET ${entity} ?${q.slice(0, 30)}`, method: 'GET', path: `/v1/${entity}/u1/features?${q}` });
  }

  // --- every JSON route: not JSON, invalid UTF-8, deep nesting, content types, sizes -------------
  const jsonRoutes: Array<[string, string, unknown, number]> = [
    ['POST', '/v1/events', { events: [apiEvent('e1')] }, 1 << 20],
    ['POST', '/v1/features/push', { rows: [pushRow] }, 8 << 20],
    ['POST', '/v1/features/online', online, 256 << 10],
    ['PUT', '/v1/models/ranker/9/manifest.json', null, 64 << 20],
  ];
  const notJson = [
    '',
    ' ',
    '{',
    '}',
    '{"events":',
    '{"a":1,}',
    '[1,2',
    "{'a':1}",
    '{"a":1} trailing',
    '// comment\n{}',
    'undefined',
    'NaN',
    '{"a":NaN}',
    '{"a":Infinity}',
    '\u0000',
    '\uFEFF\uFEFF{}',
  ];
  const badUtf8 = [
    [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d],
    [0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d],
    [0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d],
    [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe2, 0x82],
    [0xfe, 0xff, 0x00, 0x7b],
    [0x80],
    [0xf8, 0x88, 0x80, 0x80, 0x80],
  ];
  const types = [
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    null,
    'application/xml',
    'application/jsonp',
    'json',
    'text/json',
    'application/octet-stream',
    'image/png',
  ];
  for (const [method, path, valid, limit] of jsonRoutes) {
    const isManifest = path.endsWith('manifest.json');
    for (const text of notJson)
      cases.push({
        name: `${path} not JSON ${JSON.stringify(text).slice(0, 20)}`,
        method,
        path,
        body: text,
        contentType: 'application/json',
      });
    for (const bytes of badUtf8)
      cases.push({
        name: `${path} invalid UTF-8 ${bytes.slice(0, 4).join(',')}`,
        method,
        path,
        body: new Uint8Array(bytes),
        contentType: 'application/json',
        expect: bytes.length === 0 ? undefined : 400,
      });
    for (const depth of [11, 100, 10_000, 200_000]) {
      // (the deepest ones are also larger than the online route's 256 KiB: 413 there)
      for (const [kind, body] of [
        ['arrays', nest(depth)],
        ['objects', nestObj(depth)],
      ]) {
        cases.push({
          name: `${path} nested ${kind} ${depth}`,
          method,
          path,
          body,
          contentType: 'application/json',
          expect: body.length > limit ? 413 : isManifest && depth <= 64 ? 422 : 400,
        });
      }
    }
    if (!isManifest) {
      for (const type of types)
        cases.push({
          name: `${path} content-type ${type}`,
          method,
          path,
          body: JSON.stringify(valid),
          contentType: type,
          expect: 415,
          code: 'unsupported_media_type',
        });
      cases.push({
        name: `${path} one byte over the limit`,
        method,
        path,
        body: JSON.stringify({ pad: huge(limit) }),
        contentType: 'application/json',
        expect: 413,
        code: 'payload_too_large',
      });
      cases.push({
        name: `${path} huge string field`,
        method,
        path,
        body: JSON.stringify({ pad: huge(Math.min(limit, 1 << 20) - 100) }),
        contentType: 'application/json',
        expect: 400,
      });
    }
  }
  cases.push({
    name: 'manifest over 64 MiB',
    method: 'PUT',
    path: '/v1/models/ranker/9/manifest.json',
    body: new Uint8Array((64 << 20) + 1).fill(0x20),
    contentType: 'application/json',
    expect: 413,
  });
  post(
    'event deeply nested context',
    '/v1/events',
    `{"events":[{"event_id":"e","user_id":"u","item_id":"i","type":"click","ts":${NOW},` +
      `"context":{"k":${nest(50_000)}}}]}`,
    { expect: 400, code: 'too_deep' },
  );

  // --- model registry misuse ---------------------------------------------------------------------
  const manifestBad: unknown[] = [
    {},
    { name: 'ranker', version: '9' },
    { name: 'ranker', version: '9', files: [] },
    [],
    'manifest',
    1,
    null,
  ];
  for (const m of manifestBad)
    cases.push({
      name: `manifest ${JSON.stringify(m).slice(0, 30)}`,
      method: 'PUT',
      path: '/v1/models/ranker/9/manifest.json',
      body: JSON.stringify(m),
      contentType: 'application/json',
      expect: 422,
    });
  for (const file of ['%2E%2E/secret', '..%2F..%2Fetc%2Fpasswd', 'a//b', './x', 'sub/../x', '.', '%00', huge(300)]) {
    cases.push({
      name: `PUT file ${file.slice(0, 30)}`,
      method: 'PUT',
      path: `/v1/models/ranker/1/${file}`,
      body: 'x',
    });
    cases.push({ name: `GET file ${file.slice(0, 30)}`, method: 'GET', path: `/v1/models/ranker/1/${file}` });
  }
  cases.push({
    name: 'PUT unlisted file',
    method: 'PUT',
    path: '/v1/models/ranker/1/unlisted.bin',
    body: 'x',
    expect: 404,
  });
  cases.push({
    name: 'PUT file of unknown version',
    method: 'PUT',
    path: '/v1/models/ranker/404/w.bin',
    body: 'x',
    expect: 404,
  });
  cases.push({
    name: 'PUT file wrong bytes',
    method: 'PUT',
    path: '/v1/models/ranker/1/pending.bin',
    body: 'y'.repeat(10),
    expect: 422,
    code: 'checksum_mismatch',
  });
  cases.push({
    name: 'PUT file too short',
    method: 'PUT',
    path: '/v1/models/ranker/1/pending.bin',
    body: 'y',
    expect: 422,
    code: 'size_mismatch',
  });
  cases.push({
    name: 'PUT file too long',
    method: 'PUT',
    path: '/v1/models/ranker/1/pending.bin',
    body: 'y'.repeat(1000),
    expect: 422,
    code: 'size_mismatch',
  });
  cases.push({ name: 'PUT file empty', method: 'PUT', path: '/v1/models/ranker/1/pending.bin', expect: 422 });
  cases.push({ name: 'promote incomplete', method: 'POST', path: '/v1/models/ranker/1/promote', expect: 409 });
  cases.push({
    name: 'rollback with nothing promoted',
    method: 'POST',
    path: '/v1/models/ranker/rollback',
    expect: 409,
  });
  cases.push({ name: 'latest with nothing promoted', method: 'GET', path: '/v1/models/ranker/latest', expect: 404 });
  cases.push({ name: 'GET not uploaded file', method: 'GET', path: '/v1/models/ranker/1/pending.bin', expect: 404 });
  for (const range of ['bytes=5-1', 'bytes=999999-', 'bytes=10-20', 'bytes=-0'])
    cases.push({
      name: `range ${range}`,
      method: 'GET',
      path: '/v1/models/shipped/1/w.bin',
      headers: { range },
      expect: 416,
    });

  // --- methods a route does not take (405), and paths that do not exist (404) ----------------------
  for (const [method, path] of [
    ['DELETE', '/v1/events'],
    ['PATCH', '/v1/features/push'],
    ['PUT', '/v1/events'],
    ['GET', '/v1/events'],
    ['GET', '/v1/features/online'],
    ['POST', '/v1/users/u1/features'],
    ['DELETE', '/v1/models/ranker/1/w.bin'],
    ['POST', '/v1/models/ranker/latest'],
  ]) {
    cases.push({ name: `${method} ${path.slice(0, 40)}`, method, path, expect: 405 });
  }
  for (const [method, path] of [
    ['GET', '/v1'],
    ['GET', '/v2/users/u1/features'],
    ['GET', '/v1/users/u1'],
    ['GET', '/' + huge(5000)],
  ]) {
    cases.push({ name: `${method} ${path.slice(0, 40)}`, method, path, expect: 404 });
  }

  // --- authorization header variations --------------------------------------------------------------
  for (const auth of [
    '',
    'Bearer',
    'Bearer ',
    'bearer  ',
    'Basic abc',
    'Bearer a.b',
    'Bearer a.b.c.d',
    `Bearer ${huge(9000)}`,
    'Bearer ....',
    'Bearer e30.e30.',
    'Bearer eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.x',
    'Token abc',
    'Bearer \u00e9\u00e9',
  ]) {
    cases.push({
      name: `authorization ${auth.slice(0, 20)}`,
      method: 'GET',
      path: '/v1/users/u1/features',
      headers: { authorization: auth },
      expect: 401,
    });
  }
  return cases;
}

describe('malformed requests', () => {
  const t = nodeTestApp();
  let goodToken: string;
  beforeAll(async () => {
    goodToken = await token(ALL_SCOPES);
    const api = client(t.app, goodToken);
    // A version with a file still to upload (ranker@1) and a shipped one (shipped@1) for the registry cases.
    const pending = await makeBundle('ranker', '1', { 'pending.bin': new TextEncoder().encode('0123456789') });
    expect((await api.put('/v1/models/ranker/1/manifest.json', pending.manifest)).status).toBe(201);
    await publish(api, await makeBundle('shipped', '1', { 'w.bin': new TextEncoder().encode('0123456789') }));
  });
  afterAll(() => t.cleanup());

  it('answers at least 1,000 generated malformed requests with a 4xx and the error shape', {
    timeout: 120_000,
  }, async () => {
    const cases = generate();
    expect(cases.length).toBeGreaterThanOrEqual(1000);
    const failures: string[] = [];
    const codes = new Map<string, number>();
    for (const c of cases) {
      const headers: Record<string, string> = { authorization: `Bearer ${goodToken}`, ...c.headers };
      if (c.headers?.authorization === '') delete headers.authorization;
      if (c.body !== undefined && c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/json';
      const res = await t.app.request(c.path, { method: c.method, headers, body: c.body as BodyInit | undefined });
      let code = '?';
      try {
        code = (await errorOf(res)).code;
      } catch (err) {
        failures.push(`${c.name}: ${(err as Error).message}`);
        continue;
      }
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (res.status < 400 || res.status > 499) failures.push(`${c.name}: status ${res.status} (${code})`);
      else if (c.expect !== undefined && res.status !== c.expect)
        failures.push(`${c.name}: status ${res.status} (${code}), expected ${c.expect}`);
      else if (c.code !== undefined && code !== c.code) failures.push(`${c.name}: code ${code}, expected ${c.code}`);
      if (!(res.headers.get('content-type') ?? '').includes('application/json'))
        failures.push(`${c.name}: content-type ${res.headers.get('content-type')}`);
    }
    expect(failures.slice(0, 30), `${failures.length} of ${cases.length} cases failed`).toEqual([]);
    // The set exercises the validators, not one catch-all answer.
    for (const code of [
      'invalid_request',
      'invalid_json',
      'invalid_utf8',
      'too_deep',
      'invalid_events',
      'unauthorized',
      'invalid_token',
      'not_found',
      'method_not_allowed',
      'payload_too_large',
      'unsupported_media_type',
      'checksum_mismatch',
      'size_mismatch',
      'invalid_manifest',
      'range_not_satisfiable',
    ]) {
      expect(codes.get(code) ?? 0, code).toBeGreaterThan(0);
    }
    expect(t.logs.filter((l) => (l.status as number) >= 500)).toEqual([]);
    const health = await t.app.request('/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    // And the store still works.
    const ok = await t.app.request('/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${goodToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [apiEvent('after')] }),
    });
    expect(ok.status).toBe(202);
  });
});
