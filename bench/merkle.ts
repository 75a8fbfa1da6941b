/**
 * Benchmark of the audit log's Merkle core (src/audit/merkle), in memory.
 *
 *   node --import tsx bench/merkle.ts [leaves]        (default 10 000 000 leaves)
 *
 * Measures: append rate (tree only, and the full record path: canonical JSON, digest, salted
 * commitment, leaf hash, append), building a tree of `leaves`, and per-operation latency of
 * inclusion proofs, consistency proofs and past roots in that tree, with their verification.
 * Storage is the typed-array MemoryNodeStore holding every level (0 included): ~2n hashes, 64 B
 * per leaf. PostgreSQL durability is the lead's bench; this is the computation underneath it.
 */
import { cpus, totalmem } from 'node:os';
import { commitEntry } from '../src/audit/merkle/commitment.ts';
import { leafHash } from '../src/audit/merkle/hash.ts';
import { MemoryNodeStore, MerkleTree, inclusionProofNodes, verifyConsistency, verifyInclusion } from '../src/audit/merkle/tree.ts';

const leaves = Number(process.argv[2] ?? 10_000_000);
if (!Number.isSafeInteger(leaves) || leaves < 2) throw new Error('usage: node --import tsx bench/merkle.ts [leaves ≥ 2]');

let seed = 12345;
function rand(n: number): number {
  // xorshift32: deterministic samples, so runs are comparable
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}

function leafOf(i: number): Uint8Array {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setFloat64(0, i);
  return leafHash(data);
}

function stats(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  const mean = s.reduce((x, y) => x + y, 0) / s.length;
  const us = (ms: number): string => `${(ms * 1000).toFixed(1)} µs`;
  return `mean ${us(mean)}, p50 ${us(at(0.5))}, p99 ${us(at(0.99))}, max ${us(at(1))} (n=${s.length})`;
}

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, performance.now() - t0];
}

const lines: string[] = [];
function report(line: string): void {
  lines.push(line);
  console.log(line);
}

report(`Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; Node ${process.version}`);

// 1. Append rate, tree only (leaf hashes given).
{
  const n = 1_000_000;
  const hashes = Array.from({ length: n }, (_, i) => leafOf(i));
  const tree = new MerkleTree(new MemoryNodeStore());
  const [, ms] = time(() => {
    for (const h of hashes) tree.append(h);
  });
  report(`append (tree only, ${n.toLocaleString('en')} leaf hashes): ${Math.round(n / (ms / 1000)).toLocaleString('en')} /s`);
}

// 2. Append rate, full record path.
{
  const n = 200_000;
  const tree = new MerkleTree(new MemoryNodeStore());
  const [, ms] = time(() => {
    for (let i = 0; i < n; i++) {
      const content = { kind: 'supply', peer: 'NL', category: 'vehicle', ref: `DE-2024-${i}`, purpose: 'prevention', at: '2024-05-01T10:00:00Z' };
      tree.append(commitEntry(i, content).leafHash);
    }
  });
  report(`append (canonical JSON + digest + commitment + leaf + tree, ${n.toLocaleString('en')} records): ${Math.round(n / (ms / 1000)).toLocaleString('en')} /s`);
}

// 3. Build the big tree.
const store = new MemoryNodeStore();
const tree = new MerkleTree(store);
{
  const [, ms] = time(() => {
    for (let i = 0; i < leaves; i++) tree.append(leafOf(i));
  });
  report(
    `build ${leaves.toLocaleString('en')} leaves: ${(ms / 1000).toFixed(1)} s (${Math.round(leaves / (ms / 1000)).toLocaleString('en')} /s incl. leaf hashing); ` +
      `node store ${(store.byteLength / 2 ** 20).toFixed(0)} MiB, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
}

const size = tree.size;
const root = tree.root();

// 4. Inclusion proofs: planning alone (what a SQL store does before its one query), and
//    plan + node lookups + build, then verification.
{
  for (let i = 0; i < 1000; i++) tree.inclusionProof(rand(size)); // warm-up
  const plan: number[] = [];
  const gen: number[] = [];
  const ver: number[] = [];
  let bad = 0;
  for (let i = 0; i < 20_000; i++) {
    const m = rand(size);
    plan.push(time(() => inclusionProofNodes(m, size))[1]);
    const [proof, ms] = time(() => tree.inclusionProof(m, size));
    gen.push(ms);
    const [ok, vms] = time(() => verifyInclusion(m, size, store.get(0, m) as Uint8Array, proof, root));
    ver.push(vms);
    if (!ok) bad++;
  }
  if (bad) throw new Error(`${bad} inclusion proofs failed to verify`);
  report(`inclusion proof, plan only (${size.toLocaleString('en')} leaves): ${stats(plan)}`);
  report(`inclusion proof, generate (${size.toLocaleString('en')} leaves): ${stats(gen)}`);
  report(`inclusion proof, verify: ${stats(ver)}`);
}

// 5. Consistency proofs from random older sizes to the current size, and between random sizes.
{
  const gen: number[] = [];
  const ver: number[] = [];
  const past: number[] = [];
  for (let i = 0; i < 5_000; i++) {
    const s1 = 1 + rand(size - 1);
    const [r1, rms] = time(() => tree.rootAt(s1));
    past.push(rms);
    const [proof, ms] = time(() => tree.consistencyProof(s1, size));
    gen.push(ms);
    const [ok, vms] = time(() => verifyConsistency(s1, size, r1, root, proof));
    ver.push(vms);
    if (!ok) throw new Error(`consistency ${s1}→${size} failed`);
  }
  report(`root at a past size: ${stats(past)}`);
  report(`consistency proof to current size, generate: ${stats(gen)}`);
  report(`consistency proof, verify: ${stats(ver)}`);
}

console.log('\n--- markdown ---\n' + lines.map((l) => `- ${l}`).join('\n'));
