// The edge as the commands that write to it see it (`vireo publish`, `vireo history`): the --edge flag
// checked once, and one fetch that retries what may pass on a second try (network errors, 429, 5xx)
// and turns every other refusal into one sentence, exit code 1.
import { UsageError } from './args.ts';

/** The edge refused a request, or never answered (`status` null): its message, exit code 1. */
export class EdgeError extends UsageError {
  constructor(
    message: string,
    readonly status: number | null = null,
  ) {
    super(message, 1);
  }
}

type EdgeErrorBody = { error?: { code?: string; message?: string } };

async function describeFailure(res: Response, what: string): Promise<string> {
  let detail = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as EdgeErrorBody;
    if (body.error?.message) detail = `${res.status} ${body.error.code}: ${body.error.message}`;
  } catch {
    // not JSON: keep the status line
  }
  return `${what} failed: ${detail}`;
}

/**
 * The --edge flag (or $VIREO_EDGE_URL) as a base URL without a trailing slash.
 * @example const base = edgeBase(values.edge ?? process.env.VIREO_EDGE_URL); // 'http://127.0.0.1:8787'
 */
export function edgeBase(edge: string | undefined): string {
  if (!edge) throw new UsageError('--edge URL is required (e.g. http://127.0.0.1:8787).');
  try {
    const url = new URL(edge);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    return url.href.replace(/\/+$/, '');
  } catch {
    throw new UsageError(`--edge must be an http(s) URL, got '${edge}'.`);
  }
}

/** Sends one request; answers the response when its status is in `ok`, else throws an EdgeError. */
export type Fetcher = (path: string, init: RequestInit, what: string, ok: number[]) => Promise<Response>;

/**
 * A fetch for `base` with the token, up to `attempts` tries per request. Only for requests that are
 * safe to repeat: an upload of the same bytes, a batch of events with their ids.
 * @example const call = edgeClient(base, token, 4); await call('/v1/events', init, 'sending events', [202]);
 */
export function edgeClient(base: string, token: string, attempts: number): Fetcher {
  return async (path, init, what, ok) => {
    let lastError = new EdgeError(`${what} failed`);
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let res: Response;
      try {
        // A Blob or string body is re-readable, so a retry can send it again.
        res = await fetch(`${base}${path}`, {
          ...init,
          headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
        });
      } catch (err) {
        lastError = new EdgeError(
          `${what} failed: cannot reach ${base} ` +
            `(${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}).`,
        );
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        continue;
      }
      if (ok.includes(res.status)) return res;
      if (res.status === 429 || res.status >= 500) {
        lastError = new EdgeError(await describeFailure(res, what), res.status);
        const retryAfter = Number(res.headers.get('retry-after'));
        await new Promise((r) =>
          setTimeout(
            r,
            Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 30) * 1000 : 250 * 2 ** attempt,
          ),
        );
        continue;
      }
      throw new EdgeError(await describeFailure(res, what), res.status);
    }
    throw lastError;
  };
}
