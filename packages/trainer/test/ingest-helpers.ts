// Test setup shared by the ingest and ranking-data tests (outside src/): a fresh temporary folder per test, quiet
// options.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { DEFAULT_OPTIONS, type IngestOptions } from '../src/ingest/options.ts';
import type { EdgeEvent } from '../src/refresh/pull.ts';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temporary folder removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vireo-ingest-'));
  made.push(dir);
  return dir;
}

/** Writes `files` (name → text) into a new temporary folder and returns it. */
export function fixture(files: Record<string, string | Uint8Array>): string {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** Options for a test run: output in its own temporary folder, no bars, notes collected. */
export function testOptions(overrides: Partial<IngestOptions> = {}): IngestOptions & { notes: string[] } {
  const notes: string[] = [];
  return {
    ...DEFAULT_OPTIONS,
    quiet: true,
    out: join(tempDir(), 'dataset'),
    log: (l) => notes.push(l),
    ...overrides,
    notes,
  };
}

/** A maker of the edge's exported events (GET /v1/events/export), numbered 1, 2, … as the edge would. */
export function edgeEvents(): (
  user: string,
  item: string,
  type: string,
  ts: number,
  value?: number | null,
) => EdgeEvent {
  let seq = 0;
  return (user, item, type, ts, value = null) => ({
    seq: ++seq,
    event_id: `e${seq}`,
    user_id: user,
    item_id: item,
    type,
    value,
    ts,
    context: {},
    received_at: ts,
  });
}
