import { describe, expect, it } from 'vitest';
import { parseRange } from './models.ts';

describe('parseRange', () => {
  it('reads one byte range, open-ended and suffix ranges, clamped to the size', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ offset: 0, length: 10 });
    expect(parseRange('bytes=90-', 100)).toEqual({ offset: 90, length: 10 });
    expect(parseRange('bytes=-10', 100)).toEqual({ offset: 90, length: 10 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ offset: 0, length: 100 });
    expect(parseRange('bytes=95-1000', 100)).toEqual({ offset: 95, length: 5 });
  });
  it('serves the whole file for absent, multi-range and non-byte ranges', () => {
    for (const h of [undefined, 'bytes=0-1,5-6', 'items=0-1', 'bytes=-', 'bytes=a-b', 'garbage'])
      expect(parseRange(h, 100)).toBeNull();
  });
  it('flags ranges outside the file', () => {
    for (const h of ['bytes=100-', 'bytes=100-200', 'bytes=5-1', 'bytes=-0'])
      expect(parseRange(h, 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
  });
});
