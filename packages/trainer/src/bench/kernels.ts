// Kernel benchmarks as data: each case binds its buffers once, then the harness times GPU calls
// (several dispatches per submit when they are fast, so submit latency does not hide the kernel) beside the CPU
// reference on the same inputs. Memory-bound kernels report GB/s beside the copy kernel's.
import { ACTIVATIONS, copyKernel, linearForward, linearReference, linearWorkgroups, testRng } from '@vireo/shaders';
import type { Gpu } from '@vireo/runtime-web/gpu';

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
  /** The yardstick this case is compared with: `copy` bandwidth or none. */
  limit?: 'copy';
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
        dispose: () => { src.destroy(); dst.destroy(); bound.destroy(); },
      };
    },
  };
}

/** A linear layer of the DLRM/two-tower shapes. */
export function linearBench(M: number, K: number, N: number, cpu = true): KernelBench {
  return {
    kernel: 'linear',
    case: `M=${M} K=${K} N=${N} relu`,
    bytes: (M * K + N * K + N + M * N) * f32,
    flops: 2 * M * K * N,
    async setup(gpu) {
      const rng = testRng(1);
      const xh = rng.uniform(M * K), wh = rng.uniform(N * K), bh = rng.uniform(N);
      const x = gpu.upload('bench:x', xh), w = gpu.upload('bench:w', wh), b = gpu.upload('bench:b', bh);
      const y = gpu.buffer('bench:y', M * N * f32);
      const bound = await gpu.bind(linearForward, { x, w, b, y });
      bound.setParams({ M, K, N, act: ACTIVATIONS.relu, has_bias: 1 });
      return {
        encode: (pass) => bound.dispatch(pass, linearWorkgroups(M, N)),
        cpu: cpu ? () => void linearReference(xh, wh, bh, M, K, N, 'relu') : null,
        dispose: () => { [x, w, b, y].forEach((t) => t.destroy()); bound.destroy(); },
      };
    },
  };
}

/** Every kernel case, smallest to largest per kernel. */
export function kernelBenches(): KernelBench[] {
  return [
    copyBench(16),
    linearBench(1000, 13, 512),
    linearBench(1000, 512, 256),
    linearBench(1000, 256, 64),
  ];
}
