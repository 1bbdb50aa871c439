// Where Chromium is and how to start it with WebGPU: used by the browser tests, the end-to-end
// test and the runtime benchmark. Debian's `chromium` package; SwiftShader when there is no GPU.
import { existsSync } from 'node:fs';

/** Path to Chromium: $CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path))
    throw new Error(`Chromium was not found at ${path}: run \`apt-get install -y chromium\` or set CHROMIUM_PATH.`);
  return path;
}

/** Launch flags: WebGPU on (SwiftShader unless VIREO_GPU_ADAPTER=native), quiet networking. */
export function chromiumArgs(): string[] {
  const args = [
    '--no-sandbox',
    '--enable-unsafe-webgpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--enable-features=Vulkan',
  ];
  if (process.env.VIREO_GPU_ADAPTER !== 'native') args.push('--use-webgpu-adapter=swiftshader');
  return args;
}
