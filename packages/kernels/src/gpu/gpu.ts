// The GPU layer: one small class over a WebGPU device. Web-standard code only: in the browser
// WebGPU is `navigator.gpu`; in Node the trainer injects Dawn's under the same name.
//
// What it owns: device acquisition (with the adapter's real limits), a pipeline cache keyed by
// kernel and `override` constants, explicit bind-group layouts from the kernel's binding list,
// buffers and readback, dispatch split over `maxComputeWorkgroupsPerDimension`, error scopes
// around every pipeline and bind group, and device-loss reporting.
import { paramsByteSize, type KernelSpec } from '../kernel.ts';

/** What the adapter is, for people: printed by `vireo doctor` and shown by the demo. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

/** Capabilities detected once at device creation. */
export interface GpuFeatures {
  readonly timestampQuery: boolean;
  readonly subgroups: boolean;
  readonly shaderF16: boolean;
}

/** A WebGPU problem a user can act on (no adapter, device lost): one sentence. */
export class GpuUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuUnavailableError';
  }
}

/** A validation error from the GPU, naming the kernel and the shapes involved. */
export class KernelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelError';
  }
}

/** The device could not allocate a buffer: out of GPU memory, or over the driver's largest allocation. */
export class GpuOutOfMemoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuOutOfMemoryError';
  }
}

export interface GpuOptions {
  /** The WebGPU entry point; default `navigator.gpu`. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Called once if the device is lost (driver reset, tab backgrounded too long, destroy()). */
  onLost?: (info: GPUDeviceLostInfo) => void;
}

/** A bound region of a buffer, for bindings that use part of one. */
export interface BufferRegion {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}
export type BindingResource = GPUBuffer | BufferRegion;

const LIMITS_WANTED = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
] as const;

/**
 * A WebGPU device with Vireo's helpers. Create once per engine or trainer; `destroy()` when done.
 * @example
 * const gpu = await Gpu.create();
 * const op = await gpu.bind(l2normForward, { x, y });
 * gpu.run((pass) => op.dispatch(pass, rows, { rows, dim }));
 */
export class Gpu {
  readonly limits: GPUSupportedLimits;
  lost: GPUDeviceLostInfo | null = null;
  /** The first validation/out-of-memory error raised outside an error scope (e.g. at submit). */
  private uncaptured: GPUError | null = null;
  private pipelines = new Map<KernelSpec, Map<string, Promise<GPUComputePipeline>>>();
  private layouts = new Map<KernelSpec, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();

  private constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly info: AdapterDescription,
    readonly features: GpuFeatures,
    onLost?: (info: GPUDeviceLostInfo) => void,
  ) {
    this.limits = device.limits;
    // Errors at submit time (a bad binding in a pass) would otherwise only print a warning and
    // leave zeros in the outputs: keep the first one and throw it from idle().
    device.addEventListener('uncapturederror', (event) => {
      this.uncaptured ??= (event as GPUUncapturedErrorEvent).error;
    });
    device.lost.then((info) => {
      this.lost = info;
      if (info.reason !== 'destroyed') onLost?.(info);
    });
  }

  /** Acquires an adapter and a device with the adapter's maximal limits for the things Vireo needs. */
  static async create(options: GpuOptions = {}): Promise<Gpu> {
    const entry = options.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!entry) {
      throw new GpuUnavailableError(
        'WebGPU is not available here (no navigator.gpu): use a browser with WebGPU enabled, or the CPU backend.',
      );
    }
    const adapter = await entry.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (!adapter) {
      throw new GpuUnavailableError(
        'No WebGPU adapter was found: enable WebGPU or install a GPU driver (SwiftShader works without a GPU).',
      );
    }
    const requiredLimits: Record<string, number> = {};
    for (const name of LIMITS_WANTED)
      requiredLimits[name] = (adapter.limits as unknown as Record<string, number>)[name];
    const wanted: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'vireo' });
    const raw = adapter.info ?? ({} as GPUAdapterInfo);
    const info: AdapterDescription = {
      vendor: raw.vendor || 'unknown',
      architecture: raw.architecture || 'unknown',
      device: raw.device || '',
      description: raw.description || '',
      isFallbackAdapter: Boolean((raw as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    };
    const features: GpuFeatures = Object.freeze({
      timestampQuery: device.features.has('timestamp-query'),
      subgroups: device.features.has('subgroups'),
      shaderF16: device.features.has('shader-f16'),
    });
    return new Gpu(adapter, device, info, features, options.onLost);
  }

  /** Frees the device (Dawn in Node otherwise keeps a busy thread and the process alive). */
  destroy(): void {
    this.device.destroy();
  }

  // ---------------------------------------------------------------------------------- buffers

  /** A storage buffer of `bytes` (rounded up to 4) that can be copied to and from. */
  buffer(label: string, bytes: number, usage: GPUBufferUsageFlags = GPUBufferUsage.STORAGE): GPUBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    if (size > this.limits.maxBufferSize) {
      throw new KernelError(
        `buffer '${label}' needs ${size} bytes but this ` +
          `adapter's maxBufferSize is ${this.limits.maxBufferSize}: split it.`,
      );
    }
    return this.device.createBuffer({ label, size, usage: usage | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  }

  /**
   * Runs `make` (which creates buffers) and throws GpuOutOfMemoryError when the device could not
   * allocate one. Some drivers refuse a single allocation below maxBufferSize (SwiftShader: 1 GiB).
   * @example const { a, b } = await gpu.allocate(() => ({ a: gpu.buffer('a', n), b: gpu.buffer('b', n) }));
   */
  async allocate<T>(make: () => T): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    let made: T;
    try {
      made = make();
    } catch (thrown) {
      await this.device.popErrorScope();
      throw thrown;
    }
    const error = await this.device.popErrorScope();
    if (error) throw new GpuOutOfMemoryError(error.message.trim().split('\n')[0]);
    return made;
  }

  /** A storage buffer holding `data`. */
  upload(label: string, data: ArrayBufferView, usage: GPUBufferUsageFlags = GPUBufferUsage.STORAGE): GPUBuffer {
    const buffer = this.buffer(label, data.byteLength, usage);
    this.write(buffer, data);
    return buffer;
  }

  /** Writes `data` into `buffer` at `offset` bytes (pads to a multiple of 4 bytes). */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 === 0) this.device.queue.writeBuffer(buffer, offset, bytes);
    else {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      this.device.queue.writeBuffer(buffer, offset, padded);
    }
  }

  /** Copies `bytes` of `buffer` from `offset` back to the CPU. */
  async read(buffer: GPUBuffer, bytes = buffer.size, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({
      label: `${buffer.label}:readback`,
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    this.throwUncaptured();
    return out;
  }

  /**
   * A readback channel with one staging buffer of `maxBytes`, made once: for request paths,
   * where `read()` would allocate a staging buffer per call.
   */
  readback(label: string, maxBytes: number): Readback {
    return new Readback(this, label, maxBytes);
  }

  async readF32(buffer: GPUBuffer, count: number, offset = 0): Promise<Float32Array> {
    return new Float32Array(await this.read(buffer, count * 4, offset));
  }

  async readU32(buffer: GPUBuffer, count: number, offset = 0): Promise<Uint32Array> {
    return new Uint32Array(await this.read(buffer, count * 4, offset));
  }

  // -------------------------------------------------------------------------------- pipelines

  /** The explicit bind-group layout of a kernel, built from its declared binding list. */
  layout(kernel: KernelSpec): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    let layout = this.layouts.get(kernel);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = kernel.bindings.map((b, i) => ({
        binding: i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.kind === 'read' ? 'read-only-storage' : 'storage' },
      }));
      if (kernel.params.length > 0) {
        entries.push({
          binding: kernel.bindings.length,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: 'uniform' },
        });
      }
      const group = this.device.createBindGroupLayout({ label: kernel.name, entries });
      layout = { group, pipeline: this.device.createPipelineLayout({ label: kernel.name, bindGroupLayouts: [group] }) };
      this.layouts.set(kernel, layout);
    }
    return layout;
  }

  /** The compute pipeline for `kernel` with `overrides`, compiled once and cached. */
  pipeline(kernel: KernelSpec, overrides: Record<string, number> = {}): Promise<GPUComputePipeline> {
    const constants = { ...kernel.overrides, ...overrides };
    const key = JSON.stringify(constants);
    let byConstants = this.pipelines.get(kernel);
    if (!byConstants) this.pipelines.set(kernel, (byConstants = new Map()));
    let pipeline = byConstants.get(key);
    if (!pipeline) {
      pipeline = this.compile(kernel, constants);
      byConstants.set(key, pipeline);
      pipeline.catch(() => byConstants!.delete(key));
    }
    return pipeline;
  }

  private async compile(kernel: KernelSpec, constants: Record<string, number>): Promise<GPUComputePipeline> {
    this.device.pushErrorScope('validation');
    let pipeline: GPUComputePipeline | undefined;
    let thrown: unknown;
    try {
      const module = this.device.createShaderModule({ label: kernel.name, code: kernel.source });
      pipeline = await this.device.createComputePipelineAsync({
        label: kernel.name,
        layout: this.layout(kernel).pipeline,
        compute: { module, entryPoint: kernel.entryPoint, constants },
      });
    } catch (err) {
      thrown = err;
    }
    const error = await this.device.popErrorScope();
    if (thrown || error || !pipeline) {
      const why = (error?.message ?? (thrown as Error)?.message ?? 'unknown error').trim();
      throw new KernelError(`kernel ${kernel.name} (constants ${JSON.stringify(constants)}) failed to compile: ${why}`);
    }
    return pipeline;
  }

  /**
   * Binds buffers to a kernel once (checking sizes) and returns a reusable dispatcher with its
   * own params uniform. Create at load time; call `dispatch` per request.
   */
  async bind(
    kernel: KernelSpec,
    resources: Record<string, BindingResource>,
    overrides: Record<string, number> = {},
  ): Promise<BoundKernel> {
    const pipeline = await this.pipeline(kernel, overrides);
    const entries: GPUBindGroupEntry[] = [];
    kernel.bindings.forEach((b, i) => {
      const r = resources[b.name];
      if (!r)
        throw new KernelError(
          `kernel ${kernel.name}: binding '${b.name}' was not given ` +
            `(expected ${kernel.bindings.map((x) => x.name).join(', ')}).`,
        );
      const region: BufferRegion = 'buffer' in r ? r : { buffer: r };
      const size = region.size ?? region.buffer.size - (region.offset ?? 0);
      if (size > this.limits.maxStorageBufferBindingSize) {
        throw new KernelError(
          `kernel ${kernel.name}: binding '${b.name}' is ${size} bytes, over ` +
            `maxStorageBufferBindingSize ${this.limits.maxStorageBufferBindingSize}: split it.`,
        );
      }
      entries.push({ binding: i, resource: { buffer: region.buffer, offset: region.offset ?? 0, size } });
    });
    let params: GPUBuffer | null = null;
    if (kernel.params.length > 0) {
      params = this.device.createBuffer({
        label: `${kernel.name}:params`,
        size: paramsByteSize(kernel),
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      entries.push({ binding: kernel.bindings.length, resource: { buffer: params } });
    }
    this.device.pushErrorScope('validation');
    const group = this.device.createBindGroup({ label: kernel.name, layout: this.layout(kernel).group, entries });
    const error = await this.device.popErrorScope();
    if (error) {
      const shapes = entries
        .map((e) => `${kernel.bindings[e.binding]?.name ?? 'params'}: ${(e.resource as GPUBufferBinding).size} B`)
        .join(', ');
      throw new KernelError(`kernel ${kernel.name}: bind group rejected (${shapes}): ${error.message.trim()}`);
    }
    return new BoundKernel(this, kernel, pipeline, group, params);
  }

  /** Splits `workgroups` into an x × y grid within `maxComputeWorkgroupsPerDimension`. */
  grid(workgroups: number): [number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (workgroups <= max) return [Math.max(1, workgroups), 1];
    const y = Math.ceil(workgroups / max);
    if (y > max) throw new KernelError(`${workgroups} workgroups exceed ${max}² : split the work.`);
    return [Math.ceil(workgroups / y), y];
  }

  /** Encodes compute work in one pass and submits it. */
  run(encode: (pass: GPUComputePassEncoder) => void, timestampWrites?: GPUComputePassTimestampWrites): void {
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : undefined);
    encode(pass);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  /** Resolves when the GPU has finished all submitted work; throws a GPU error raised since. */
  async idle(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.throwUncaptured();
  }

  /** Throws (once) the first GPU error raised outside an error scope, naming its label. */
  throwUncaptured(): void {
    const error = this.uncaptured;
    if (error) {
      this.uncaptured = null;
      throw new KernelError(`GPU error during submitted work: ${error.message.trim()}`);
    }
  }
}

/**
 * Reads GPU buffers back through one reusable staging buffer. Reads are serialized (a staging
 * buffer can be mapped once at a time); each returns a copy the caller owns.
 * @example const rb = gpu.readback('scores', 4000); const scores = new Float32Array(await rb.read(buf, 4000));
 */
export class Readback {
  private readonly staging: GPUBuffer;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly gpu: Gpu,
    label: string,
    readonly maxBytes: number,
  ) {
    const size = Math.max(4, Math.ceil(maxBytes / 4) * 4);
    this.staging = gpu.device.createBuffer({
      label: `${label}:readback`,
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Copies `bytes` of each source (in order, packed) and returns them as one ArrayBuffer. */
  read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    return this.readMany([{ buffer, bytes, offset }]);
  }

  /** Copies several regions into the staging buffer in one submit and returns them packed. */
  readMany(regions: { buffer: GPUBuffer; bytes: number; offset?: number }[]): Promise<ArrayBuffer> {
    const total = regions.reduce((n, r) => n + Math.ceil(r.bytes / 4) * 4, 0);
    if (total > this.staging.size) {
      return Promise.reject(
        new KernelError(
          `readback '${this.staging.label}': ${total} bytes ` +
            `requested, over its ${this.staging.size}-byte staging buffer.`,
        ),
      );
    }
    const run = async () => {
      const encoder = this.gpu.device.createCommandEncoder();
      let at = 0;
      for (const r of regions) {
        const size = Math.ceil(r.bytes / 4) * 4;
        encoder.copyBufferToBuffer(r.buffer, r.offset ?? 0, this.staging, at, size);
        at += size;
      }
      this.gpu.device.queue.submit([encoder.finish()]);
      await this.staging.mapAsync(GPUMapMode.READ, 0, total);
      const out = this.staging.getMappedRange(0, total).slice(0);
      this.staging.unmap();
      this.gpu.throwUncaptured();
      return out;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  destroy(): void {
    this.staging.destroy();
  }
}

/** A kernel with its buffers bound once; `dispatch` writes params and records the work. */
export class BoundKernel {
  private paramData: ArrayBuffer;
  constructor(
    readonly gpu: Gpu,
    readonly kernel: KernelSpec,
    readonly pipeline: GPUComputePipeline,
    readonly group: GPUBindGroup,
    readonly paramsBuffer: GPUBuffer | null,
  ) {
    this.paramData = new ArrayBuffer(paramsByteSize(kernel));
  }

  /** Sets the params uniform (written at queue time: one BoundKernel per call site in a pass). */
  setParams(values: Record<string, number>): void {
    if (!this.paramsBuffer) return;
    const u = new Uint32Array(this.paramData);
    const i = new Int32Array(this.paramData);
    const f = new Float32Array(this.paramData);
    this.kernel.params.forEach(([name, type], k) => {
      const v = values[name];
      if (v === undefined) throw new KernelError(`kernel ${this.kernel.name}: param '${name}' was not given.`);
      if (type === 'f32') f[k] = v;
      else if (type === 'i32') i[k] = v;
      else u[k] = v;
    });
    this.gpu.device.queue.writeBuffer(this.paramsBuffer, 0, this.paramData);
  }

  /** Records `workgroups` workgroups (split into a 2-D grid when needed) after setting params. */
  dispatch(pass: GPUComputePassEncoder, workgroups: number, params?: Record<string, number>): void {
    if (params) this.setParams(params);
    const [x, y] = this.gpu.grid(workgroups);
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.group);
    pass.dispatchWorkgroups(x, y);
  }

  destroy(): void {
    this.paramsBuffer?.destroy();
  }
}
