// Growable typed arrays for per-event columns whose length is only known at the end of a pass:
// 8–20 bytes per event in memory, far below the raw text they come from.
import type { TypedArray } from '@vireo/core';

type Ctor<T extends TypedArray> = { new (n: number): T };

/** An append-only typed array that doubles its capacity as it fills. */
export class Growable<T extends TypedArray & { [i: number]: number }> {
  private data: T;
  length = 0;
  constructor(
    private readonly Ctor: Ctor<T>,
    capacity = 1024,
  ) {
    this.data = new Ctor(capacity);
  }
  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new this.Ctor(this.data.length * 2);
      next.set(this.data as never);
      this.data = next;
    }
    this.data[this.length++] = value;
  }
  /** The filled part (a view; copy it with `.slice()` if the Growable keeps growing). */
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}
