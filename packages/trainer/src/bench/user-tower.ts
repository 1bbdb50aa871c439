// The user tower's time by encoder depth, as the engine runs it for one user: the CPU path (userTowerReference) and
// WebGPU (UserTower: set, one submit, readback of u; Dawn in Node, SwiftShader without a GPU). The trainer's default
// shape (L 20, field dim 16, heads 2, hidden 64, D 32) with --last-item --causal --last-output, a full history and
// random weights; 0 blocks (today's encoder) against 1 and 2 pre-LN blocks (--ffn-hidden 16), interleaved round by
// round so that load changes hit every depth alike. Prints medians and P99 after warm-up and each depth's ratio to 0
// blocks measured in the same run (docs/ARCHITECTURE.md §4).
//   node --import ./packages/trainer/bin/register.mjs packages/trainer/src/bench/user-tower.ts [--runs 200]
import { FIRST_INDEX } from '@vireo/core';
import { Gpu } from '@vireo/kernels';
import {
  RetrievalWeights,
  UserTower,
  retrievalParamLayout,
  userTowerReference,
  type RetrievalConfig,
} from '@vireo/models';
import { installDawn } from '../node/dawn.ts';

const i = process.argv.indexOf('--runs');
const runs = i >= 0 ? Number(process.argv[i + 1]) : 200;
const N = 1000;
const L = 20;
const W = 16;
const depths = [0, 1, 2];

/** Item id and category; user id and hour; L recency rows and the label rows. */
function config(blocks: number): RetrievalConfig {
  let next = 0;
  const take = (name: string, rows: number, kind: 'categorical' | 'position' | 'label' = 'categorical') => {
    const f = { name, kind, offset: next, rows, width: 1 };
    next += rows;
    return f;
  };
  const itemFields = [take('item:id', N + FIRST_INDEX), take('item:category', 20 + FIRST_INDEX)];
  const userFields = [take('user:id', 100 + FIRST_INDEX), take('context:hour', 24 + FIRST_INDEX)];
  const position = take('position', L, 'position');
  const label = take('history:label', 2, 'label');
  return {
    fieldDim: W,
    embeddingDim: 32,
    heads: 2,
    userHidden: 64,
    itemHidden: 64,
    temperature: 0.05,
    historyLength: L,
    historyItemFields: false,
    lastItem: true,
    causal: true,
    lastOutput: true,
    itemFields,
    userFields,
    position,
    label,
    tableRows: next,
    ...(blocks > 0 ? { blocks, ffnHidden: W } : {}),
  };
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

installDawn();
const gpu = await Gpu.create();
const history = Uint32Array.from({ length: L }, (_, j) => FIRST_INDEX + ((j * 104_729) % N));
const fields = [FIRST_INDEX + 1, FIRST_INDEX + 9];
const towers = await Promise.all(
  depths.map(async (blocks) => {
    const c = config(blocks);
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 0.8 - 0.4;
    const params = new Float32Array(retrievalParamLayout(c).length).map(rand);
    const table = new Float32Array(c.tableRows * W).map(rand);
    const weights = RetrievalWeights.create(gpu, c);
    gpu.write(weights.params, params);
    gpu.write(weights.table, table);
    const user = await UserTower.create(gpu, weights, { maxBatch: 1 });
    const readU = gpu.readback('bench:user_tower', 32 * 4);
    return {
      blocks,
      cpu: () => userTowerReference(c, params, table, fields, history),
      webgpu: async () => {
        user.set(1, () => ({ fields, history }));
        gpu.run((pass) => user.encode(pass));
        return new Float32Array(await readU.read(user.act.out.buffer, 32 * 4, user.act.out.offset));
      },
      times: { cpu: [] as number[], webgpu: [] as number[] },
    };
  }),
);
for (let r = 0; r < runs + 20; r++) {
  for (const t of towers) {
    let t0 = performance.now();
    t.cpu();
    const cpu = performance.now() - t0;
    t0 = performance.now();
    await t.webgpu();
    const webgpu = performance.now() - t0;
    if (r < 20) continue; // warm-up
    t.times.cpu.push(cpu);
    t.times.webgpu.push(webgpu);
  }
}
const load = (await import('node:os')).loadavg()[0].toFixed(1);
console.log(
  `user tower (L ${L}, W ${W}, hidden 64, D 32), ${runs} runs after 20 warm-up, load ${load}, ${gpu.info.description}`,
);
for (const path of ['cpu', 'webgpu'] as const) {
  const base = percentile(towers[0].times[path], 0.5);
  for (const t of towers) {
    const p50 = percentile(t.times[path], 0.5);
    const p99 = percentile(t.times[path], 0.99);
    console.log(
      `${path.padEnd(6)} blocks ${t.blocks}: P50 ${p50.toFixed(3)} ms, P99 ${p99.toFixed(3)} ms, ` +
        `${(p50 / base).toFixed(2)}× 0 blocks`,
    );
  }
}
gpu.destroy();
