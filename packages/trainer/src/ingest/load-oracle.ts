// The synthetic world's truth, reassembled from a loaded dataset.
import type { Dataset } from './dataset.ts';
import { IngestError } from './errors.ts';
import type { WorldParameters, WorldTruth } from './oracle.ts';

/**
 * The oracle of a synthetic dataset (null for other sources): world parameters from dataset.json
 * and latent factors from the users / items tables, ready for `scoreAllItems` and friends.
 * @example
 * const truth = loadOracle(ds)!;
 * const best = topK(scoreAllItems(truth, u, ts, hour, device, scores), 100, trainItems);
 */
export function loadOracle(ds: Dataset): WorldTruth | null {
  if (ds.summary.source !== 'synthetic' || !ds.summary.oracle) return null;
  // An FM world's clicks do not follow the latent factors: only its per-impression oracle:pClick is the truth.
  if ((ds.summary.oracle as { clicks?: string }).clicks === 'fm') return null;
  const col = (table: 'users' | 'items', name: string) => {
    const c = ds[table]?.columns.get(name);
    if (!c) throw new IngestError(`${ds.dir}: synthetic dataset has no ${table} column ${name}; ingest it again.`);
    return c.data;
  };
  return {
    ...(ds.summary.oracle as unknown as WorldParameters),
    userLatent: col('users', 'oracle:latent') as Float32Array,
    userDrift: col('users', 'oracle:drift') as Float32Array,
    itemLatent: col('items', 'oracle:latent') as Float32Array,
    itemBias: col('items', 'oracle:bias') as Float32Array,
    itemCategory: col('items', 'oracle:category') as Int32Array,
    itemPrice: col('items', 'oracle:price') as Float32Array,
    itemExposure: col('items', 'oracle:exposure') as Float32Array,
  };
}
