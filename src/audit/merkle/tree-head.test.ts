import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OpenPrumError } from '../../errors/index.ts';
import { leafHash, toHex } from './hash.ts';
import {
  Witness,
  compareTreeHeads,
  cosignTreeHead,
  encodeTreeHead,
  keyIdOf,
  logIdFor,
  logIdToString,
  publicKeyFromRaw,
  rawPublicKey,
  signTreeHead,
  signedTreeHeadFromJson,
  signedTreeHeadToJson,
  verifyCosignature,
  verifyTreeHead,
  withCosignature,
  type LogId,
  type SignedTreeHead,
} from './tree-head.ts';
import { MemoryNodeStore, MerkleTree } from './tree.ts';

interface Node {
  readonly id: LogId;
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

function node(country: string): Node {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { id: logIdFor(country, publicKey), publicKey, privateKey };
}

/** A node's log: a tree plus signing of heads. `variant` makes a different history. */
class Log {
  readonly tree = new MerkleTree(new MemoryNodeStore());
  constructor(readonly owner: Node) {}
  grow(count: number, variant = ''): this {
    for (let i = 0; i < count; i++) this.tree.append(leafHash(new TextEncoder().encode(`${variant}entry ${this.tree.size}`)));
    return this;
  }
  head(timestamp = 1_700_000_000_000 + this.tree.size): SignedTreeHead {
    return signTreeHead({ logId: this.owner.id, treeSize: this.tree.size, timestamp, rootHash: this.tree.root() }, this.owner.privateKey);
  }
}

const de = node('DE');
const nl = node('NL');
const be = node('BE');

describe('signed tree heads', () => {
  it('signs and verifies, and any changed field breaks the signature', () => {
    const sth = new Log(de).grow(10).head();
    expect(verifyTreeHead(sth, de.publicKey)).toBe(true);
    expect(verifyTreeHead(sth, nl.publicKey)).toBe(false);
    const flipped = new Uint8Array(sth.rootHash);
    flipped.set([(flipped[0] ?? 0) ^ 1], 0);
    const sig = new Uint8Array(sth.signature);
    sig.set([(sig[5] ?? 0) ^ 1], 5);
    for (const bad of [
      { ...sth, treeSize: 11 },
      { ...sth, timestamp: sth.timestamp + 1 },
      { ...sth, rootHash: flipped },
      { ...sth, logId: { ...sth.logId, country: 'NL' } },
      { ...sth, signature: sig },
      { ...sth, signature: sig.subarray(1) },
      { ...sth, treeSize: -1 },
    ]) {
      expect(verifyTreeHead(bad, de.publicKey)).toBe(false);
    }
  });

  it('encodes canonically: fixed layout, length-prefixed ids', () => {
    const head = { logId: { country: 'DE', keyId: 'ab' }, treeSize: 2 ** 32 + 1, timestamp: 1, rootHash: new Uint8Array(32).fill(7) };
    expect(toHex(encodeTreeHead(head))).toBe(
      toHex(new TextEncoder().encode('openprum/tree-head/v1\u0000')) + '02' + '4445' + '02' + '6162' + '0000000100000001' + '0000000000000001' + '07'.repeat(32),
    );
    // Moving a character between country and key id changes the bytes (injective encoding).
    expect(() => encodeTreeHead({ ...head, logId: { country: 'DEa', keyId: 'b' } })).toThrow(OpenPrumError);
    expect(() => encodeTreeHead({ ...head, rootHash: new Uint8Array(31) })).toThrow(OpenPrumError);
  });

  it('derives key ids from the SPKI (RFC 6962 §3.2) and round-trips raw public keys', () => {
    expect(keyIdOf(de.publicKey)).toMatch(/^[0-9a-f]{64}$/);
    expect(de.id).toEqual({ country: 'DE', keyId: keyIdOf(de.publicKey) });
    const again = publicKeyFromRaw(rawPublicKey(de.publicKey));
    expect(keyIdOf(again)).toBe(keyIdOf(de.publicKey));
    expect(verifyTreeHead(new Log(de).grow(1).head(), again)).toBe(true);
    expect(() => publicKeyFromRaw(new Uint8Array(31))).toThrow(OpenPrumError);
  });

  it('round-trips through JSON and rejects malformed JSON field by field', () => {
    const sth = withCosignature(new Log(de).grow(3).head(), cosignTreeHead(new Log(de).grow(3).head(), nl.id, nl.privateKey, 5));
    const json = signedTreeHeadToJson(sth);
    const back = signedTreeHeadFromJson(JSON.parse(JSON.stringify(json)));
    expect(verifyTreeHead(back, de.publicKey)).toBe(true);
    expect(verifyCosignature(back, back.cosignatures[0] as (typeof back.cosignatures)[0], nl.publicKey)).toBe(true);
    for (const bad of [
      null,
      { ...json, rootHash: json.rootHash.toUpperCase() },
      { ...json, signature: json.signature.slice(2) },
      { ...json, treeSize: -1 },
      { ...json, logId: { country: 'de', keyId: 'x' } },
      { ...json, cosignatures: 'no' },
    ]) {
      expect(() => signedTreeHeadFromJson(bad)).toThrow(OpenPrumError);
    }
  });
});

describe('countersignatures', () => {
  const sth = new Log(de).grow(8).head();

  it('verify under the witness key, and only for that head', () => {
    const c = cosignTreeHead(sth, nl.id, nl.privateKey, 1234);
    expect(verifyCosignature(sth, c, nl.publicKey)).toBe(true);
    expect(verifyCosignature(sth, c, be.publicKey)).toBe(false);
    expect(verifyCosignature({ ...sth, treeSize: 9 }, c, nl.publicKey)).toBe(false);
    expect(verifyCosignature(sth, { ...c, timestamp: 1235 }, nl.publicKey)).toBe(false);
    expect(verifyCosignature(sth, { ...c, witness: be.id }, nl.publicKey)).toBe(false);
  });

  it('cannot be passed off as a tree-head signature, nor the other way round (domain separation)', () => {
    const c = cosignTreeHead(sth, nl.id, nl.privateKey, 1234);
    expect(verifyTreeHead({ ...sth, logId: nl.id, signature: c.signature }, nl.publicKey)).toBe(false);
    const own = new Log(nl).grow(8).head();
    expect(verifyCosignature(own, { witness: nl.id, timestamp: own.timestamp, signature: own.signature }, nl.publicKey)).toBe(false);
  });

  it('replaces an earlier countersignature by the same witness', () => {
    const once = withCosignature(sth, cosignTreeHead(sth, nl.id, nl.privateKey, 1));
    const twice = withCosignature(withCosignature(once, cosignTreeHead(sth, nl.id, nl.privateKey, 2)), cosignTreeHead(sth, be.id, be.privateKey, 3));
    expect(twice.cosignatures.map((c) => [c.witness.country, c.timestamp])).toEqual([
      ['NL', 2],
      ['BE', 3],
    ]);
  });
});

describe('compareTreeHeads', () => {
  it('tells identical, consistent, fork, inconsistent and proof-required apart', () => {
    const log = new Log(de).grow(5);
    const h5 = log.head();
    log.grow(4);
    const h9 = log.head();
    const other = new Log(de).grow(5, 'x');
    expect(compareTreeHeads(h5, h5)).toBe('identical');
    expect(compareTreeHeads(h5, other.head())).toBe('fork');
    expect(compareTreeHeads(h5, h9)).toBe('proof-required');
    expect(compareTreeHeads(h9, h5, log.tree.consistencyProof(5, 9))).toBe('consistent');
    expect(compareTreeHeads(other.head(), h9, log.tree.consistencyProof(5, 9))).toBe('inconsistent');
  });
});

describe('Witness', () => {
  const logs = new Map([[logIdToString(de.id), de.publicKey]]);
  const witness = (): Witness => new Witness({ logs, signer: { id: nl.id, privateKey: nl.privateKey }, now: () => 42 });

  it('accepts the first head, then growth only with a valid consistency proof, countersigning each', () => {
    const w = witness();
    const log = new Log(de).grow(5);
    const first = w.observe(log.head());
    expect(first.kind).toBe('accepted');
    if (first.kind !== 'accepted' || !first.cosignature) throw new Error('expected a countersignature');
    expect(verifyCosignature(first.head, first.cosignature, nl.publicKey)).toBe(true);

    log.grow(7);
    const h12 = log.head();
    expect(w.observe(h12)).toMatchObject({ kind: 'proof-required', fromSize: 5, toSize: 12 });
    expect(w.observe(h12, log.tree.consistencyProof(5, 12))).toMatchObject({ kind: 'accepted', previous: { treeSize: 5 } });
    expect(w.latest(logIdToString(de.id))?.treeSize).toBe(12);
    expect(w.observe(h12).kind).toBe('duplicate');
  });

  it('reports a rewrite when the new head does not extend the old one', () => {
    const w = witness();
    const honest = new Log(de).grow(5);
    w.observe(honest.head());
    // The node rewrites entry 2 and grows on: its proof cannot connect the two heads.
    const rewritten = new Log(de).grow(2).grow(1, 'rewritten ').grow(6);
    const verdict = w.observe(rewritten.head(), rewritten.tree.consistencyProof(5, 9));
    expect(verdict).toMatchObject({ kind: 'rewrite', earlier: { treeSize: 5 }, later: { treeSize: 9 } });
    expect(w.latest(logIdToString(de.id))?.treeSize).toBe(5);
  });

  it('catches a split view: two peers shown two histories compare countersigned heads', () => {
    // DE shows NL one history and BE another, both of 10 entries.
    const toNl = new Log(de).grow(10);
    const toBe = new Log(de).grow(6).grow(4, 'other ');
    const nlWitness = new Witness({ logs, signer: { id: nl.id, privateKey: nl.privateKey } });
    const beWitness = new Witness({ logs, signer: { id: be.id, privateKey: be.privateKey } });
    expect(nlWitness.observe(toNl.head()).kind).toBe('accepted');
    const atBe = beWitness.observe(toBe.head());
    expect(atBe.kind).toBe('accepted');
    if (atBe.kind !== 'accepted' || !atBe.cosignature) throw new Error('expected acceptance');
    // BE gossips its countersigned head to NL.
    const gossiped = withCosignature(atBe.head, atBe.cosignature);
    const verdict = nlWitness.observe(gossiped);
    expect(verdict.kind).toBe('fork');
    if (verdict.kind !== 'fork') throw new Error('expected a fork');
    // The evidence stands on its own: two heads of one size, both signed by DE, different roots.
    const [a, b] = verdict.evidence;
    expect(a.treeSize).toBe(b.treeSize);
    expect(toHex(a.rootHash)).not.toBe(toHex(b.rootHash));
    expect(verifyTreeHead(a, de.publicKey) && verifyTreeHead(b, de.publicKey)).toBe(true);
  });

  it('catches a split view at different sizes: DE cannot prove the other history consistent', () => {
    const toNl = new Log(de).grow(10);
    const toBe = new Log(de).grow(6).grow(6, 'other ');
    const nlWitness = witness();
    nlWitness.observe(toNl.head());
    // The best DE can send NL is a proof within the history it showed BE.
    expect(nlWitness.observe(toBe.head(), toBe.tree.consistencyProof(10, 12)).kind).toBe('rewrite');
    // Nor does a proof of NL's own history help; and the unproven head is not taken as known.
    toNl.grow(2);
    expect(nlWitness.observe(toBe.head(), toNl.tree.consistencyProof(10, 12)).kind).toBe('rewrite');
    expect(nlWitness.observe(toBe.head()).kind).toBe('proof-required');
  });

  it('remembers older heads, so a fork at an earlier size is caught later', () => {
    const w = witness();
    const log = new Log(de).grow(5);
    w.observe(log.head());
    log.grow(5);
    w.observe(log.head(), log.tree.consistencyProof(5, 10));
    const forkAt5 = new Log(de).grow(4).grow(1, 'forged ');
    expect(w.observe(forkAt5.head()).kind).toBe('fork');
  });

  it('judges older heads by a consistency proof to the latest, too', () => {
    const w = witness();
    const log = new Log(de).grow(4);
    const h4 = log.head();
    log.grow(6);
    w.observe(log.head());
    expect(w.observe(h4)).toMatchObject({ kind: 'proof-required', fromSize: 4, toSize: 10 });
    expect(w.observe(h4, log.tree.consistencyProof(4, 10)).kind).toBe('stale');
    expect(w.observe(h4).kind).toBe('duplicate'); // now proven, hence remembered
    const forged = new Log(de).grow(2, 'forged ');
    expect(w.observe(forged.head(), log.tree.consistencyProof(2, 10)).kind).toBe('rewrite');
    expect(w.latest(logIdToString(de.id))?.treeSize).toBe(10);
  });

  it('rejects unknown logs, bad signatures and time running backwards', () => {
    const w = witness();
    expect(w.observe(new Log(be).grow(1).head())).toMatchObject({ kind: 'rejected', reason: 'unknown-log' });
    const log = new Log(de).grow(3);
    const forged = signTreeHead({ logId: de.id, treeSize: 3, timestamp: 1, rootHash: log.tree.root() }, be.privateKey);
    expect(w.observe(forged)).toMatchObject({ kind: 'rejected', reason: 'bad-signature' });
    w.observe(log.head(5000));
    log.grow(1);
    expect(w.observe(log.head(4000), log.tree.consistencyProof(3, 4))).toMatchObject({ kind: 'rejected', reason: 'timestamp-regression' });
  });

  it('forgets the oldest remembered heads beyond its memory', () => {
    const w = new Witness({ logs, memory: 2 });
    const log = new Log(de).grow(1);
    w.observe(log.head());
    for (let s = 2; s <= 4; s++) {
      log.grow(1);
      expect(w.observe(log.head(), log.tree.consistencyProof(s - 1, s)).kind).toBe('accepted');
    }
    // Size 1 is forgotten: a different head of size 1 now needs a proof (which cannot exist),
    // and asking for one does not disturb the memory of size 3.
    expect(w.observe(new Log(de).grow(1, 'x').head()).kind).toBe('proof-required');
    expect(w.observe(new Log(de).grow(3, 'x').head()).kind).toBe('fork');
  });
});
