import { createRng } from '@vireo/core';
import { describe, expect, it } from 'vitest';
import { SPLIT_TEST, loadDataset, type Dataset } from './dataset.ts';
import {
  DEFAULT_SEQUENTIAL,
  ingestSequential,
  loadSequentialTruth,
  sequentialOracleScores,
  type SequentialConfig,
  type SequentialTruth,
} from './sequential.ts';
import { testOptions } from '../../test/ingest-helpers.ts';
import { contextRows, retrievalCases, userEvents, type RetrievalCase } from '../retrieval/data.ts';
import { rankingMetrics } from '../eval/retrieval.ts';
import {
  itemKnnScorer,
  lastItemSoftmaxScorer,
  mostPopularScorer,
  oracleScorer,
  type CaseScorer,
} from '../eval/retrieval-baselines.ts';

const SMALL: SequentialConfig = { ...DEFAULT_SEQUENTIAL, seed: 3, users: 400, items: 300, categories: 10 };

async function world(c: SequentialConfig): Promise<Dataset> {
  const opts = testOptions();
  await ingestSequential(c, opts);
  return loadDataset(opts.out);
}

/** Share of consecutive events (within a user) whose second item is a successor of the first. */
function successorShare(ds: Dataset, truth: SequentialTruth): number {
  const it = ds.interactions!;
  const S = truth.successorWeights.length;
  let hits = 0;
  let pairs = 0;
  for (let e = 1; e < it.user.length; e++) {
    if (it.user[e] !== it.user[e - 1]) continue;
    pairs++;
    for (let s = 0; s < S; s++) if (truth.successors[it.item[e - 1] * S + s] === it.item[e]) hits++;
  }
  return hits / pairs;
}

describe('sequential world', () => {
  it('draws each user minEvents..maxEvents distinct items, in time order, reproducibly', async () => {
    const a = await world(SMALL);
    const b = await world(SMALL);
    const it = a.interactions!;
    expect([...it.item]).toEqual([...b.interactions!.item]);
    for (let u = 0; u < SMALL.users; u++) {
      const begin = it.userOffsets[u];
      const end = it.userOffsets[u + 1];
      expect(end - begin).toBeGreaterThanOrEqual(SMALL.minEvents);
      expect(end - begin).toBeLessThanOrEqual(SMALL.maxEvents);
      expect(new Set(it.item.subarray(begin, end)).size).toBe(end - begin);
      for (let e = begin + 1; e < end; e++) expect(it.ts[e]).toBeGreaterThan(it.ts[e - 1]);
    }
    expect(a.summary.splits.retrieval!.usersWithTest).toBe(SMALL.users);
  });

  it('follows successors as often as --successor-strength says (less the redraws of items had already)', async () => {
    const strong = await world({ ...SMALL, successorStrength: 0.8, recencyStrength: 0 });
    const none = await world({ ...SMALL, successorStrength: 0, recencyStrength: 0 });
    const share = successorShare(strong, loadSequentialTruth(strong)!);
    expect(share).toBeGreaterThan(0.6);
    expect(share).toBeLessThan(0.9); // taste draws land on a successor now and then too
    // Without order effects a successor comes next only by chance (S of N items, within the taste).
    expect(successorShare(none, loadSequentialTruth(none)!)).toBeLessThan(0.05);
  });

  it("the posterior oracle's taste concentrates on the categories the history shows", () => {
    // Three categories of two items each, no order effects: a history of categories 0 and 1 rules out 2.
    const truth: SequentialTruth = {
      successorStrength: 0,
      recencyStrength: 0,
      categories: 3,
      successorWeights: [1],
      itemCategory: Int32Array.of(0, 0, 1, 1, 2, 2),
      itemWithin: Float32Array.of(0.5, 0.5, 0.25, 0.75, 0.5, 0.5),
      successors: Int32Array.of(1, 2, 3, 4, 5, 0),
    };
    const out = sequentialOracleScores(truth, [0, 2], new Float32Array(6));
    // Item 1 (cat 0, share 0.5) and item 3 (cat 1, share 0.75) are in the taste; 4 and 5 (cat 2) are not.
    expect(out[3]).toBeGreaterThan(out[1]);
    expect(out[1]).toBeGreaterThan(out[4] + 10);
    expect(out[4]).toBeCloseTo(out[5], 6);
    // With the successor effect on, the last item's successor leads.
    const ordered = sequentialOracleScores({ ...truth, successorStrength: 0.5 }, [0, 2], new Float32Array(6));
    expect(Math.max(...ordered.filter((_, j) => j !== 3))).toBeLessThan(ordered[3]);
    const afterZero = sequentialOracleScores({ ...truth, successorStrength: 0.5 }, [2, 0], new Float32Array(6));
    expect(afterZero[1]).toBeGreaterThan(afterZero[3]); // succ(0) = 1
  });

  it('ranks the held-out item: oracle > last-item kNN > most-popular; order matters to the oracle', async () => {
    const ds = await world({ ...SMALL, successorStrength: 0.6, recencyStrength: 0.1 });
    const events = userEvents(ds);
    const cases = retrievalCases(ds, events, contextRows(ds), SPLIT_TEST);
    const N = ds.items!.rows;
    const recall = (scorer: CaseScorer, list: readonly RetrievalCase[] = cases) =>
      rankingMetrics(list, N, scorer)['recall@10'];
    const oracle = recall(oracleScorer(ds, events)!);
    const lastItem = recall(itemKnnScorer(ds, events, { lastOnly: true }));
    const popular = recall(mostPopularScorer(ds));
    expect(oracle).toBeGreaterThan(lastItem);
    expect(lastItem).toBeGreaterThan(popular + 0.1);
    // The oracle fed the same histories in a shuffled order loses most of what order gave it.
    const rng = createRng(1);
    const shuffledEvents = { ...events, items: events.items.slice() };
    for (const c of cases) rng.shuffle(shuffledEvents.items.subarray(c.historyStart, c.historyEnd));
    const shuffled = recall(oracleScorer(ds, shuffledEvents)!);
    expect(shuffled).toBeLessThan(0.7 * oracle);
    console.log(
      `sequential world (σ 0.6, ρ 0.1, ${cases.length} users): Recall@10 oracle ${oracle.toFixed(3)}, ` +
        `shuffled-history oracle ${shuffled.toFixed(3)}, last-item kNN ${lastItem.toFixed(3)}, ` +
        `most-popular ${popular.toFixed(3)}`,
    );
  });
  it('gives every category an item, and refuses fewer items than categories in one sentence', async () => {
    // 30 items drawn uniformly into 25 categories leave some empty; a taste drawn from an empty one crashed.
    const ds = await world({ ...SMALL, users: 40, items: 30, categories: 25, minEvents: 3, maxEvents: 5 });
    const truth = loadSequentialTruth(ds)!;
    expect(new Set(truth.itemCategory).size).toBe(25);
    await expect(world({ ...SMALL, items: 20, categories: 30 })).rejects.toThrow(
      /needs at least 2 categories and at least one item per category \(got 20 items in 30 categories\)/,
    );
  });

  it('the last-item softmax baseline learns the successors: far above most-popular; too large is skipped', async () => {
    const ds = await world({ ...SMALL, users: 200, items: 100, categories: 5, minEvents: 15, maxEvents: 25 });
    const events = userEvents(ds);
    const cases = retrievalCases(ds, events, contextRows(ds), SPLIT_TEST);
    const N = ds.items!.rows;
    const softmax = lastItemSoftmaxScorer(ds, events);
    if (typeof softmax === 'string') throw new Error(softmax);
    const m = rankingMetrics(cases, N, softmax);
    const popular = rankingMetrics(cases, N, mostPopularScorer(ds));
    const oracle = rankingMetrics(cases, N, oracleScorer(ds, events)!);
    console.log(
      `last-item softmax Recall@10 ${m['recall@10'].toFixed(3)} ± ${m.se['recall@10'].toFixed(3)}, most-popular ` +
        `${popular['recall@10'].toFixed(3)}, posterior oracle ${oracle['recall@10'].toFixed(3)} ` +
        `(${cases.length} users)`,
    );
    expect(m['recall@10']).toBeGreaterThan(
      popular['recall@10'] + 4 * Math.hypot(m.se['recall@10'], popular.se['recall@10']),
    );
    expect(m['recall@10']).toBeLessThanOrEqual(oracle['recall@10'] + 2 * m.se['recall@10']);
    // Seeded: the same scores twice.
    const again = lastItemSoftmaxScorer(ds, events) as CaseScorer;
    const a = new Float32Array(N);
    const b = new Float32Array(N);
    softmax(cases[0], 0, a);
    again(cases[0], 0, b);
    expect(b).toEqual(a);
    expect(lastItemSoftmaxScorer(ds, events, { maxWork: 1000 })).toMatch(/^skipped: 100 items × \d+ training pairs/);
  });

  it('the last-item softmax baseline serves on the window it trained on: the last `history` positives', async () => {
    const ds = await world({ ...SMALL, users: 60, items: 40, categories: 4, minEvents: 8, maxEvents: 10 });
    const events = userEvents(ds);
    const cases = retrievalCases(ds, events, contextRows(ds), SPLIT_TEST);
    const N = ds.items!.rows;
    const softmax = lastItemSoftmaxScorer(ds, events, { history: 3, epochs: 1 }) as CaseScorer;
    // The case's two newest events become non-positive (views): the window reaches past them to the three
    // positives before, so the scores are those of the same case cut before them. (It was the last 3 events,
    // one positive here: a different user vector.)
    const c = cases.find((x) => x.historyEnd - x.historyStart >= 6)!;
    events.positive[c.historyEnd - 1] = 0;
    events.positive[c.historyEnd - 2] = 0;
    const a = new Float32Array(N);
    const b = new Float32Array(N);
    softmax(c, 0, a);
    softmax({ ...c, historyEnd: c.historyEnd - 2 }, 0, b);
    expect(a).toEqual(b);
  });
});
