// What a kernel is, as data: its WGSL source, entry point, bindings in a fixed order
// (read-only inputs, then outputs, then the params uniform last) and its params struct.
// The GPU layer (gpu/gpu.ts) builds the bind-group layout from this list — never
// `layout: 'auto'` — so that a forward and its backward with the same bindings share it.

/** `read`: read-only storage; `write`: read-write storage; `uniform`: the params struct. */
export type BindingKind = 'read' | 'write' | 'uniform';

/** A params field: every field is a 4-byte scalar, packed in declared order (WGSL struct layout). */
export type ParamType = 'u32' | 'i32' | 'f32';

export interface KernelSpec {
  /** e.g. `linear.forward`: named in every error. */
  readonly name: string;
  readonly source: string;
  readonly entryPoint: string;
  /** Storage bindings in binding order 0..n-1; the params uniform (if any) is binding n. */
  readonly bindings: readonly { readonly name: string; readonly kind: Exclude<BindingKind, 'uniform'> }[];
  /** The params struct's fields, in order; empty means no uniform binding. */
  readonly params: readonly (readonly [string, ParamType])[];
  /** `override` constants and their defaults (e.g. workgroup size). */
  readonly overrides?: Readonly<Record<string, number>>;
}

/**
 * Declares a kernel; freezes it so pipelines can be cached by identity.
 * @example export const l2normForward = defineKernel({ name: 'l2norm.forward', source, entryPoint: 'forward', bindings:
 * [...], params: [['rows','u32']] });
 */
/**
 * The "no row" index: past every table and every catalogue. embedding_bag (and so row_gather and
 * row_sum) skip it, and top-k fills the places past the last eligible item with it.
 */
export const NO_ROW = 0xffffffff;

export function defineKernel(spec: KernelSpec): KernelSpec {
  const names = new Set<string>();
  for (const b of spec.bindings) {
    if (names.has(b.name)) throw new Error(`kernel ${spec.name}: binding '${b.name}' is declared twice.`);
    names.add(b.name);
  }
  return Object.freeze({
    ...spec,
    bindings: Object.freeze([...spec.bindings]),
    params: Object.freeze([...spec.params]),
  });
}

/** Byte size of a params struct: 4 bytes a field, rounded up to 16 (uniform buffer rules). */
export function paramsByteSize(spec: KernelSpec): number {
  return Math.max(16, Math.ceil((spec.params.length * 4) / 16) * 16);
}

/** Thrown for a caller's wrong argument: the message names the kernel and the argument. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

/** Throws a ShapeError unless `cond`; used by every op to check shapes before work starts. */
export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ShapeError(message);
}
