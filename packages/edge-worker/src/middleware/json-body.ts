// Reads a JSON request body defensively before any schema sees it: content type (415), size while
// streaming (413), strict UTF-8 (400 invalid_utf8) and nesting depth (400 too_deep, so no parser
// or serializer recursion can be driven by a client). The text is then handed to Hono's body
// cache, where the route's validator parses it once.
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
    // Hono keeps body promises in this cache (its type says string).
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
    if (opts.check) {
      // Bounds checked on the parsed body before the schema walks it (a 413 costs one parse).
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined; // the validator answers invalid_json
      }
      if (json !== undefined) {
        opts.check(json);
        (c.req.bodyCache as Record<string, unknown>).json = Promise.resolve(json);
      }
    }
    await next();
  };
}
