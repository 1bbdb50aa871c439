// Kernel benchmarks as data: each case binds its buffers once, then the harness times GPU calls
// (several dispatches per submit when they are fast, so submit latency does not hide the kernel) beside the CPU
// reference on the same inputs. Memory-bound kernels report GB/s beside the copy kernel's.
import {
  attentionReference,
  copyKernel,
  dlrmInteractionReference,
  dlrmInteractionWidth,
  embeddingBagReference,
  linearReference,
  matmulDirectKernel,
  matmulDirectWorkgroups,
  matmulKernel,
  matmulReference,
  matmulWorkgroups,
  quantizeItems,
  testRng,
  topkReference,
  type Int8Items,
  AttentionPoolOp,
  LinearOp,
  TopkOp,
  DlrmInteractionOp,
  EmbeddingBagOp,
  SelfAttentionOp,
} from '@vireo/kernels';
import type { Gpu } from '@vireo/kernels';
import { measure, type MeasureOptions, type Timing } from './harness.ts';

export interface BenchInstance {
  /** Records one call into a pass (buffers and bind groups made in setup). */
  encode(pass: GPUComputePassEncoder): void;
  /** The CPU reference on the same inputs, or null when it would take too long to time. */
  cpu: (() => void) | null;
  dispose(): void;
}

export interface KernelBench {
  kernel: string;
  case: string;
  /** Bytes read + written per call (for GB/s). */
  bytes: number;
  /** Floating-point operations per call (for GFLOP/s), when compute-bound. */
  flops?: number;
  /** The yardstick this case is compared with: the copy kernel's bandwidth or the tuned matmul's GFLOP/s. */
  limit?: 'copy' | 'matmul';
  /** The same operation for the PyTorch peer (kernels_torch.py), when it has one. */
  torch?: Record<string, number | string>;
  setup(gpu: Gpu): Promise<BenchInstance>;
}

const f32 = 4;

/** Plain streaming copy of `mb` megabytes: the adapter's achievable bandwidth. */
export function copyBench(mb: number): KernelBench {
  const n4 = Math.floor((mb * 1e6) / 16);
  return {
    kernel: 'copy',
    case: `${mb} MB`,
    bytes: 2 * n4 * 16,
    torch: { op: 'copy', bytes: n4 * 16 },
    async setup(gpu) {
      const src = gpu.buffer('bench:src', n4 * 16);
      const dst = gpu.buffer('bench:dst', n4 * 16);
      const bound = await gpu.bind(copyKernel, { src, dst });
      bound.setParams({ n4 });
      const host = new Float32Array(n4 * 4);
      const out = new Float32Array(n4 * 4);
      return {
        encode: (pass) => bound.dispatch(pass, Math.ceil(n4 / 256)),
        cpu: () => out.set(host),
        dispose: () => {
          src.destroy();
          dst.destroy();
          bound.destroy();
        },
      };
    },
  };
}

/** A linear layer of the DLRM/two-tower shapes, in the variant the model uses on this adapter. */
export function linearBench(M: number, K: number, N: number): KernelBench {
  return {
    kernel: 'linear',
    case: `M=${M} K=${K} N=${N} relu`,
    bytes: (M * K + N * K + N + M * N) * f32,
    flops: 2 * M * K * N,
    limit: 'matmul',
    torch: { op: 'linear', M, K, N },
    async setup(gpu) {
      const rng = testRng(1);
      const xh = rng.uniform(M * K),
        wh = rng.uniform(N * K),
        bh = rng.uniform(N);
      const x = gpu.upload('bench:x', xh),
        w = gpu.upload('bench:w', wh),
        b = gpu.upload('bench:b', bh);
      const y = gpu.buffer('bench:y', M * N * f32);
      const bound = await LinearOp.create(gpu, { x, w, b, y }, { M, K, N });
      return {
        encode: (pass) => bound.encode(pass, { M, K, N, act: 'relu' }),
        cpu: () => void linearReference(xh, wh, bh, M, K, N, 'relu'),
        dispose: () => {
          [x, w, b, y].forEach((t) => t.destroy());
          bound.destroy();
        },
      };
    },
  };
}

/** The tuned matmul y = x · wᵀ (packages/kernels/src/matmul/matmul.wgsl), `tiled` or `direct`: the compute yardstick.
 * */
export function matmulBench(M: number, K: number, N: number, variant: 'tiled' | 'direct'): KernelBench {
  return {
    kernel: `matmul ${variant}`,
    case: `M=${M} K=${K} N=${N}`,
    bytes: (M * K + N * K + M * N) * f32,
    flops: 2 * M * K * N,
    torch: { op: 'matmul', M, K, N },
    async setup(gpu) {
      const rng = testRng(8);
      const xh = rng.uniform(M * K),
        wh = rng.uniform(N * K);
      const x = gpu.upload('bench:x', xh),
        w = gpu.upload('bench:w', wh);
      const y = gpu.buffer('bench:y', M * N * f32);
      const tiled = variant === 'tiled';
      const bound = await gpu.bind(tiled ? matmulKernel : matmulDirectKernel, { x, w, y });
      bound.setParams({ M, K, N });
      const workgroups = tiled ? matmulWorkgroups(M, N) : matmulDirectWorkgroups(M, N);
      return {
        encode: (pass) => bound.dispatch(pass, workgroups),
        cpu: M * K * N <= 2 ** 27 ? () => void matmulReference(xh, wh, M, K, N) : null,
        dispose: () => {
          [x, w, y].forEach((t) => t.destroy());
          bound.destroy();
        },
      };
    },
  };
}

/** Random unit vectors (n, d): the shape of L2-normalised tower outputs. */
function unitRows(n: number, d: number, seed: number): Float32Array {
  const rng = testRng(seed);
  const out = rng.uniform(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += out[i * d + j] ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < d; j++) out[i * d + j] *= inv;
  }
  return out;
}

/** Rows per host array of a benchmark catalogue: a JS ArrayBuffer holds at most 4 GiB. */
const HOST_CHUNK_ROWS = 1 << 20;

/**
 * Brute-force retrieval: one user vector against N items, top-k (float32 or int8 items). Items
 * are built in host arrays of at most `chunkRows` rows, which TopkOp takes as a list (and
 * re-splits to the adapter's bindings), so 10M × 128 float32 (4.8 GiB) is one catalogue too.
 */
export function topkBench(N: number, D: number, k: number, int8: boolean, chunkRows = HOST_CHUNK_ROWS): KernelBench {
  return {
    kernel: int8 ? 'topk int8' : 'topk',
    case: `N=${N} D=${D} k=${k}`,
    bytes: int8 ? N * D + N * 4 : N * D * 4,
    limit: 'copy',
    torch: { op: int8 ? 'topk_int8' : 'topk', N, D, k },
    async setup(gpu) {
      const chunks = Array.from({ length: Math.ceil(N / chunkRows) }, (_, c) => {
        const rows = Math.min(chunkRows, N - c * chunkRows);
        const part = unitRows(rows, D, 2 + c);
        return int8 ? quantizeItems(part, rows, D) : part;
      });
      const items = chunks.length === 1 && !int8 ? (chunks[0] as Float32Array) : null;
      const query = unitRows(1, D, 3);
      const search = await TopkOp.create(
        gpu,
        chunks.length === 1 ? chunks[0] : (chunks as Float32Array[] | Int8Items[]),
        { N, D, maxBatch: 1, maxK: k },
      );
      search.setQueries(query);
      search.setExclusions(1, null);
      return {
        encode: (pass) => search.encode(pass, 1, k),
        cpu: items ? () => void topkReference(query, items, 1, N, D, k) : null,
        dispose: () => search.destroy(),
      };
    },
  };
}

/** Embedding lookups with mean pooling: B bags of `bag` ids from a table (R, D). */
export function embeddingBagBench(B: number, bag: number, R: number, D: number): KernelBench {
  return {
    kernel: 'embedding_bag',
    case: `B=${B} bag=${bag} R=${R} D=${D} mean`,
    bytes: B * bag * (D * 4 + 4) + B * D * 4,
    limit: 'copy',
    torch: { op: 'embedding_bag', B, bag, R, D },
    async setup(gpu) {
      const rng = testRng(4);
      const tableHost = rng.uniform(R * D);
      const table = gpu.upload('bench:table', tableHost);
      const indices = Uint32Array.from({ length: B * bag }, () => rng.int(R));
      const offsets = Uint32Array.from({ length: B + 1 }, (_, i) => i * bag);
      const op = await EmbeddingBagOp.create(gpu, { table, R, D, maxBags: B, maxNnz: B * bag, mode: 'mean' });
      op.set(indices, offsets, null);
      return {
        encode: (pass) => op.encode(pass),
        cpu: () => void embeddingBagReference(tableHost, indices, offsets, null, R, D, 'mean'),
        dispose: () => {
          op.destroy();
          table.destroy();
        },
      };
    },
  };
}

/** DLRM's pairwise-dot interaction of F embeddings and the dense vector, B samples. */
export function dlrmInteractionBench(B: number, F: number, D: number): KernelBench {
  const W = dlrmInteractionWidth(F, D, 'dot');
  return {
    kernel: 'dlrm_interaction',
    case: `B=${B} F=${F} D=${D} dot`,
    bytes: (B * D + B * F * D + B * W) * f32,
    flops: (2 * B * D * ((F + 1) * F)) / 2,
    limit: 'matmul', // ~5 FLOP per byte: compute-bound against both adapters' copy and matmul limits
    torch: { op: 'dlrm_interaction', B, F, D },
    async setup(gpu) {
      const rng = testRng(5);
      const denseHost = rng.uniform(B * D),
        embHost = rng.uniform(B * F * D);
      const dense = gpu.upload('bench:dense', denseHost),
        emb = gpu.upload('bench:emb', embHost);
      const op = await DlrmInteractionOp.create(gpu, { dense, emb, maxBatch: B, F, D });
      return {
        encode: (pass) => op.encode(pass, B),
        cpu: () => void dlrmInteractionReference(denseHost, embHost, B, F, D, 'dot'),
        dispose: () => {
          op.destroy();
          dense.destroy();
          emb.destroy();
        },
      };
    },
  };
}

/** The history encoder: self-attention over L items then learned-query pooling, B users. */
export function attentionBench(B: number, L: number, D: number, H: number): KernelBench {
  return {
    kernel: 'attention',
    case: `B=${B} L=${L} D=${D} H=${H} +pool`,
    bytes: (4 * B * L * D + B * D) * f32,
    flops: 4 * B * L * L * D + 4 * B * L * D,
    limit: 'matmul', // ~12 FLOP per byte: compute-bound
    torch: { op: 'attention', B, L, D, H },
    async setup(gpu) {
      const rng = testRng(6);
      const [qh, kh, vh] = [rng.uniform(B * L * D), rng.uniform(B * L * D), rng.uniform(B * L * D)];
      const lengthsHost = Uint32Array.from({ length: B }, () => 1 + rng.int(L));
      const q = gpu.upload('bench:q', qh),
        k = gpu.upload('bench:k', kh),
        v = gpu.upload('bench:v', vh);
      const lengths = gpu.upload('bench:lengths', lengthsHost);
      const out = gpu.buffer('bench:out', B * L * D * f32);
      const query = gpu.upload('bench:query', rng.uniform(D));
      const pooled = gpu.buffer('bench:pooled', B * D * f32);
      const shape = { B, L, D, H };
      const attn = await SelfAttentionOp.create(gpu, shape, { q, k, v, lengths, out });
      const pool = await AttentionPoolOp.create(gpu, shape, { query, k: out, v: out, lengths, pooled });
      return {
        encode: (pass) => {
          attn.encodeForward(pass, B);
          pool.encodeForward(pass, B);
        },
        cpu: () => void attentionReference(qh, kh, vh, lengthsHost, B, L, D, H),
        dispose: () => {
          attn.destroy();
          pool.destroy();
          [q, k, v, lengths, out, query, pooled].forEach((b) => b.destroy());
        },
      };
    },
  };
}

/** Up to this many dispatches per submit, to amortize submit + sync latency on fast kernels. */
const MAX_REPS = 10;

/**
 * Times one case on the adapter: one call first (compiles, warms caches), then as many calls per
 * submit as fit in ~2 ms (at most 10), timed by `measure`; returns the time per call.
 * @example const t = await timeKernel(gpu, inst, { warmup: 2, minRuns: 20 });
 */
export async function timeKernel(gpu: Gpu, inst: BenchInstance, opts: MeasureOptions): Promise<Timing> {
  const submit = async (reps: number) => {
    gpu.run((pass) => {
      for (let r = 0; r < reps; r++) inst.encode(pass);
    });
    await gpu.idle();
  };
  const t0 = performance.now();
  await submit(1);
  const reps = Math.max(1, Math.min(MAX_REPS, Math.floor(2 / (performance.now() - t0))));
  const t = await measure(() => submit(reps), opts);
  return { median: t.median / reps, p99: t.p99 / reps, runs: t.runs * reps };
}

/** Every kernel case, smallest to largest per kernel. */
export function kernelBenches(): KernelBench[] {
  return [
    copyBench(16),
    linearBench(1000, 13, 512),
    linearBench(1000, 512, 256),
    linearBench(1000, 256, 64),
    embeddingBagBench(1000, 20, 100_000, 64),
    attentionBench(64, 50, 64, 4),
    dlrmInteractionBench(1000, 26, 64),
    topkBench(100_000, 128, 1000, false),
    topkBench(100_000, 128, 1000, true),
  ];
}
