// Running the towers forward over a whole catalogue or a list of evaluation cases, in batches of
// the tower's max batch size: the item embeddings a bundle ships and the user vectors evaluation
// ranks with.
import type { Gpu } from '@vireo/kernels';
import type { ItemTower, UserTower } from '@vireo/models';
import type { RetrievalCase, UserEvents } from './data.ts';
import type { FeatureReader } from './features.ts';

/** Item tower outputs for items 0..N−1: (N, D) unit rows. */
export async function embedItems(gpu: Gpu, tower: ItemTower, reader: FeatureReader, N: number): Promise<Float32Array> {
  const D = tower.config.embeddingDim;
  const out = new Float32Array(N * D);
  for (let start = 0; start < N; start += tower.maxBatch) {
    const B = Math.min(tower.maxBatch, N - start);
    tower.set(B, (b, f) => reader.item(start + b, f));
    gpu.run((pass) => tower.encode(pass));
    out.set(await gpu.readF32(tower.act.out.buffer, B * D, tower.act.out.offset), start * D);
  }
  return out;
}

/** User tower outputs for every case (its user, its history, its event's context): (C, D). */
export async function embedCases(
  gpu: Gpu,
  tower: UserTower,
  reader: FeatureReader,
  events: UserEvents,
  cases: readonly RetrievalCase[],
): Promise<Float32Array> {
  const D = tower.config.embeddingDim;
  const out = new Float32Array(cases.length * D);
  for (let start = 0; start < cases.length; start += tower.maxBatch) {
    const B = Math.min(tower.maxBatch, cases.length - start);
    tower.set(B, (b) => {
      const c = cases[start + b];
      return {
        fields: reader.user(c.user, c.context, c.ts),
        history: events.items,
        historyLabels: events.positive,
        historyStart: c.historyStart,
        historyEnd: c.historyEnd,
      };
    });
    gpu.run((pass) => tower.encode(pass));
    out.set(await gpu.readF32(tower.act.out.buffer, B * D, tower.act.out.offset), start * D);
  }
  return out;
}
