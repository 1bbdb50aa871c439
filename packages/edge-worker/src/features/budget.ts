// Bounded work per request (docs/ARCHITECTURE.md, "Bounded work"): a lookup's size is estimated
// from the values it would answer before the answer is built, so that a small request cannot ask
// for a large response (repeated features × repeated ids × a large stored value).
import { ApiError } from '../errors.ts';

/**
 * The JSON size of a feature value, in bytes, close to JSON.stringify's without building the string
 * (strings count their characters plus quotes; escapes are not counted).
 * @example jsonSize(['a', 1]) // 7
 */
export function jsonSize(value: unknown): number {
  switch (typeof value) {
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < 1e9 ? 11 : 24;
    case 'string':
      return value.length + 2;
    case 'boolean':
      return 5;
    case 'undefined':
      return 4;
    case 'object': {
      if (value === null) return 4;
      if (ArrayBuffer.isView(value)) return 2 + 12 * (value as Int32Array).length;
      if (Array.isArray(value)) {
        let n = 2 + value.length;
        for (const v of value) n += jsonSize(v);
        return n;
      }
      let n = 2;
      for (const [k, v] of Object.entries(value)) n += k.length + 4 + jsonSize(v);
      return n;
    }
    default:
      return 24;
  }
}

/**
 * Refuses (413) a response estimated over `maxBytes`, with one sentence saying what to ask for instead.
 * @example assertResponseSize(estimate, deps.limits.responseBytes, 'ask for fewer ids or features');
 */
export function assertResponseSize(bytes: number, maxBytes: number, advice: string): void {
  if (bytes > maxBytes)
    throw new ApiError(
      'too_much_work',
      `The answer would be about ${Math.ceil(bytes / 1024)} KiB, over this edge's ${Math.floor(maxBytes / 1024)} KiB ` +
        `per response: ${advice}.`,
      { estimated_bytes: bytes, max_bytes: maxBytes },
    );
}
