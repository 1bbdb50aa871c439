// WebGPU in Node: Dawn from the npm package `webgpu`, injected as `navigator.gpu` so that the
// Web-standard GPU layer of @vireo/kernels runs unchanged. Without a GPU, Dawn runs on
// SwiftShader's Vulkan driver, which Debian's `chromium` package ships.
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { create, globals } from 'webgpu';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * True when this machine has a GPU device node (NVIDIA, or a DRM render node). Mesa's ICD files
 * alone prove nothing: Debian's chromium pulls them in on machines without any GPU.
 */
function hasGpuDevice(): boolean {
  if (existsSync('/dev/nvidia0')) return true;
  return existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
}

/**
 * Installs Dawn as `globalThis.navigator.gpu` (once per process) and returns it.
 * Picks SwiftShader when no Vulkan driver is installed and VK_ICD_FILENAMES is unset.
 * @example const gpu = installDawn(); const adapter = await gpu.requestAdapter();
 */
export function installDawn(): GPU {
  const g = globalThis as any;
  if (g.__dawnGpu) return g.__dawnGpu;
  if (!process.env.VK_ICD_FILENAMES && !hasGpuDevice() && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  // Vulkan's WSI layer complains on stderr when this is unset, though compute needs no display.
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
  Object.assign(globalThis, globals);
  if (!hasGpuDevice()) napWhileWaiting(globals as unknown as Record<string, { prototype: Record<string, unknown> }>);
  // Dawn segfaults in its event tick if this object is garbage-collected: keep it for the process.
  g.__dawnGpu = create([]);
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: g.__dawnGpu, configurable: true });
  return g.__dawnGpu;
}

/** Milliseconds the main thread sleeps between two polls of Dawn's events while a GPU promise is pending. */
export const NAP_MS = 0.5;

const napCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for `ms` (Atomics.wait on a cell nobody notifies). */
const sleepMs = (ms: number) => void Atomics.wait(napCell, 0, 0, ms);

/**
 * Dawn's Node binding resolves a pending promise (a buffer map, onSubmittedWorkDone, an async
 * pipeline) by polling its events from setImmediate, as fast as the event loop turns: the main
 * thread spins at 100 % while the GPU works. On SwiftShader the GPU is this machine's CPU, so the
 * spin takes a core from the shaders (docs/ARCHITECTURE.md, "Training"). While such a promise is
 * pending, one more immediate sleeps NAP_MS per turn of the loop, which turns the spin into a poll
 * every half millisecond. Installed once per process, on a machine without a GPU only.
 */
export function napWhileWaiting(
  classes: Record<string, { prototype: Record<string, unknown> }>,
  sleep: (ms: number) => void = sleepMs,
): void {
  let pending = 0;
  // One chain of naps at a time. A wait that starts while the last one's chain is still queued (its promise
  // settled and the next was asked for before the loop turned, as a training loop does every step) must not
  // start another: each extra chain slept NAP_MS more per turn, and they piled up step after step, so a long
  // run slowed down while its CPU use fell (docs/ARCHITECTURE.md, "Training").
  let napping = false;
  const nap = () => {
    if (pending === 0) {
      napping = false;
      return;
    }
    sleep(NAP_MS);
    setImmediate(nap);
  };
  const wrap = (cls: string, method: string) => {
    const proto = classes[cls]?.prototype;
    const original = proto?.[method];
    if (typeof original !== 'function') return;
    proto[method] = function (this: unknown, ...args: unknown[]) {
      const promise = (original as (...a: unknown[]) => Promise<unknown>).apply(this, args);
      pending++;
      if (!napping) {
        napping = true;
        setImmediate(nap);
      }
      return promise.finally(() => pending--);
    };
  };
  wrap('GPUBuffer', 'mapAsync');
  wrap('GPUQueue', 'onSubmittedWorkDone');
  wrap('GPUDevice', 'popErrorScope');
  wrap('GPUDevice', 'createComputePipelineAsync');
}

/** One sentence on what to install when Dawn finds no adapter. */
export function noAdapterHint(): string {
  if (!existsSync(SWIFTSHADER_ICD) && !hasGpuDevice())
    return (
      'No WebGPU adapter: install a Vulkan driver for your GPU, or ' +
      "Debian's `chromium` and `libvulkan1` packages (SwiftShader), then retry."
    );
  return 'No WebGPU adapter: Dawn could not open a Vulkan device (is libvulkan1 installed?).';
}
