// Shared by the tests in Node and in workerd: tokens, a bundle builder and request helpers.
import { sha256Hex, writeSafetensors, type BundleManifestInput, type FeatureSpecInput } from '@vireo/core';
import { signHs256 } from '../src/auth/jwt.ts';
import type { EdgeApp } from '../src/routes/deps.ts';

export const TEST_SECRET = 'test-secret-0123456789abcdef-ghijklmnop';
export const NOW = Date.UTC(2026, 5, 1);

/** A token for `scope`, valid for an hour after NOW (or `exp` seconds). */
export function token(scope: string, options: { sub?: string; exp?: number; secret?: string } = {}): Promise<string> {
  return signHs256(
    { sub: options.sub ?? 'tester', scope, exp: options.exp ?? NOW / 1000 + 3600 },
    options.secret ?? TEST_SECRET,
  );
}

/** Every scope, `service` included: a backend acting for any user (the attack suite uses per-user tokens). */
export const ALL_SCOPES = 'features:read events:write models:publish service';

/** A small whole safetensors file (one F32 tensor of `n` values). */
export function safetensorsBytes(n = 8): Bytes {
  return writeSafetensors({
    w: { dtype: 'F32', shape: [n], data: Float32Array.from({ length: n }, (_, i) => i) },
  }) as Bytes;
}

/** The feature spec the registry tests publish. */
export const TEST_SPEC: FeatureSpecInput = {
  features: [
    {
      name: 'user:age_bucket',
      source: 'age',
      kind: 'numeric',
      transforms: [{ op: 'bucketize', boundaries: [18, 30, 50] }],
    },
    { name: 'user:country', kind: 'categorical', buckets: 100 },
    { name: 'user:history', source: 'recent_items', kind: 'sequence', maxLength: 4, buckets: 1000 },
    { name: 'item:genres', kind: 'multi_hot', maxLength: 3, vocabulary: 'genres' },
    { name: 'item:price', kind: 'numeric', transforms: [{ op: 'log1p' }] },
    { name: 'item:category', kind: 'categorical', vocabulary: 'genres' },
  ],
};

/** Bytes backed by an ArrayBuffer (what fetch bodies take). */
export type Bytes = Uint8Array<ArrayBuffer>;

export type TestBundle = { manifest: Bytes; files: Record<string, Bytes>; version: string; name: string };

/** A small valid bundle: manifest.json plus its files, with sizes and sha256 filled in. */
export async function makeBundle(
  name = 'ranker',
  version = '1',
  files: Record<string, Bytes> = { 'ranking.safetensors': safetensorsBytes(50) },
  spec: FeatureSpecInput = TEST_SPEC,
  vocabularies: Record<string, string[]> = { genres: ['drama', 'comedy', 'horror'] },
): Promise<TestBundle> {
  const manifest: BundleManifestInput = {
    name,
    version,
    createdAt: new Date(NOW).toISOString(),
    architecture: { ranking: { embeddingDim: 8, bottomMlp: [8], topMlp: [8], interaction: 'dot', heads: ['ctr'] } },
    featureSpec: spec,
    vocabularies,
    files: await Promise.all(
      Object.entries(files).map(async ([n, bytes]) => ({
        name: n,
        bytes: bytes.byteLength,
        sha256: await sha256Hex(bytes),
      })),
    ),
  };
  return { name, version, manifest: new TextEncoder().encode(JSON.stringify(manifest)) as Bytes, files };
}

/**
 * A response of the app whose json() is `any`, as the DOM lib types it: the shared suites read bodies
 * so, and under @cloudflare/workers-types (tsconfig.workers.json) json() is otherwise `unknown`.
 */
export type TestResponse = Omit<Response, 'json'> & { json(): Promise<any> };

/** A client over app.request with a default token. */
export function client(app: EdgeApp, defaultToken: string | null, env?: unknown) {
  const call = async (
    method: string,
    path: string,
    init: { body?: unknown; raw?: BodyInit; headers?: Record<string, string>; token?: string | null } = {},
  ): Promise<TestResponse> => {
    const headers: Record<string, string> = { ...init.headers };
    const t = init.token === undefined ? defaultToken : init.token;
    if (t) headers.authorization = `Bearer ${t}`;
    let body: BodyInit | undefined = init.raw;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    return app.request(path, { method, headers, body }, env as never);
  };
  return {
    get: (path: string, init?: Parameters<typeof call>[2]) => call('GET', path, init),
    post: (path: string, body?: unknown, init?: Parameters<typeof call>[2]) => call('POST', path, { ...init, body }),
    put: (path: string, raw: BodyInit, init?: Parameters<typeof call>[2]) => call('PUT', path, { ...init, raw }),
    call,
  };
}

export type Client = ReturnType<typeof client>;

/** Uploads a bundle (manifest then files) and optionally promotes it. */
export async function publish(api: Client, bundle: TestBundle, promote = true): Promise<void> {
  const base = `/v1/models/${bundle.name}/${bundle.version}`;
  const m = await api.put(`${base}/manifest.json`, bundle.manifest, {
    headers: { 'content-type': 'application/json' },
  });
  if (m.status !== 201 && m.status !== 200) throw new Error(`manifest upload: ${m.status} ${await m.text()}`);
  for (const [file, bytes] of Object.entries(bundle.files)) {
    const r = await api.put(`${base}/${file}`, bytes, { headers: { 'content-type': 'application/octet-stream' } });
    if (r.status !== 201 && r.status !== 200) throw new Error(`${file} upload: ${r.status} ${await r.text()}`);
  }
  if (promote) {
    const p = await api.post(`${base}/promote`);
    if (p.status !== 200) throw new Error(`promote: ${p.status} ${await p.text()}`);
  }
}

/** Asserts the error shape and returns the body. */
export async function errorOf(res: Response): Promise<{ code: string; message: string; details: unknown }> {
  const text = await res.text();
  let body: { error?: { code: string; message: string; details: unknown } };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${res.status}: body is not JSON: ${text.slice(0, 200)}`);
  }
  if (
    !body.error ||
    typeof body.error.code !== 'string' ||
    typeof body.error.message !== 'string' ||
    !('details' in body.error)
  ) {
    throw new Error(`${res.status}: body is not { error: { code, message, details } }: ${text.slice(0, 200)}`);
  }
  return body.error;
}

/** An event in API form. */
export const apiEvent = (id: string, over: Record<string, unknown> = {}) => ({
  event_id: id,
  user_id: 'u1',
  item_id: 'i1',
  type: 'click',
  ts: NOW - 1000,
  ...over,
});
