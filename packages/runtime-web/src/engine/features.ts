// The user's features from the edge (GET /v1/users/:id/features?transform=1), with a timeout;
// the caller falls back to the last cached answer and the on-device history.

/** Model-ready values and the edge's real-time history of one user. */
export interface EdgeFeatures {
  values: Record<string, unknown>;
  recentItems: string[];
}

/** Fetches a user's model-ready features; throws on timeout, network or HTTP error. */
export async function fetchUserFeatures(
  edge: string,
  userId: string,
  opts: { token?: string; model?: string; timeoutMs: number; fetch?: typeof fetch },
): Promise<EdgeFeatures> {
  const f = opts.fetch ?? fetch;
  const ctl = new AbortController();
  const timer = setTimeout(
    () => ctl.abort(new Error(`the edge did not answer within ${opts.timeoutMs} ms`)),
    opts.timeoutMs,
  );
  try {
    const q = new URLSearchParams({ transform: '1' });
    if (opts.model) q.set('model', opts.model);
    const res = await f(`${edge.replace(/\/$/, '')}/v1/users/${encodeURIComponent(userId)}/features?${q}`, {
      headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      signal: ctl.signal,
    });
    if (!res.ok) throw new Error(`the edge answered HTTP ${res.status}`);
    const body = (await res.json()) as {
      features?: Record<string, unknown>;
      model_ready?: { values?: Record<string, unknown> };
    };
    const recent = body.features?.recent_items;
    return { values: body.model_ready?.values ?? {}, recentItems: Array.isArray(recent) ? recent.map(String) : [] };
  } finally {
    clearTimeout(timer);
  }
}
