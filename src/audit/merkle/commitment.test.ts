import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../../errors/index.ts';
import { leafHash, toHex } from './hash.ts';
import {
  LEAF_DATA_SIZE,
  canonicalJson,
  commitEntry,
  contentDigest,
  encodeLeafData,
  entryCommitment,
  entryLeafHash,
  newSalt,
  redactEntry,
} from './commitment.ts';

describe('canonicalJson (RFC 8785 style)', () => {
  it('sorts members, drops whitespace, and nests', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  });

  it('sorts member names by UTF-16 code units (RFC 8785 §3.2.3)', () => {
    const obj = { '\u20ac': 'Euro', '\r': 'CR', '\ufb33': 'Hebrew', '1': 'One', '\ud83d\ude00': 'Emoji', '\u0080': 'Control', '\u00f6': 'o-umlaut' };
    expect(Object.values(JSON.parse(canonicalJson(obj)) as Record<string, string>)).toEqual(['One', 'CR', 'Control', 'o-umlaut', 'Euro', 'Emoji', 'Hebrew']);
    expect(canonicalJson(obj).startsWith('{"\\r":"CR","1":"One","\u0080":"Control"')).toBe(true);
  });

  it('writes numbers as ECMAScript does (RFC 8785 §3.2.2.3)', () => {
    expect(canonicalJson([0, -0, 1, -1.5, 0.1, 1e21, 1e-7, 123456789012345680000, 0.000001, 5e-324])).toBe(
      '[0,0,1,-1.5,0.1,1e+21,1e-7,123456789012345680000,0.000001,5e-324]',
    );
  });

  it('escapes strings as JSON.stringify does, leaving non-ASCII as is (RFC 8785 §3.2.2.2)', () => {
    expect(canonicalJson('a"b\\c\n\u0001€😀')).toBe('"a\\"b\\\\c\\n\\u0001€😀"');
  });

  it('omits undefined members and writes undefined array items as null, so it survives a JSON round trip', () => {
    const value = { a: undefined, b: [undefined, 1], c: { d: undefined } };
    const once = canonicalJson(value);
    expect(once).toBe('{"b":[null,1],"c":{}}');
    expect(canonicalJson(JSON.parse(once))).toBe(once);
  });

  it('gives the same digest whatever the member order, a different one for different content', () => {
    expect(toHex(contentDigest({ x: 1, y: [1, 2] }))).toBe(toHex(contentDigest({ y: [1, 2], x: 1 })));
    expect(toHex(contentDigest({ x: 1, y: [1, 2] }))).not.toBe(toHex(contentDigest({ x: 1, y: [2, 1] })));
    expect(toHex(contentDigest({ x: '1' }))).not.toBe(toHex(contentDigest({ x: 1 })));
  });

  it('rejects values that have no single JSON form', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [undefined, Number.NaN, Infinity, 1n, () => 1, Symbol('s'), new Date(0), new Map(), { s: '\ud800' }, { ['\udc00']: 1 }, cyclic]) {
      expect(() => canonicalJson(bad), String(typeof bad)).toThrow(OpenPrumError);
    }
    // Shared (non-cyclic) references are fine.
    const shared = { v: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"v":1},"b":{"v":1}}');
    expect(canonicalJson(Object.assign(Object.create(null) as object, { a: 1 }))).toBe('{"a":1}');
  });

  it('is stable under a JSON round trip for random values', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const gen = (depth: number): unknown => {
      switch (depth > 3 ? rand(4) : rand(6)) {
        case 0: return rand(2) === 0;
        case 1: return (rand(2000000) - 1000000) / (1 + rand(1000));
        case 2: return String.fromCharCode(...Array.from({ length: rand(6) }, () => 32 + rand(400)));
        case 3: return null;
        case 4: return Array.from({ length: rand(4) }, () => gen(depth + 1));
        default: return Object.fromEntries(Array.from({ length: rand(4) }, () => [String.fromCharCode(97 + rand(26), 97 + rand(26)), gen(depth + 1)]));
      }
    };
    for (let i = 0; i < 300; i++) {
      const v = gen(0);
      const c = canonicalJson(v);
      expect(canonicalJson(JSON.parse(c))).toBe(c);
    }
  });
});

describe('salted leaf commitment', () => {
  const salt = new Uint8Array(32).map((_, i) => i);
  const content = { kind: 'supply', peer: 'NL', ref: 'DE-2024-000042', hits: [1, 2.5, -0], note: 'Grüße €' };

  it('keeps the frozen v1 format (self-generated vector, cross-checked with Python hashlib)', () => {
    const e = commitEntry(4294967298, content, salt);
    expect(toHex(e.contentDigest)).toBe('0d0cfd0176fff0118f63179d15e24a50d708b836aaec0c6a313a7805057474e0');
    expect(toHex(e.commitment)).toBe('ef344fb12b4eeac2d9289e4cbeaa4f5f665e1904120cef7e8aca6f4e6d000b1f');
    expect(toHex(encodeLeafData(4294967298, e.commitment))).toBe('010000000100000002' + toHex(e.commitment));
    expect(toHex(e.leafHash)).toBe('9d47b1e45e0e0c73a96dac421f583e2f113bf5052703f4989d43c42ae901b017');
    expect(LEAF_DATA_SIZE).toBe(41);
  });

  it('lets an erased entry (index, commitment) give the same leaf as the live entry', () => {
    const live = commitEntry(17, content);
    const erased = redactEntry(17, live.salt, live.contentDigest);
    expect(toHex(erased.commitment)).toBe(toHex(live.commitment));
    expect(toHex(entryLeafHash(erased.index, erased.commitment))).toBe(toHex(live.leafHash));
  });

  it('binds index, salt and content', () => {
    const a = commitEntry(5, content, salt);
    expect(toHex(commitEntry(6, content, salt).leafHash)).not.toBe(toHex(a.leafHash));
    expect(toHex(commitEntry(5, { ...content, peer: 'BE' }, salt).leafHash)).not.toBe(toHex(a.leafHash));
    expect(toHex(commitEntry(5, content, newSalt()).leafHash)).not.toBe(toHex(a.leafHash));
  });

  it('hides equal contents behind different salts', () => {
    expect(toHex(commitEntry(1, content).commitment)).not.toBe(toHex(commitEntry(1, content).commitment));
    expect(newSalt()).toHaveLength(32);
  });

  it('draws distinct salts across refills of the salt pool, each its own copy', () => {
    const salts = Array.from({ length: 1000 }, () => newSalt());
    expect(new Set(salts.map(toHex)).size).toBe(1000);
    expect(new Set(salts.map((s) => s.buffer)).size).toBe(1000);
  });

  it('hashes leaves as SHA-256(0x00 || leaf data), RFC 9162 §2.1.1', () => {
    const c = commitEntry(0, content).commitment;
    for (const i of [0, 1, 255, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      expect(toHex(entryLeafHash(i, c))).toBe(toHex(leafHash(encodeLeafData(i, c))));
    }
  });

  it('rejects wrong sizes and indices', () => {
    expect(() => entryCommitment(new Uint8Array(31), new Uint8Array(32))).toThrow(OpenPrumError);
    expect(() => entryCommitment(new Uint8Array(32), new Uint8Array(33))).toThrow(OpenPrumError);
    expect(() => encodeLeafData(-1, new Uint8Array(32))).toThrow(OpenPrumError);
    expect(() => encodeLeafData(1.5, new Uint8Array(32))).toThrow(OpenPrumError);
    expect(() => encodeLeafData(1, new Uint8Array(3))).toThrow(OpenPrumError);
  });
});
