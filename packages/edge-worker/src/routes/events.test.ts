// The one-pass check of well-formed events (isPlainEvent) accepts only what eventSchema accepts,
// unchanged: checked on random events and on random corruptions of them (seeded).
import { describe, expect, it } from 'vitest';
import { eventSchema } from '../schemas.ts';
import { isPlainEvent, parseEvent } from './events.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOW = Date.UTC(2026, 11, 2);
const ODD: unknown[] = [
  '',
  'a b',
  '__proto__',
  'x'.repeat(129),
  'x'.repeat(257),
  'CLICK',
  -1,
  0.5,
  1e16,
  -1e15,
  Number.MAX_SAFE_INTEGER + 2,
  4_102_444_800_001,
  '2026-12-01T10:00:00Z',
  'not a date',
  null,
  true,
  [],
  [1, 'a'],
  Array.from({ length: 33 }, () => 1),
  [[1]],
  [{}],
  {},
  { category: 'x' },
  Object.create(null),
  JSON.parse('{"__proto__": {"polluted": 1}}'),
  JSON.parse('{"__proto__": 1}'),
  Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])),
  { '1bad': 1 },
  { ok: 'y'.repeat(257) },
];
const FIELDS = ['event_id', 'user_id', 'item_id', 'type', 'value', 'ts', 'context', 'extra', 'constructor'];

function randomEvent(r: () => number): Record<string, unknown> {
  const e: Record<string, unknown> = {
    event_id: `e${Math.floor(r() * 1e6)}`,
    user_id: `u:${Math.floor(r() * 100)}@x`,
    item_id: `i.${Math.floor(r() * 100)}`,
    type: r() < 0.5 ? 'click' : 'add_to_cart',
    ts: NOW - Math.floor(r() * 1e9),
  };
  if (r() < 0.3) e.value = r() < 0.2 ? null : r() * 100;
  if (r() < 0.6) e.context = { device: 'ios', hour: 13, category: r() < 0.5 ? 'drama' : ['a', 2], ok: r() < 0.5 };
  // Corrupt some: a field set to an odd value, removed, or added.
  for (let k = 0; r() < 0.6 && k < 3; k++) {
    const field = FIELDS[Math.floor(r() * FIELDS.length)];
    if (r() < 0.2) delete e[field];
    else if (field === 'context' && r() < 0.5 && typeof e.context === 'object' && e.context) {
      (e.context as Record<string, unknown>)[r() < 0.5 ? 'k' : '__proto__'] = ODD[Math.floor(r() * ODD.length)];
    } else e[field] = ODD[Math.floor(r() * ODD.length)];
  }
  return e;
}

describe('isPlainEvent', () => {
  it('accepts only events eventSchema accepts, and they parse to the same record (seed 19, 2,000 events)', () => {
    const r = rng(19);
    let plain = 0;
    let refused = 0;
    for (let n = 0; n < 2_000; n++) {
      // Through JSON, as a request body arrives.
      const raw = JSON.parse(JSON.stringify(randomEvent(r)));
      const zod = eventSchema.safeParse(raw);
      if (isPlainEvent(raw)) {
        plain++;
        expect(zod.success).toBe(true);
        expect(raw).toEqual(zod.data);
      }
      if (!zod.success) refused++;
      // parseEvent answers as the schema alone would.
      const parsed = parseEvent(raw, NOW, 3_600_000);
      if (!zod.success) expect(Array.isArray(parsed)).toBe(true);
      else if (!Array.isArray(parsed)) expect(parsed.context).toEqual(zod.data.context ?? {});
    }
    // Both kinds were drawn often.
    expect(plain).toBeGreaterThan(400);
    expect(refused).toBeGreaterThan(400);
  });
});
