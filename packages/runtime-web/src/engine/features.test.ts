// The edge's latency budget (features.ts): the engine waits about twice the edge's recent P90
// (within [250 ms, 2 s]), an answer past the budget still refreshes the cache, and a fixed
// featuresTimeoutMs stays fixed. The edge is a fake fetch with a chosen delay.
import { describe, expect, it } from 'vitest';
import { LatencyBudget, raceUserFeatures } from './features.ts';

/** A fake edge that answers after `delay()` ms with the user's history. */
function slowEdge(delay: () => number, recent = ['i1', 'i2']): typeof fetch {
  return ((_url: string, init?: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      const t = setTimeout(
        () =>
          resolve(
            new Response(
              JSON.stringify({ features: { recent_items: recent }, model_ready: { values: { 'user:id': 3 } } }),
            ),
          ),
        delay(),
      );
      init?.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        reject(init.signal!.reason);
      });
    })) as typeof fetch;
}

describe('the edge latency budget', () => {
  it('follows the measured latency: a loaded edge (≈ 400 ms) is waited for, a fast one is not', async () => {
    const budget = new LatencyBudget();
    expect(budget.ms).toBe(1000); // nothing measured yet
    for (let i = 0; i < 5; i++) budget.record(400);
    expect(budget.ms).toBe(800);
    const f = await raceUserFeatures('https://edge.test', 'u1', { budget, fetch: slowEdge(() => 450) });
    expect(f?.recentItems).toEqual(['i1', 'i2']); // a fixed 250 ms would have dropped it
    const fast = new LatencyBudget();
    for (let i = 0; i < 10; i++) fast.record(20);
    expect(fast.ms).toBe(250); // the floor
    for (let i = 0; i < 40; i++) fast.record(5000);
    expect(fast.ms).toBe(2000); // the ceiling
  });

  it('past the budget: null now, the late answer still reaches the cache, and the next wait is longer', async () => {
    const budget = new LatencyBudget({ floorMs: 20, ceilingMs: 2000, initialMs: 40 });
    const late: string[][] = [];
    const f = await raceUserFeatures('https://edge.test', 'u1', {
      budget,
      fetch: slowEdge(() => 150),
      onLate: (x) => late.push(x.recentItems),
    });
    expect(f).toBeNull();
    expect(budget.ms).toBe(60); // missed once: 1.5 × the initial wait
    await new Promise((r) => setTimeout(r, 250));
    expect(late).toEqual([['i1', 'i2']]);
    expect(budget.ms).toBeGreaterThanOrEqual(300); // measured ≈ 150 ms: twice that
  });

  it('a fixed featuresTimeoutMs stays fixed, and an edge error is null, not a throw', async () => {
    const budget = LatencyBudget.fixed(5000);
    budget.record(10);
    budget.missed();
    expect(budget.ms).toBe(5000);
    const broken = (async () => new Response('no', { status: 500 })) as typeof fetch;
    expect(await raceUserFeatures('https://edge.test', 'u1', { budget, fetch: broken })).toBeNull();
  });
});
