// GPU timestamps per stage when the adapter has `timestamp-query`; CPU wall time otherwise.
// One query set and one resolve buffer, made once; each stage is one compute pass.
import type { Gpu } from './gpu.ts';

/**
 * Times compute passes by label. `passTimestamps(label)` gives the pass descriptor field;
 * after submit, `read()` returns milliseconds per label.
 * @example const t = new GpuTimer(gpu, 8); gpu.run(encode, t.passTimestamps('topk')); const ms = await t.read();
 */
export class GpuTimer {
  readonly enabled: boolean;
  private labels: string[] = [];
  private querySet: GPUQuerySet | null = null;
  private resolveBuffer: GPUBuffer | null = null;
  private readBuffer: GPUBuffer | null = null;

  constructor(
    private gpu: Gpu,
    readonly capacity = 16,
  ) {
    this.enabled = gpu.features.timestampQuery;
    if (!this.enabled) return;
    const d = gpu.device;
    this.querySet = d.createQuerySet({ label: 'vireo:timestamps', type: 'timestamp', count: capacity * 2 });
    this.resolveBuffer = d.createBuffer({
      label: 'vireo:timestamps',
      size: capacity * 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    this.readBuffer = d.createBuffer({
      label: 'vireo:timestamps:read',
      size: capacity * 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Starts a new measurement (forgets previous labels). */
  reset(): void {
    this.labels = [];
  }

  /** The `timestampWrites` for the next pass, or undefined when timestamps are unavailable. */
  passTimestamps(label: string): GPUComputePassTimestampWrites | undefined {
    if (!this.querySet || this.labels.length >= this.capacity) return undefined;
    const i = this.labels.push(label) - 1;
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Resolves the recorded timestamps and returns milliseconds per label (summed per label). */
  async read(): Promise<Record<string, number>> {
    if (!this.querySet || !this.resolveBuffer || !this.readBuffer || this.labels.length === 0) return {};
    const n = this.labels.length * 2;
    const encoder = this.gpu.device.createCommandEncoder();
    encoder.resolveQuerySet(this.querySet, 0, n, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, this.readBuffer, 0, n * 8);
    this.gpu.device.queue.submit([encoder.finish()]);
    await this.readBuffer.mapAsync(GPUMapMode.READ, 0, n * 8);
    const ticks = new BigInt64Array(this.readBuffer.getMappedRange(0, n * 8).slice(0));
    this.readBuffer.unmap();
    const out: Record<string, number> = {};
    this.labels.forEach((label, i) => {
      const ns = Number(ticks[2 * i + 1] - ticks[2 * i]);
      out[label] = (out[label] ?? 0) + Math.max(0, ns) / 1e6;
    });
    return out;
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuffer?.destroy();
    this.readBuffer?.destroy();
  }
}
