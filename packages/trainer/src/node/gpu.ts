// The trainer's GPU: Dawn injected as navigator.gpu, then the same Gpu class the browser uses.
import { Gpu, GpuUnavailableError } from '@vireo/kernels';
import { UsageError } from '../cli/args.ts';
import { installDawn, noAdapterHint } from './dawn.ts';

/**
 * Opens the GPU for a CLI command; no adapter becomes a one-sentence error (exit 1).
 * The caller destroys it when done (Dawn otherwise keeps the process alive).
 */
export async function openGpu(): Promise<Gpu> {
  installDawn();
  try {
    return await Gpu.create();
  } catch (err) {
    if (err instanceof GpuUnavailableError) throw new UsageError(noAdapterHint(), 1);
    throw err;
  }
}

/** Whether the adapter runs on the CPU (SwiftShader, llvmpipe, lavapipe): benchmarks pick smaller shapes there. */
export function isCpuAdapter(gpu: Gpu): boolean {
  return (
    gpu.info.isFallbackAdapter ||
    /swiftshader|llvmpipe|lavapipe/i.test(`${gpu.info.architecture} ${gpu.info.description}`)
  );
}
