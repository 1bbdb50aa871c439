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
  // Dawn segfaults in its event tick if this object is garbage-collected: keep it for the process.
  g.__dawnGpu = create([]);
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: g.__dawnGpu, configurable: true });
  return g.__dawnGpu;
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
