import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../../errors/index.ts';
import { bytesEqual, emptyRoot, fromHex, leafHash, nodeHash, toHex, writeUint64 } from './hash.ts';

const sha = (...parts: Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('RFC 9162 §2.1.1 hashing', () => {
  it('hashes the empty tree as SHA-256 of the empty string', () => {
    expect(toHex(emptyRoot())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('prefixes leaves with 0x00 (vectors from transparency-dev/merkle rfc6962_test.go, see testdata/SOURCE.md)', () => {
    expect(toHex(leafHash(new Uint8Array(0)))).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    expect(toHex(leafHash(new TextEncoder().encode('L123456')))).toBe('395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56');
  });

  it('prefixes interior nodes with 0x01 and keeps left/right order', () => {
    const a = leafHash(new TextEncoder().encode('Hello'));
    const b = leafHash(new TextEncoder().encode('World'));
    expect(toHex(nodeHash(a, b))).toBe(sha(Uint8Array.of(1), a, b));
    expect(toHex(nodeHash(a, b))).not.toBe(toHex(nodeHash(b, a)));
    // Second-preimage resistance: a node is not the leaf of its children's concatenation.
    const concat = new Uint8Array(64);
    concat.set(a);
    concat.set(b, 32);
    expect(toHex(nodeHash(a, b))).not.toBe(toHex(leafHash(concat)));
  });

  it('does not let the scratch buffer leak between calls', () => {
    const a = leafHash(Uint8Array.of(1));
    const b = leafHash(Uint8Array.of(2));
    const first = nodeHash(a, b);
    nodeHash(b, a);
    expect(toHex(first)).toBe(sha(Uint8Array.of(1), a, b));
  });

  it('refuses node inputs that are not 32 bytes', () => {
    expect(() => nodeHash(new Uint8Array(31), new Uint8Array(32))).toThrow(OpenPrumError);
  });
});

describe('hex and integers', () => {
  it('decodes strict lowercase hex only', () => {
    expect(Array.from(fromHex('00ff10', 'x'))).toEqual([0, 255, 16]);
    for (const bad of ['0', 'zz', '00FF', ' 00', 42, null]) expect(() => fromHex(bad, 'x')).toThrow(OpenPrumError);
    expect(() => fromHex('00', 'x', 2)).toThrow(/2 bytes/);
  });

  it('writes uint64 big-endian beyond 2^32', () => {
    const b = new Uint8Array(8);
    writeUint64(b, 0, 2 ** 40 + 258);
    expect(toHex(b)).toBe('0000010000000102');
  });

  it('compares bytes', () => {
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(bytesEqual(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false);
  });
});
