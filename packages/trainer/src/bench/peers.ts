// The PyTorch peer of the kernel benchmarks: one python3 process times a list of cases
// (kernels_torch.py) on CUDA when PyTorch sees a GPU, else on the CPU, in the same run as the WGSL
// kernels. Missing PyTorch is a reason, not an error: every row then says why it has no peer.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Stat } from './schema.ts';
import { PYTHON, torchAvailable } from './train.ts';

const SCRIPT = fileURLToPath(new URL('./kernels_torch.py', import.meta.url));

export interface TorchRun {
  /** `cuda` or `cpu`. */
  device: string;
  /** The CUDA device's name, or `CPU`. */
  name: string;
  torch: string;
  threads: number;
  results: (Stat | { skipped: string })[];
}

export interface TorchTiming {
  warmup: number;
  minRuns: number;
  minMs: number;
  maxRuns: number;
}

/**
 * Times `cases` in PyTorch; a string (why not) when PyTorch is missing or fails.
 * @example const r = torchPeer([{ op: 'copy', bytes: 16e6 }], 'auto', { warmup: 2, minRuns: 10, minMs: 300, maxRuns:
 * 200 });
 */
export function torchPeer(
  cases: Record<string, number | string>[],
  device: string,
  timing: TorchTiming,
): TorchRun | string {
  const missing = torchAvailable();
  if (missing) return missing;
  const r = spawnSync(PYTHON, [SCRIPT], {
    input: JSON.stringify({ device, ...timing, cases }),
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) return `PyTorch failed: ${(r.stderr || '').trim().split('\n').at(-1)}`;
  return JSON.parse(r.stdout) as TorchRun;
}

/** How a PyTorch run names itself in a table: `PyTorch 2.4 CUDA (NVIDIA H200)` or `PyTorch 1.13 CPU, 1 thread`. */
export function torchWho(run: TorchRun): string {
  return run.device === 'cuda'
    ? `PyTorch ${run.torch} CUDA (${run.name})`
    : `PyTorch ${run.torch} CPU, ${run.threads} thread${run.threads === 1 ? '' : 's'}`;
}
