// The model registry: versions per model name, files uploaded one by one against the manifest's
// sizes and sha256, promote and roll back, `latest` manifest with ETag, versioned file downloads
// with ETag, Range and immutable caching, and deletion of versions neither served nor rolled back to.
import { createRoute, z } from '@hono/zod-openapi';
import { sha256Hex, type BundleManifest } from '@vireo/core';
import type { Context } from 'hono';
import { ApiError } from '../errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { jsonDepth, readBodyLimited } from '../middleware/json-body.ts';
import {
  deletionResponseSchema,
  errorSchema,
  exportCursor,
  exportLimit,
  fileParams,
  modelParams,
  modelSummarySchema,
  promotionResponseSchema,
  promotionsPageSchema,
  uploadResponseSchema,
  versionParams,
} from '../schemas.ts';
import { readManifest } from '../registry/manifest.ts';
import { BundleContentError, checkedSafetensors } from '../registry/safetensors-check.ts';
import {
  BlobMismatchError,
  type ByteRange,
  type ModelVersionRecord,
  type PromotionHead,
  type PromotionRecord,
} from '../storage/types.ts';
import { bearer, type AppEnv, type EdgeApp, type RouteDeps } from './deps.ts';

const MANIFEST = 'manifest.json';
/** The files of a bundle with both models (see docs/ARCHITECTURE.md, section 6). */
const COMPLETE_FILES = ['retrieval.safetensors', 'ranking.safetensors'];
const isComplete = (v: ModelVersionRecord) => COMPLETE_FILES.every((f) => v.files.some((x) => x.file === f));
const IMMUTABLE = 'public, max-age=31536000, immutable';
const RESERVED_VERSIONS = new Set(['latest', 'rollback']);
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

const versionsQuery = z.object({
  after: exportCursor('versions'),
  limit: exportLimit('Versions per page, 1 to 1,000 (default 100).'),
});
const promotionsQuery = z.object({
  before: z
    .string()
    .regex(/^[1-9][0-9]{0,14}$/, { error: "expected a cursor: the 'historyBefore' or 'before' of an earlier answer" })
    .optional()
    .openapi({ description: 'Cursor: the entries before it. Absent: the newest entries.' }),
  limit: exportLimit('Entries per page, 1 to 1,000 (default 100).'),
});
/** Entries of the promotion history in a listing of versions: the newest ones; the rest page through /promotions. */
const LISTED_HISTORY = 20;
const toEntry = (p: PromotionRecord) => ({ seq: p.seq, action: p.action, version: p.version, at: p.at, by: p.by });

const errors = (...codes: Array<400 | 401 | 403 | 404 | 409 | 413 | 416 | 422 | 429>) =>
  Object.fromEntries(
    codes.map((code) => [
      code,
      { description: `Error ${code}`, content: { 'application/json': { schema: errorSchema } } },
    ]),
  );

/** Parses `Range: bytes=a-b` (one range). null: serve the whole file (absent, multi-range or not bytes). */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Math.min(Number(m[2]), size);
    return suffix === 0 ? 'unsatisfiable' : { offset: size - suffix, length: suffix };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || end < start) return 'unsatisfiable';
  return { offset: start, length: end - start + 1 };
}

/** True when If-None-Match names this ETag (or '*'). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}

const contentTypeOf = (file: string) =>
  file.endsWith('.json')
    ? 'application/json'
    : file.endsWith('.onnx')
      ? 'application/octet-stream'
      : 'application/octet-stream';

function summarize(v: ModelVersionRecord) {
  return {
    version: v.version,
    created_at: v.createdAt,
    created_by: v.createdBy,
    complete: v.files.every((f) => f.uploadedAt !== null),
    bytes: v.files.reduce((n, f) => n + f.size, v.manifestSize),
    files: v.files.map((f) => ({ name: f.file, bytes: f.size, sha256: f.sha256, uploaded: f.uploadedAt !== null })),
  };
}

async function versionOr404(deps: RouteDeps, name: string, version: string): Promise<ModelVersionRecord> {
  const v = await deps.storage.models.getVersion(name, version);
  if (!v) throw new ApiError('version_not_found', `Model '${name}' has no version '${version}'.`, { name, version });
  return v;
}

function validFileParams(c: Context<AppEnv>) {
  const parsed = fileParams.safeParse(c.req.param());
  if (!parsed.success)
    throw new ApiError('invalid_request', parsed.error.issues[0].message, {
      issues: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    });
  return parsed.data;
}

export function modelRoutes(app: EdgeApp, deps: RouteDeps): void {
  const { storage } = deps;

  // --- upload: PUT /v1/models/:name/:version/manifest.json, then each listed file ------------------
  async function putManifest(c: Context<AppEnv>, name: string, version: string) {
    if (RESERVED_VERSIONS.has(version))
      throw new ApiError('invalid_request', `'${version}' is a reserved word, not a version.`);
    const bytes = await readBodyLimited(c.req.raw, deps.limits.manifestBytes);
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      throw new ApiError('invalid_utf8', 'manifest.json is not valid UTF-8.');
    }
    if (jsonDepth(text, 64) > 64) throw new ApiError('too_deep', 'manifest.json nests deeper than 64 levels.');
    const manifest: BundleManifest = await readManifest(text, deps.limits, deps.parseManifest);
    if (manifest.name !== name || manifest.version !== version) {
      throw new ApiError(
        'invalid_manifest',
        `manifest.json is for ${manifest.name}@${manifest.version}, not ${name}@${version}.`,
        { manifest: { name: manifest.name, version: manifest.version } },
      );
    }
    const big = manifest.files.find((f) => f.bytes > deps.limits.modelFileBytes);
    if (big)
      throw new ApiError(
        'payload_too_large',
        `'${big.name}' (${big.bytes} bytes) is larger than this edge takes (${deps.limits.modelFileBytes}).`,
      );
    const result = await storage.models.createVersion({
      name,
      version,
      manifest: bytes,
      manifestSha256: await sha256Hex(bytes),
      files: manifest.files.map((f) => ({ file: f.name, size: f.bytes, sha256: f.sha256 })),
      by: c.get('principal').sub,
      now: deps.now(),
    });
    if (result === 'conflict')
      throw new ApiError(
        'version_exists',
        `${name}@${version} already exists with a different manifest: versions are immutable, publish a new version.`,
      );
    // Its files were served as immutable: caches would answer a new upload under this name with the old bytes.
    if (result === 'deleted')
      throw new ApiError(
        'version_deleted',
        `${name}@${version} was deleted and browsers or CDNs may still cache its files, so it cannot be published ` +
          'again: publish it under a new version.',
        { name, version },
      );
    const v = await versionOr404(deps, name, version);
    const missing = v.files.filter((f) => f.uploadedAt === null).map((f) => f.file);
    return c.json(
      { name, version, file: MANIFEST, result: result === 'created' ? 'created' : 'identical', missing },
      result === 'created' ? 201 : 200,
    );
  }

  async function putFile(c: Context<AppEnv>, name: string, version: string, file: string) {
    const v = await versionOr404(deps, name, version);
    const entry = v.files.find((f) => f.file === file);
    if (!entry)
      throw new ApiError('file_not_found', `'${file}' is not listed in ${name}@${version}'s manifest.`, {
        listed: v.files.map((f) => f.file),
      });
    const declared = c.req.header('content-length');
    if (declared !== undefined && Number(declared) !== entry.size) {
      throw new ApiError('size_mismatch', `'${file}' is ${declared} bytes where the manifest declares ${entry.size}.`, {
        expected: entry.size,
        actual: Number(declared),
      });
    }
    let body: ReadableStream<Uint8Array> | Uint8Array = c.req.raw.body ?? new Uint8Array(0);
    // A safetensors file must be whole: its header is checked as it streams in.
    if (file.endsWith('.safetensors'))
      body = (body instanceof Uint8Array ? new Response(body as Uint8Array<ArrayBuffer>).body! : body).pipeThrough(
        checkedSafetensors(file),
      );
    let result: 'stored' | 'identical';
    try {
      result = await storage.models.putFile(name, version, file, body, deps.now());
    } catch (err) {
      if (err instanceof BundleContentError) {
        deps.metrics.modelFiles.inc({ result: 'rejected' });
        throw new ApiError('invalid_bundle', `${err.message} Nothing was stored.`, { file });
      }
      if (err instanceof BlobMismatchError) {
        deps.metrics.modelFiles.inc({ result: 'rejected' });
        throw new ApiError(
          err.kind === 'size' ? 'size_mismatch' : 'checksum_mismatch',
          `'${file}': ${err.message} Nothing was stored.`,
          { expected: err.expected, actual: err.actual },
        );
      }
      throw err;
    }
    deps.metrics.modelFiles.inc({ result: result === 'stored' ? 'stored' : 'identical' });
    const missing = v.files.filter((f) => f.uploadedAt === null && f.file !== file).map((f) => f.file);
    return c.json({ name, version, file, result, missing }, result === 'stored' ? 201 : 200);
  }

  // The file routes take nested names (a/b.bin), which OpenAPI path templates cannot express:
  // they are registered on the router directly and described in the document by hand.
  app.put('/v1/models/:name/:version/:file{.+}', requireScope('models:publish'), async (c) => {
    const { name, version, file } = validFileParams(c);
    return file === MANIFEST ? putManifest(c, name, version) : putFile(c, name, version, file);
  });

  app.get('/v1/models/:name/:version/:file{.+}', requireScope('features:read', 'models:publish'), async (c) => {
    const { name, version, file } = validFileParams(c);
    const v = await versionOr404(deps, name, version);
    let size: number;
    let sha: string;
    if (file === MANIFEST) {
      size = v.manifestSize;
      sha = v.manifestSha256;
    } else {
      const entry = v.files.find((f) => f.file === file);
      if (!entry) throw new ApiError('file_not_found', `'${file}' is not listed in ${name}@${version}'s manifest.`);
      if (entry.uploadedAt === null)
        throw new ApiError('file_not_found', `'${file}' of ${name}@${version} has not been uploaded yet.`, {
          uploaded: false,
        });
      size = entry.size;
      sha = entry.sha256;
    }
    return serveFile(c, { name, version, file, size, etag: `"${sha}"`, cacheControl: IMMUTABLE });
  });

  async function serveFile(
    c: Context<AppEnv>,
    f: {
      name: string;
      version: string;
      file: string;
      size: number;
      etag: string;
      cacheControl: string;
      extra?: Record<string, string>;
    },
  ) {
    const headers: Record<string, string> = {
      ETag: f.etag,
      'Cache-Control': f.cacheControl,
      'Accept-Ranges': 'bytes',
      'Content-Type': contentTypeOf(f.file),
      ...f.extra,
    };
    if (matchesEtag(c.req.header('if-none-match'), f.etag)) return c.body(null, 304, headers);
    const ifRange = c.req.header('if-range');
    let range = ifRange && ifRange !== f.etag ? null : parseRange(c.req.header('range'), f.size);
    if (range === 'unsatisfiable') {
      throw new ApiError(
        'range_not_satisfiable',
        `The range '${c.req.header('range')}' is outside the file's ${f.size} bytes.`,
        { size: f.size },
        { 'Content-Range': `bytes */${f.size}` },
      );
    }
    if (range && range.offset === 0 && range.length === f.size) range = null;
    const status = range ? 206 : 200;
    if (range) headers['Content-Range'] = `bytes ${range.offset}-${range.offset + range.length - 1}/${f.size}`;
    headers['Content-Length'] = String(range ? range.length : f.size);
    // HEAD: headers only, no file opened.
    if (c.req.method === 'HEAD') return c.body(null, status, headers);
    const blob = await storage.models.openFile(f.name, f.version, f.file, range ?? undefined);
    if (!blob) throw new ApiError('file_not_found', `'${f.file}' of ${f.name}@${f.version} is missing from storage.`);
    return c.body(blob.body, status, headers);
  }

  app.openAPIRegistry.registerPath({
    method: 'put',
    path: '/v1/models/{name}/{version}/{file}',
    tags: ['models'],
    summary: 'Upload manifest.json (creates the version), then each file it lists; sizes and sha256 are checked',
    security: bearer('models:publish'),
    request: {
      params: fileParams,
      body: { content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
    },
    responses: {
      200: {
        description: 'Already uploaded, identical',
        content: { 'application/json': { schema: uploadResponseSchema } },
      },
      201: { description: 'Stored', content: { 'application/json': { schema: uploadResponseSchema } } },
      ...errors(400, 401, 403, 404, 409, 413, 422, 429),
    },
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/v1/models/{name}/{version}/{file}',
    tags: ['models'],
    summary: 'Download a versioned file: ETag (its sha256), Range, Cache-Control immutable',
    security: bearer('features:read'),
    request: { params: fileParams },
    responses: {
      200: { description: 'The file' },
      206: { description: 'A byte range' },
      304: { description: 'Not modified' },
      ...errors(400, 401, 403, 404, 416, 429),
    },
  });

  /** Throws model_not_found when the model has no version at all. */
  async function modelOr404(name: string): Promise<void> {
    if ((await storage.models.listVersions(name, 0, 1)).length === 0)
      throw new ApiError('model_not_found', `There is no model '${name}'.`);
  }

  // --- read the registry ---------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/models/{name}',
      tags: ['models'],
      summary: 'Versions (a page, oldest first), files, promoted version, rollback target and recent promotions',
      description:
        'Versions are listed in the order they were created, `limit` a page (default 100, at most 1,000) after ' +
        'the cursor `after`. `next` is the cursor of the next page, null after the last one: asking after each ' +
        '`next` in turn lists every version once, versions created meanwhile at the end. `history` holds the ' +
        `${LISTED_HISTORY} newest entries of the promotion history, oldest first; \`historyBefore\` is the cursor ` +
        'of the entries before them at GET /v1/models/{name}/promotions (null when there are none).',
      security: bearer('features:read'),
      middleware: [requireScope('features:read', 'models:publish')] as const,
      request: { params: modelParams, query: versionsQuery },
      responses: {
        200: { description: 'The model', content: { 'application/json': { schema: modelSummarySchema } } },
        ...errors(400, 401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const { after, limit = 100 } = c.req.valid('query');
      const start = Number(after ?? '0');
      // The head first, then the history up to its entry: a promotion written between the two reads is in neither,
      // so the entries listed end where `promoted` and `rollbackTo` stand.
      const head = await storage.models.promotionHead(name);
      // One more than the page: whether a next page exists, without an empty last page to ask for.
      const [versions, history, deleted] = await Promise.all([
        storage.models.listVersions(name, start, limit + 1),
        storage.models.promotions(name, { before: head.seq + 1, limit: LISTED_HISTORY }),
        storage.models.highestDeletedNumber(name),
      ]);
      if (versions.length === 0) await modelOr404(name);
      const page = versions.slice(0, limit);
      const first = history[0]?.seq ?? 1;
      return c.json(
        {
          name,
          promoted: head.promoted,
          rollbackTo: head.rollbackTo,
          versions: page.map(summarize),
          next: versions.length > limit ? String(page.at(-1)!.seq) : null,
          highestDeleted: deleted === null ? null : String(deleted),
          history: history.map(toEntry),
          historyBefore: first > 1 ? String(first) : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/models/{name}/promotions',
      tags: ['models'],
      summary: "A page of a model's promotion history (who promoted or rolled back what, and when), oldest first",
      description:
        'The `limit` newest entries (default 100, at most 1,000) before the cursor `before` (absent: the newest). ' +
        '`before` in the answer is the cursor of the page of older entries, null once the first entry is listed.',
      security: bearer('features:read'),
      middleware: [requireScope('features:read', 'models:publish')] as const,
      request: { params: modelParams, query: promotionsQuery },
      responses: {
        200: { description: 'The entries', content: { 'application/json': { schema: promotionsPageSchema } } },
        ...errors(400, 401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const { before, limit = 100 } = c.req.valid('query');
      const page = await storage.models.promotions(name, {
        before: before === undefined ? undefined : Number(before),
        limit,
      });
      if (page.length === 0) await modelOr404(name);
      const first = page[0]?.seq ?? 1;
      return c.json({ name, promotions: page.map(toEntry), before: first > 1 ? String(first) : null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/models/{name}/latest',
      tags: ['models'],
      summary: "The promoted version's manifest, with its ETag (revalidate with If-None-Match)",
      security: bearer('features:read'),
      middleware: [requireScope('features:read', 'models:publish')] as const,
      request: { params: modelParams },
      responses: {
        200: { description: 'manifest.json of the promoted version' },
        304: { description: 'Not modified' },
        ...errors(400, 401, 403, 404, 429),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const version = (await storage.models.promotionHead(name)).promoted;
      if (!version) throw new ApiError('model_not_found', `Model '${name}' has no promoted version.`);
      const v = await versionOr404(deps, name, version);
      return serveFile(c, {
        name,
        version,
        file: MANIFEST,
        size: v.manifestSize,
        etag: `"${v.manifestSha256}"`,
        cacheControl: 'no-cache',
        extra: { 'Vireo-Model-Version': version, 'Content-Location': `/v1/models/${name}/${version}/${MANIFEST}` },
      }) as never;
    },
  );

  // --- promote and roll back -------------------------------------------------------------------
  /**
   * Applies one change to a model's promotion history atomically: `decide` sees where the history
   * stands and returns the entry to append (or null for none); the append is conditional on the history
   * not having changed since it was read, and is retried from a fresh read when it has.
   */
  async function changePromotions(
    name: string,
    actor: string,
    decide: (head: PromotionHead) => { action: PromotionRecord['action']; version: string } | null,
    deleted: (version: string) => ApiError,
  ): Promise<{ previous: string | null; promoted: string | null }> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const head = await storage.models.promotionHead(name);
      const previous = head.promoted;
      const change = decide(head);
      if (!change) return { previous, promoted: previous };
      const appended = await storage.models.appendPromotion(
        name,
        change.action,
        change.version,
        actor,
        deps.now(),
        head.seq,
      );
      if (appended) return { previous, promoted: change.version };
      // The append also fails when its version is gone (deleted since it was read): no retry brings it back.
      if (!(await storage.models.getVersion(name, change.version))) throw deleted(change.version);
    }
    throw new ApiError('conflict', `Model '${name}' is being promoted by others right now: try again.`, null, {
      'Retry-After': '1',
    });
  }

  /**
   * A version without both models (retrieval.safetensors and ranking.safetensors) is not promoted
   * over a promoted version that has both, unless its manifest says `retrievalOnly: true`: a warm
   * start published without its ranker would otherwise serve `latest` without ranking.
   */
  async function refuseIncompleteOverComplete(name: string, v: ModelVersionRecord): Promise<void> {
    if (isComplete(v)) return;
    const promoted = (await storage.models.promotionHead(name)).promoted;
    const current = promoted === null ? null : await storage.models.getVersion(name, promoted);
    if (!current || !isComplete(current)) return;
    const file = await storage.models.openFile(name, v.version, MANIFEST);
    const manifest =
      file && (await readManifest(await new Response(file.body).text(), deps.limits, deps.parseManifest));
    if (manifest?.retrievalOnly === true) return;
    const lacking = COMPLETE_FILES.filter((f) => !v.files.some((x) => x.file === f));
    throw new ApiError(
      'incomplete_version',
      `${name}@${v.version} has no ${lacking.join(' or ')} while the promoted ${name}@${promoted} has both models: ` +
        `publish a complete bundle, or mark a retrieval-only one with "retrievalOnly": true in its manifest.`,
      { lacking, promoted },
    );
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/models/{name}/{version}/promote',
      tags: ['models'],
      summary: 'Make a complete version the one `latest` serves',
      description:
        'Promoting the version already promoted writes no history entry (a rollback is unchanged) but makes the ' +
        'model the most recently promoted again: the default of feature requests that name no `model` ' +
        '(unless the edge was started with `--spec-model` / `VIREO_SPEC_MODEL`).',
      security: bearer('models:publish'),
      middleware: [requireScope('models:publish')] as const,
      request: { params: versionParams },
      responses: {
        200: { description: 'Promoted', content: { 'application/json': { schema: promotionResponseSchema } } },
        ...errors(400, 401, 403, 404, 409, 429),
      },
    }),
    async (c) => {
      const { name, version } = c.req.valid('param');
      const v = await versionOr404(deps, name, version);
      const missing = v.files.filter((f) => f.uploadedAt === null).map((f) => f.file);
      if (missing.length > 0)
        throw new ApiError(
          'incomplete_version',
          `${name}@${version} is missing ${missing.length} file(s): upload them before promoting.`,
          { missing },
        );
      await refuseIncompleteOverComplete(name, v);
      // Read, decide, then append only if nothing changed in between (else read again).
      const { previous: current } = await changePromotions(
        name,
        c.get('principal').sub,
        (head) => (head.promoted === version ? null : { action: 'promote', version }),
        () => new ApiError('version_not_found', `Model '${name}' has no version '${version}'.`, { name, version }),
      );
      // The version promoted already: no history entry, but it is promoted now again, so the model is the
      // default of feature requests that name none (it stayed another model's, which was promoted since).
      if (current === version) {
        const head = await storage.models.promotionHead(name);
        if (head.promoted === version) await storage.models.touchPromotion(name, head.seq, deps.now());
      }
      deps.specs.invalidate(name);
      return c.json({ name, promoted: version, previous: current }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/models/{name}/rollback',
      tags: ['models'],
      summary: 'Go back to the version promoted before the current one',
      security: bearer('models:publish'),
      middleware: [requireScope('models:publish')] as const,
      request: { params: modelParams },
      responses: {
        200: { description: 'Rolled back', content: { 'application/json': { schema: promotionResponseSchema } } },
        ...errors(400, 401, 403, 404, 409, 429),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const { previous, promoted: target } = await changePromotions(
        name,
        c.get('principal').sub,
        (head) => {
          if (head.rollbackTo === null)
            throw new ApiError(
              'nothing_to_roll_back',
              `Model '${name}' has no earlier promoted version to roll back to.`,
              { promoted: head.promoted },
            );
          return { action: 'rollback', version: head.rollbackTo };
        },
        // Deleting the rollback target is refused, but an older version becomes the target after a roll-back.
        (target) =>
          new ApiError(
            'nothing_to_roll_back',
            `${name}@${target}, the version a rollback would return to, was deleted: promote a version instead.`,
            { target },
          ),
      ).catch(async (err: unknown) => {
        // A model that does not exist is a 404, as for the other model routes (a typo in the name, say).
        if (err instanceof ApiError && err.code === 'nothing_to_roll_back') await modelOr404(name);
        throw err;
      });
      deps.specs.invalidate(name);
      return c.json({ name, promoted: target!, previous }, 200);
    },
  );

  // --- delete a version ------------------------------------------------------------------------
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/models/{name}/{version}',
      tags: ['models'],
      summary:
        'Delete a version: its manifest, files and registry entry (not the promoted version, nor the one a rollback ' +
        'would return to); the promotion history is kept, and the version cannot be published again',
      security: bearer('models:publish'),
      middleware: [requireScope('models:publish')] as const,
      request: { params: versionParams },
      responses: {
        200: { description: 'Deleted', content: { 'application/json': { schema: deletionResponseSchema } } },
        ...errors(400, 401, 403, 404, 409, 429),
      },
    }),
    async (c) => {
      const { name, version } = c.req.valid('param');
      if (RESERVED_VERSIONS.has(version))
        throw new ApiError('invalid_request', `'${version}' is a reserved word, not a version.`);
      // Read, check, then delete only if the promotion history has not changed in between (else read again):
      // a version promoted meanwhile is refused, as promote refuses a version deleted meanwhile.
      for (let attempt = 0; attempt < 20; attempt++) {
        const head = await storage.models.promotionHead(name);
        if (!(await storage.models.getVersion(name, version))) {
          await modelOr404(name);
          throw new ApiError('version_not_found', `Model '${name}' has no version '${version}'.`, { name, version });
        }
        if (head.promoted === version)
          throw new ApiError(
            'version_promoted',
            `${name}@${version} is the promoted version: promote another one (or roll back) before deleting it.`,
            { promoted: version },
          );
        if (head.rollbackTo === version)
          throw new ApiError(
            'rollback_target',
            `${name}@${version} is the version a rollback would return to now: promote another one before deleting it.`,
            { promoted: head.promoted, rollback: version },
          );
        const deleted = await storage.models.deleteVersion(name, version, head.seq, deps.now());
        if (deleted) return c.json({ name, version, files: deleted.files, bytes: deleted.bytes }, 200);
      }
      throw new ApiError('conflict', `Model '${name}' is being promoted by others right now: try again.`, null, {
        'Retry-After': '1',
      });
    },
  );
}
