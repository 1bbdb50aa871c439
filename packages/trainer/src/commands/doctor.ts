// `vireo doctor`: the adapter, the limits and features that matter, and every kernel once on
// random inputs against its CPU reference. Exit 1 if a kernel is out of tolerance or no adapter.
import { KERNEL_CHECKS } from '@vireo/kernels';
import { parseFlags } from '../cli/args.ts';
import { openGpu } from '../node/gpu.ts';

const LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
] as const;

interface KernelReport {
  kernel: string;
  cases: number;
  maxError: number;
  tolerance: number;
  ok: boolean;
  worstCase: string;
  detail: string;
  ms: number;
}

const HELP = `usage: vireo doctor [--full] [--seed N] [--json]

Shows the WebGPU adapter, its limits and features, and runs every kernel once on random inputs
against its CPU reference (--full adds the large cases; --seed N repeats a run's inputs). Exit 1
when a kernel is out of tolerance.
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      json: { type: 'boolean' },
      full: { type: 'boolean' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    'doctor',
  );
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  const gpu = await openGpu();
  try {
    const limits = Object.fromEntries(LIMITS.map((k) => [k, gpu.limits[k]]));
    const features = { ...gpu.features };
    const reports = new Map<string, KernelReport>();
    for (const check of KERNEL_CHECKS) {
      if (check.large && !values.full) continue;
      const t0 = performance.now();
      const r = await check.run(gpu, seed);
      const ms = performance.now() - t0;
      const rep = reports.get(check.kernel) ?? {
        kernel: check.kernel,
        cases: 0,
        maxError: 0,
        tolerance: check.tolerance,
        ok: true,
        worstCase: '',
        detail: '',
        ms: 0,
      };
      rep.cases += 1;
      rep.ms += ms;
      const ratio = r.error / check.tolerance;
      if (ratio >= rep.maxError / rep.tolerance || rep.worstCase === '') {
        rep.maxError = r.error;
        rep.tolerance = check.tolerance;
        rep.worstCase = check.case;
        rep.detail = r.detail;
      }
      if (!(r.error <= check.tolerance)) rep.ok = false;
      reports.set(check.kernel, rep);
    }
    const kernels = [...reports.values()];
    const ok = kernels.every((k) => k.ok);
    if (values.json) {
      process.stdout.write(JSON.stringify({ ok, seed, adapter: gpu.info, limits, features, kernels }, null, 2) + '\n');
    } else {
      const out: string[] = [];
      out.push(
        `adapter   ${gpu.info.vendor} · ${gpu.info.architecture} · ` +
          `${gpu.info.description || gpu.info.device || 'no description'}` +
          `${gpu.info.isFallbackAdapter ? ' (fallback)' : ''}`,
      );
      out.push(
        `features  ${Object.entries(features)
          .map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`)
          .join(' · ')}`,
      );
      for (const [k, v] of Object.entries(limits)) out.push(`limit     ${k.padEnd(34)} ${v.toLocaleString('en-US')}`);
      out.push('', `${'kernel'.padEnd(26)} cases  max rel error   tolerance   result   (seed ${seed})`);
      for (const k of kernels) {
        out.push(
          `${k.kernel.padEnd(26)} ${String(k.cases).padStart(5)}  ` +
            `${k.maxError.toExponential(2).padStart(13)}   ` +
            `${k.tolerance.toExponential(0).padStart(9)}   ${k.ok ? 'ok' : 'FAIL'}`,
        );
        if (!k.ok) out.push(`   worst: ${k.worstCase}: ${k.detail}`);
      }
      out.push('', ok ? `all ${kernels.length} kernels within tolerance` : 'some kernels are out of tolerance');
      process.stdout.write(out.join('\n') + '\n');
    }
    return ok ? 0 : 1;
  } finally {
    gpu.destroy();
  }
}
