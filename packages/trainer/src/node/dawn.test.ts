// napWhileWaiting: while a wrapped GPU promise is pending, the event loop turns at most once per NAP_MS
// (Dawn's own poll spins on setImmediate otherwise, a core taken from SwiftShader), and results,
// rejections and `this` pass through unchanged.
import { describe, expect, test } from 'vitest';
import { NAP_MS, napWhileWaiting } from './dawn.ts';

/** A class like Dawn's GPUBuffer: mapAsync resolves (or rejects) after `ms` from a timer. */
function fakeClasses(ms: number) {
  class GPUBuffer {
    constructor(readonly name: string) {}
    mapAsync(mode: number): Promise<string> {
      return new Promise((res, rej) =>
        setTimeout(() => (mode < 0 ? rej(new Error(`bad mode ${mode}`)) : res(`${this.name}:${mode}`)), ms),
      );
    }
  }
  return { GPUBuffer } as unknown as Record<string, { prototype: Record<string, unknown> }> & {
    GPUBuffer: typeof GPUBuffer;
  };
}

/** Counts the turns of an immediate loop (as Dawn's poll runs) until `done` settles. */
async function turnsUntil(done: Promise<unknown>): Promise<number> {
  let settled = false;
  let turns = 0;
  done.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise<void>((res) => {
    const spin = () => {
      turns++;
      if (settled) res();
      else setImmediate(spin);
    };
    setImmediate(spin);
  });
  return turns;
}

describe('napWhileWaiting', () => {
  test('a pending map slows the event loop to about one turn per nap; results and errors pass through', async () => {
    const plain = fakeClasses(60);
    const spinning = await turnsUntil(new plain.GPUBuffer('a').mapAsync(1));

    const classes = fakeClasses(60);
    napWhileWaiting(classes);
    const buffer = new classes.GPUBuffer('b');
    const map = buffer.mapAsync(2);
    const napping = await turnsUntil(map);
    expect(await map).toBe('b:2');
    await expect(buffer.mapAsync(-1)).rejects.toThrow('bad mode -1');
    // 60 ms at one turn per 0.5 ms nap is at most ~120 turns (fewer on a loaded machine); a free spin
    // turns thousands of times.
    expect(napping).toBeLessThanOrEqual(Math.ceil(60 / NAP_MS) + 20);
    expect(spinning).toBeGreaterThan(4 * napping);
  });

  test('back-to-back waits keep one nap per turn: a wait asked for before the loop turns adds no chain', async () => {
    // mapAsync(n) resolves after n turns of the loop, as Dawn's poll resolves it from an immediate.
    class GPUBuffer {
      mapAsync(turns: number): Promise<void> {
        return new Promise((res) => {
          const hop = (left: number) => (left === 0 ? res() : setImmediate(() => hop(left - 1)));
          hop(turns);
        });
      }
    }
    let naps = 0;
    napWhileWaiting({ GPUBuffer } as unknown as Record<string, { prototype: Record<string, unknown> }>, () => naps++);
    const buffer = new GPUBuffer();
    // 200 waits one after the other, as a training loop awaits each step's readback: each next one is asked for
    // in the microtasks after the last one settled, before the loop turns again.
    for (let i = 0; i < 200; i++) await buffer.mapAsync(1);
    naps = 0;
    const turns = await turnsUntil(buffer.mapAsync(50));
    // One chain: a nap per turn (before the fix, every one of the 200 waits had left a chain: ~200 per turn).
    expect(turns).toBeGreaterThanOrEqual(50);
    expect(naps).toBeLessThanOrEqual(turns + 2);
    expect(naps).toBeGreaterThanOrEqual(turns - 2);
  });

  test('once nothing is pending the loop runs freely again', async () => {
    const classes = fakeClasses(5);
    napWhileWaiting(classes);
    await new classes.GPUBuffer('c').mapAsync(0);
    const t0 = performance.now();
    let turns = 0;
    await new Promise<void>((res) => {
      const spin = () => (++turns >= 2000 ? res() : setImmediate(spin));
      setImmediate(spin);
    });
    // 2000 napping turns would take ≥ 1 s.
    expect(performance.now() - t0).toBeLessThan(2000 * NAP_MS);
  });
});
