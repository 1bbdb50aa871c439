// The benchmark's data and requests, shared by the loopback run and the in-process run.
// USERS: the store's users (default 10,000), e.g. to see how a statement's cost grows with the store.
export const USERS = Number(process.env.USERS ?? 10_000);
export const ITEMS = 10_000;
const COUNTRIES = ['FR', 'DE', 'US', 'JP', 'BR', 'IN', 'NG', 'GB'];
const GENRES = ['drama', 'comedy', 'action', 'horror', 'documentary', 'animation'];
const rnd = (n) => Math.floor(Math.random() * n);

/**
 * Feature rows to push: every user (6 features) and every item (4), in requests of 500 rows (the edge
 * takes 5,000 values per push).
 */
export function* seedRows() {
  let rows = [];
  for (let u = 0; u < USERS; u++) {
    rows.push({
      entity: 'user',
      id: `u${u}`,
      features: {
        age: 18 + (u % 60),
        country: COUNTRIES[u % 8],
        tenure_days: u % 900,
        spend_30d: (u % 97) * 1.5,
        segment: `s${u % 12}`,
        favourite_genres: [GENRES[u % 6], GENRES[(u + 2) % 6]],
      },
    });
    if (rows.length === 500) {
      yield rows;
      rows = [];
    }
  }
  for (let i = 0; i < ITEMS; i++) {
    rows.push({
      entity: 'item',
      id: `i${i}`,
      features: { category: GENRES[i % 6], price: (i % 200) + 0.99, genres: [GENRES[i % 6]], year: 1950 + (i % 75) },
    });
    if (rows.length === 500) {
      yield rows;
      rows = [];
    }
  }
  if (rows.length) yield rows;
}

/** 100 events with ids unique to `prefix`. */
export function eventBatch(prefix, size = 100) {
  const now = Date.now();
  return Array.from({ length: size }, (_, i) => ({
    event_id: `${prefix}-${i}`,
    user_id: `u${rnd(USERS)}`,
    item_id: `i${rnd(ITEMS)}`,
    type: i % 4 === 0 ? 'view' : 'click',
    ts: now - rnd(60_000),
    context: { device: i % 2 ? 'ios' : 'web', hour: 13 },
  }));
}

/** A batch lookup: 100 random users, 5 features. */
export function onlineBody() {
  return {
    features: ['user:age', 'user:country', 'user:segment', 'user:recent_items', 'user:last_seen'],
    entities: { user_id: Array.from({ length: 100 }, () => `u${rnd(USERS)}`) },
  };
}

/** P50/P90/P99/max (ms) and the count of a list of durations in ms. */
export function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const round = (x) => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    p50_ms: round(at(0.5)),
    p90_ms: round(at(0.9)),
    p99_ms: round(at(0.99)),
    max_ms: round(s[s.length - 1]),
  };
}
