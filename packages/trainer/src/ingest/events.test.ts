// `vireo ingest --source events`: the edge's own event log (what `vireo refresh --pull-only` writes) as
// the first dataset of a site without logs of its own. Labels follow the refresh's rules, every event is
// an impression and every positive an interaction, a line that is not an event is a bad row, and a
// refresh from that dataset appends only the events after the last one it holds.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture } from '@vireo/testkit/capture';
import { main as vireo } from '../cli.ts';
import { appendEvents } from '../refresh/dataset.ts';
import type { EdgeEvent } from '../refresh/pull.ts';
import { EVENT_LOG_RETRIEVAL, retrievalDefaults } from '../retrieval/defaults.ts';
import { loadDataset } from './index.ts';
import { edgeEvents } from '../../test/ingest-helpers.ts';

const T = Date.UTC(2026, 5, 1);
const edgeEvent = edgeEvents();
const ev = (user: string, item: string, type: string, minutes: number, value: number | null = null) =>
  edgeEvent(user, item, type, T + minutes * 60_000, value);

/** Eight users with six clicks on distinct items, a view and a purchase each; a rating of 2 and one of 5. */
function edgeLog(): EdgeEvent[] {
  const events: EdgeEvent[] = [];
  for (let u = 0; u < 8; u++) {
    for (let k = 0; k < 6; k++) events.push(ev(`u${u}`, `sku-${(u + k) % 10}`, 'click', u * 100 + k));
    events.push(ev(`u${u}`, 'sku-0', 'view', u * 100 + 10));
    events.push(ev(`u${u}`, `sku-${u}`, 'purchase', u * 100 + 11, 20 + u));
  }
  events.push(ev('u0', 'sku-9', 'rating', 50, 2), ev('u1', 'sku-9', 'rating', 150, 5));
  return events;
}

describe('vireo ingest --source events', () => {
  let root: string;
  let log: EdgeEvent[];
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'vireo-events-'));
    log = edgeLog();
    writeFileSync(join(root, 'events.ndjson'), log.map((e) => JSON.stringify(e)).join('\n') + '\n');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads the edge log with the refresh labels: positives are interactions, every event an impression', async () => {
    const out = join(root, 'data');
    const run = await capture(() =>
      vireo(['ingest', '--source', 'events', '--path', join(root, 'events.ndjson'), '--out', out, '--quiet']),
    );
    expect(run.code, run.err).toBe(0);
    const ds = loadDataset(out);
    expect(ds.summary.source).toBe('events');
    // 8 × (6 clicks + 1 purchase) + the rating of 5 are positives; the views and the rating of 2 are not.
    expect(ds.summary.counts).toMatchObject({ users: 8, impressions: log.length, positives: 8 * 7 + 1 });
    expect(ds.summary.options).toMatchObject({ minRating: 4, throughSeq: log.at(-1)!.seq });
    const im = ds.impressions!;
    const label = (name: string) => Array.from(im.labels.get(name)!);
    // Impressions keep the log's order within equal times; find each by its time.
    const at = (e: EdgeEvent) => Array.from(im.ts).findIndex((t) => Math.abs(t - e.ts / 1000) < 1e-6);
    const view = log.find((e) => e.type === 'view')!;
    const purchase = log.find((e) => e.type === 'purchase')!;
    const [low, high] = log.filter((e) => e.type === 'rating');
    expect([label('click')[at(view)], label('conversion')[at(view)], label('revenue')[at(view)]]).toEqual([0, 0, 0]);
    expect([label('click')[at(purchase)], label('conversion')[at(purchase)]]).toEqual([1, 1]);
    expect(label('revenue')[at(purchase)]).toBeCloseTo(purchase.value!, 5);
    expect([label('click')[at(low)], label('click')[at(high)]]).toEqual([0, 1]);
    // An event log trains with the event-log retrieval row (its kind's defaults).
    expect(retrievalDefaults(out)).toBe(EVENT_LOG_RETRIEVAL);
  });

  it('a refresh from it appends only the events after the last one it holds', () => {
    const later = [ev('u0', 'sku-3', 'click', 5000), ev('u9', 'sku-11', 'click', 5001)];
    const { summary } = appendEvents(join(root, 'data'), [...log, ...later], join(root, 'grown'), 0.5);
    expect(summary).toMatchObject({ events: 2, newUsers: 1, newItems: 1 });
  });

  it('answers a file that is not the edge log with one sentence', async () => {
    writeFileSync(join(root, 'ratings.jsonl'), '{"userId": 1, "movieId": 2, "rating": 4}\n');
    const run = await capture(() =>
      vireo(['ingest', '--source', 'events', '--path', join(root, 'ratings.jsonl'), '--out', join(root, 'x')]),
    );
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/ratings\.jsonl has no columns "seq", "user_id", "item_id", "type", "ts"/);
    expect(run.err.trim().split('\n')).toHaveLength(1);
  });
});
