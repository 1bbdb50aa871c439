import { describe, expect, it } from 'vitest';
import { jsonDepth, protoKeyPath, refuseProtoKey } from './json-body.ts';

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

describe('protoKeyPath', () => {
  it("names the object holding an own '__proto__' key, at any depth, however the key is spelled", () => {
    expect(protoKeyPath(JSON.parse('{"__proto__":1}'))).toBe('$');
    expect(protoKeyPath(JSON.parse('{"a":[1,{"b":{"__proto__":{}}}]}'))).toBe('$.a[1].b');
    expect(protoKeyPath(JSON.parse('[[{"x y":{"\\u005f_proto__":null}}]]'))).toBe('$[0][0]["x y"]');
  });
  it('passes the name as a value, an inherited prototype and plain data', () => {
    for (const text of ['{"a":"__proto__"}', '{"a":["__proto__"]}', '{"constructor":{"prototype":1}}', '1', 'null'])
      expect(protoKeyPath(JSON.parse(text)), text).toBeNull();
    expect(protoKeyPath({ a: Object.create(JSON.parse('{"__proto__":1}')) })).toBeNull();
  });
  it('walks only bodies whose text can spell the key', () => {
    // A value that is not what the text says: the text alone decides whether it is walked.
    const holder = JSON.parse('{"__proto__":1}');
    expect(() => refuseProtoKey('{"a":1}', holder)).not.toThrow();
    expect(() => refuseProtoKey('{"\\u0061":1}', holder)).toThrow(/'__proto__' key in \$,/);
    expect(() => refuseProtoKey('{"__proto__":1}', holder, 'manifest.json')).toThrow(/^manifest\.json has/);
  });
});
