// Reads a JSON request body defensively before any schema sees it: content type (415), size while
// streaming (413), strict UTF-8 (400 invalid_utf8), nesting depth (400 too_deep, so no parser
// or serializer recursion can be driven by a client) and `__proto__` keys (400, see protoKeyPath).
// It is parsed once, here; the route's validator gets that value.
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.ts';

export type JsonBodyOptions = {
  /** Largest body accepted, in bytes. Default 1 MiB. */
  maxBytes?: number;
  /** Deepest nesting of arrays and objects accepted. Default 10. */
  maxDepth?: number;
  /** Checks the parsed body before the route's schema does (throw an ApiError, e.g. a 413 for too much work). */
  check?: ((json: unknown) => void) | null;
};

const jsonBodyDefaults = { maxBytes: 1 << 20, maxDepth: 10, check: null };
const JSON_MEDIA = /^application\/(?:[\w.-]+\+)?json$/i;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Reads at most `maxBytes` of a body, failing with 413 as soon as it is longer (declared or streamed).
 * @example const bytes = await readBodyLimited(c.req.raw, 1 << 20);
 */
export async function readBodyLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  const tooLarge = () =>
    new ApiError('payload_too_large', `The request body is larger than ${maxBytes} bytes.`, { max_bytes: maxBytes });
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw tooLarge();
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The deepest nesting of arrays/objects in JSON text (strings skipped); stops counting past `limit`. */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92)
        i++; // backslash: skip the escaped character
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 91 || ch === 123) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (ch === 93 || ch === 125) depth--;
  }
  return max;
}

/** JSON text may hold a `__proto__` key: written out, or with \u escapes (none of its characters has another). */
const mayHoldProtoKey = (text: string) => text.includes('__proto__') || text.includes('\\u');

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const pathOf = (at: Array<string | number>) =>
  at.reduce<string>(
    (path, k) =>
      typeof k === 'number' ? `${path}[${k}]` : IDENTIFIER.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`,
    '$',
  );

/**
 * Where parsed JSON holds an own `__proto__` key: the path of the object that holds it ('$.events[0].context'), or
 * null. JSON.parse keeps the key as data, but a copy made by assignment (a zod record or object schema) sets the
 * copy's prototype instead, so the value would vanish without a word. The walk is as deep as the body (bounded by
 * jsonBody's maxDepth) and visits each value once.
 * @example protoKeyPath(JSON.parse('{"a":[{"__proto__":1}]}')); // '$.a[0]'
 */
export function protoKeyPath(json: unknown): string | null {
  const at: Array<string | number> = [];
  const walk = (value: unknown): boolean => {
    if (typeof value !== 'object' || value === null) return false;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        at.push(i);
        if (walk(value[i])) return true;
        at.pop();
      }
      return false;
    }
    if (Object.hasOwn(value, '__proto__')) return true;
    for (const k of Object.keys(value)) {
      at.push(k);
      if (walk((value as Record<string, unknown>)[k])) return true;
      at.pop();
    }
    return false;
  };
  return walk(json) ? pathOf(at) : null;
}

/**
 * Refuses (400) parsed JSON that holds an own `__proto__` key anywhere, naming where; `text` is what was parsed
 * (the key can only be there when the text spells it: most bodies are not walked at all).
 * @example refuseProtoKey(text, JSON.parse(text), 'manifest.json');
 */
export function refuseProtoKey(text: string, json: unknown, what = 'The JSON body'): void {
  if (!mayHoldProtoKey(text)) return;
  const path = protoKeyPath(json);
  if (path !== null) throw protoKeyError(path, what);
}

/** The 400 for a `__proto__` key in the object at `path` of a JSON body (`what`: how the answer names the body). */
export const protoKeyError = (path: string, what = 'The JSON body') =>
  new ApiError(
    'invalid_request',
    `${what} has a '__proto__' key in ${path}, a name JavaScript objects cannot hold as data: rename or remove it ` +
      '(nothing was written).',
    { path },
  );

/**
 * Middleware for routes that take JSON.
 * @example app.post('/v1/events', jsonBody({ maxBytes: 1 << 20 }), handler)
 */
export function jsonBody(options: JsonBodyOptions = {}): MiddlewareHandler {
  const opts = { ...jsonBodyDefaults, ...options };
  return async (c, next) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0].trim();
    if (!JSON_MEDIA.test(type)) {
      throw new ApiError(
        'unsupported_media_type',
        `Send the body as JSON with 'Content-Type: application/json' (got '${type || 'none'}').`,
        { content_type: type || null },
      );
    }
    const bytes = await readBodyLimited(c.req.raw, opts.maxBytes);
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      throw new ApiError('invalid_utf8', 'The request body is not valid UTF-8.');
    }
    if (text.trim() === '') throw new ApiError('invalid_json', 'The request body is empty: send a JSON object.');
    const depth = jsonDepth(text, opts.maxDepth);
    if (depth > opts.maxDepth)
      throw new ApiError('too_deep', `The JSON body nests deeper than ${opts.maxDepth} levels.`, {
        max_depth: opts.maxDepth,
      });
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ApiError('invalid_json', 'The request body is not valid JSON.');
    }
    refuseProtoKey(text, json);
    // Bounds checked on the parsed body before the schema walks it.
    opts.check?.(json);
    // Hono keeps body promises in this cache (its type says string), but its json() parses the cached text
    // again: the route's validator reads this parse instead.
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
    const parsed = Promise.resolve(json);
    c.req.json = (() => parsed) as typeof c.req.json;
    await next();
  };
}
