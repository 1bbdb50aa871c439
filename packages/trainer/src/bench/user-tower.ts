// The user tower's time as the engine runs it for one user: the CPU path (CpuUserTower, and the reference it is
// checked against, userTowerReference: the CPU path before CpuUserTower, as main served it) and WebGPU (UserTower:
// set, one submit, readback of u; Dawn in Node, SwiftShader without a GPU). L 20, heads 2, hidden 64, D 32, a full
// history, random weights, every case interleaved round by round so that load changes hit them alike; medians and
// P99 after warm-up, ratios to a peer measured in the same run (docs/ARCHITECTURE.md §4).
//   by encoder depth: field dim 16, --last-item --causal --last-output, 0 blocks against 1 and 2 pre-LN blocks
//     (--ffn-hidden 16), each path's ratio to 0 blocks.
//   --widths (issue #17's bound): the event-log defaults (defaults.ts: --last-item --history-rows --causal
//     --last-output --next-item-loss 3) at field dim 16 and 32, each time's ratio to the reference at W 16.
//   --movielens (issue #17's bound): MovieLens' row before (no order-aware option) and now (--causal --last-output;
//     the next-item loss trains only), field dim 16, each path's ratio to its own time before.
//   node --import ./packages/trainer/bin/register.mjs packages/trainer/src/bench/user-tower.ts [--widths|--movielens]
//     [--runs 200] [--gpu-runs 200] (WebGPU's rounds; 0 leaves WebGPU out)
import { FIRST_INDEX } from '@vireo/core';
import { Gpu } from '@vireo/kernels';
import {
  CpuUserTower,
  RetrievalWeights,
  UserTower,
  retrievalParamLayout,
  userTowerReference,
  type RetrievalConfig,
} from '@vireo/models';
import { installDawn } from '../node/dawn.ts';

const arg = (name: string) => process.argv.indexOf(name);
const widths = arg('--widths') >= 0;
const movielens = arg('--movielens') >= 0;
const long = widths || movielens;
const runs = arg('--runs') >= 0 ? Number(process.argv[arg('--runs') + 1]) : long ? 2000 : 200;
const warmup = long ? 200 : 20;
const gpuRuns = arg('--gpu-runs') >= 0 ? Number(process.argv[arg('--gpu-runs') + 1]) : long ? 100 : runs;
const gpuWarmup = Math.min(20, gpuRuns);
const N = 1000;
const L = 20;

interface Case {
  name: string;
  W: number;
  blocks: number;
  historyRows: boolean;
  /** --last-item, --causal, --last-output: all three unless `order` says otherwise. */
  order?: { lastItem: boolean; causal: boolean; lastOutput: boolean };
}
const cases: Case[] = widths
  ? [16, 32].map((W) => ({ name: `W ${W}`, W, blocks: 0, historyRows: true }))
  : movielens
    ? [
        {
          name: 'before',
          W: 16,
          blocks: 0,
          historyRows: false,
          order: { lastItem: false, causal: false, lastOutput: false },
        },
        {
          name: 'now',
          W: 16,
          blocks: 0,
          historyRows: false,
          order: { lastItem: false, causal: true, lastOutput: true },
        },
      ]
    : [0, 1, 2].map((blocks) => ({ name: `blocks ${blocks}`, W: 16, blocks, historyRows: false }));

/** Item id and category; user id and hour; L recency rows and the label rows; the history's own item:id rows. */
function config({ W, blocks, historyRows, order }: Case): RetrievalConfig {
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
  const historyId = historyRows ? take('history:item:id', N + FIRST_INDEX) : null;
  return {
    fieldDim: W,
    embeddingDim: 32,
    heads: 2,
    userHidden: 64,
    itemHidden: 64,
    temperature: 0.05,
    historyLength: L,
    historyItemFields: false,
    ...(order ?? { lastItem: true, causal: true, lastOutput: true }),
    itemFields,
    userFields,
    position,
    label,
    tableRows: next,
    ...(historyId ? { historyId, nextItem: 3 } : {}),
    ...(blocks > 0 ? { blocks, ffnHidden: W } : {}),
  };
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const paths = ['reference', 'cpu', 'webgpu'] as const;
type Path = (typeof paths)[number];

installDawn();
const gpu = await Gpu.create();
const history = Uint32Array.from({ length: L }, (_, j) => FIRST_INDEX + ((j * 104_729) % N));
const fields = [FIRST_INDEX + 1, FIRST_INDEX + 9];
let maxDiff = 0;
const towers = await Promise.all(
  cases.map(async (k) => {
    const c = config(k);
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 0.8 - 0.4;
    const params = new Float32Array(retrievalParamLayout(c).length).map(rand);
    const table = new Float32Array(c.tableRows * k.W).map(rand);
    const weights = RetrievalWeights.create(gpu, c);
    gpu.write(weights.params, params);
    gpu.write(weights.table, table);
    const user = await UserTower.create(gpu, weights, { maxBatch: 1 });
    const readU = gpu.readback('bench:user_tower', 32 * 4);
    const cpu = new CpuUserTower(c, params, table);
    const a = cpu.forward(fields, history);
    const b = userTowerReference(c, params, table, fields, history);
    for (let d = 0; d < a.length; d++) maxDiff = Math.max(maxDiff, Math.abs(a[d] - b[d]));
    const run: Record<Path, () => unknown> = {
      reference: () => userTowerReference(c, params, table, fields, history),
      cpu: () => cpu.forward(fields, history),
      webgpu: async () => {
        user.set(1, () => ({ fields, history }));
        gpu.run((pass) => user.encode(pass));
        return new Float32Array(await readU.read(user.act.out.buffer, 32 * 4, user.act.out.offset));
      },
    };
    return { ...k, run, times: { reference: [] as number[], cpu: [] as number[], webgpu: [] as number[] } };
  }),
);
// The CPU paths first, then WebGPU: a GPU call waits on the event loop and on SwiftShader's threads, which would
// land in the CPU calls' times if they shared rounds.
const load0 = (await import('node:os')).loadavg()[0];
for (const [group, n, w] of [
  [['reference', 'cpu'], runs, warmup],
  [['webgpu'], gpuRuns, gpuWarmup],
] as const) {
  for (let r = 0; r < n + w; r++) {
    for (const t of towers) {
      for (const path of group) {
        const t0 = performance.now();
        await t.run[path]();
        const ms = performance.now() - t0;
        if (r >= w) t.times[path].push(ms);
      }
    }
  }
}
const load1 = (await import('node:os')).loadavg()[0];
const shape = widths ? 'event-log defaults' : movielens ? 'MovieLens rows, W 16' : 'W 16';
console.log(
  `user tower (L ${L}, heads 2, hidden 64, D 32, ${shape}), ${runs} runs after ` +
    `${warmup} warm-up (WebGPU ${gpuRuns} after ${gpuWarmup}), load ${load0.toFixed(1)} → ${load1.toFixed(1)}, ` +
    `${gpu.info.description}; ` +
    `max |Δu| CpuUserTower vs reference ${maxDiff.toExponential(2)}`,
);
const label: Record<Path, string> = {
  reference: 'cpu before (userTowerReference)',
  cpu: 'cpu after (CpuUserTower)',
  webgpu: 'webgpu (UserTower)',
};
for (const path of paths) {
  if (towers[0].times[path].length === 0) continue; // --gpu-runs 0
  // --widths: every time against the CPU path's W 16 time before (issue #17); else each path's own 0 blocks.
  const base = percentile(towers[0].times[widths && path !== 'webgpu' ? 'reference' : path], 0.5);
  for (const t of towers) {
    const p50 = percentile(t.times[path], 0.5);
    const p99 = percentile(t.times[path], 0.99);
    console.log(
      `${label[path].padEnd(31)} ${t.name.padEnd(8)}: P50 ${p50.toFixed(3)} ms, P99 ${p99.toFixed(3)} ms, ` +
        `${(p50 / base).toFixed(2)}× ${widths && path !== 'webgpu' ? 'the reference at W 16' : towers[0].name}`,
    );
  }
}
gpu.destroy();
