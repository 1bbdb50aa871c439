import { describe, expect, it } from 'vitest';
import { jsonDepth } from './json-body.ts';

describe('jsonDepth', () => {
  it('counts array and object nesting outside strings', () => {
    expect(jsonDepth('1', 10)).toBe(0);
    expect(jsonDepth('{"a":[1,{"b":2}]}', 10)).toBe(3);
    expect(jsonDepth('{"a":"[[[[{{{{"}', 10)).toBe(1);
    expect(jsonDepth('{"a":"\\"[[[[","b":[]}', 10)).toBe(2);
    expect(jsonDepth('[]'.repeat(1000), 10)).toBe(1);
  });
  it('stops counting past the limit', () => {
    expect(jsonDepth('['.repeat(1_000_000), 10)).toBe(11);
  });
});
