/**
 * The federation as it runs for real: three node processes (`openprum serve`) on loopback, each with
 * its own embedded database, set up by the demo federation (src/demo/federation.ts) with planted
 * cross-border hits. DNA and vehicle searches across them return the planted hits; a requested node
 * and then the requesting node are killed (SIGKILL) mid-run and started again, and every pending
 * request completes with nothing lost or duplicated, on both sides' records.
 *
 * The nodes always run on embedded databases (three nodes cannot share one DATABASE_URL), so this file
 * is not rerun on PostgreSQL.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_FEDERATION_VEHICLES, prepareDemoFederation, type DemoNodeInfo, type DemoPlan, type DemoState } from '../../src/demo/federation.ts';
import { NodeProcess } from '../../src/demo/processes.ts';
import { DNA_PURPOSE } from '../../src/dna/national-file.ts';
import { freePort } from '../support/cli.ts';
import { waitFor } from './support.ts';

let dir: string;
let plan: DemoPlan;
const procs = new Map<DemoState, NodeProcess>();
const logs = new Map<DemoState, string[]>();

async function consecutivePorts(n: number): Promise<number> {
  // The demo numbers ports from a base; look for a base whose next n ports are free.
  for (;;) {
    const base = await freePort();
    if (base + n > 65535) continue;
    const ok = await Promise.all(Array.from({ length: n }, (_, i) => portFree(base + i)));
    if (ok.every(Boolean)) return base;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const node = (c: DemoState): DemoNodeInfo => plan.nodes.find((n) => n.country === c)!;

async function api<T>(c: DemoState, method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${node(c).url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, json: (await res.json()) as T };
}

type Target = { state: string; status: string; hit: boolean | null; messageId: string; result: unknown; attempts: number };
type SearchView = { id: string; targets: Target[] };

async function federatedSearch(from: DemoState, body: Record<string, unknown>): Promise<string> {
  const r = await api<SearchView>(from, 'POST', '/v1/federation/searches', node(from).tokens.officer, body);
  expect(r.status, JSON.stringify(r.json)).toBe(202);
  return r.json.id;
}

async function settled(from: DemoState, id: string, timeoutMs = 120_000): Promise<SearchView> {
  return waitFor(
    async () => (await api<SearchView>(from, 'GET', `/v1/federation/searches/${id}`, node(from).tokens.officer)).json,
    (v) => Array.isArray(v.targets) && v.targets.every((t) => t.status !== 'pending'),
    timeoutMs,
  );
}

const vehicleSearch = (state: DemoState, targets: DemoState[]) => ({
  kind: 'vehicle',
  targets,
  query: { registrationNumber: DEMO_FEDERATION_VEHICLES[state].registrationNumber },
  purpose: 'criminal-offences',
  reason: 'Case 2026/17: car seen at a burglary',
  orderedBy: 'Inspector J. de Vries',
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openprum-processes-'));
  const basePort = await consecutivePorts(3);
  const basePeerPort = await consecutivePorts(3);
  plan = await prepareDemoFederation({ baseDir: dir, basePort, basePeerPort, vehicles: 200, dnaProfiles: 300, say: () => undefined });
  for (const n of plan.nodes) {
    const lines: string[] = [];
    logs.set(n.country, lines);
    procs.set(n.country, new NodeProcess({ country: n.country, dataDir: n.dataDir, port: n.port, logLevel: 'warn', output: (l) => lines.push(l) }));
  }
  await Promise.all([...procs.values()].map((p) => p.start()));
}, 600_000);

afterAll(async () => {
  await Promise.all([...procs.values()].map((p) => p.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('three node processes on loopback', () => {
  it('returns every planted DNA hit, from full and partial stains, and only from the state that holds the person', async () => {
    expect(plan.plantedDna).toHaveLength(6);
    for (const planted of plan.plantedDna) {
      // The stain as the searching state holds it (the second one is partial).
      const profile = { ref: planted.stain, kind: 'unidentified', loci: lociOf(planted.searchingState, planted.stain) };
      const id = await federatedSearch(planted.searchingState, { kind: 'dna', targets: 'all', query: { profile }, purpose: DNA_PURPOSE, reason: 'Case 2026/42: stain at a burglary', orderedBy: 'Prosecutor M. Bakker' });
      const v = await settled(planted.searchingState, id);
      for (const t of v.targets) {
        expect(t.status, JSON.stringify(t)).toBe('answered');
        const refs = ((t.result as { hits: Array<{ ref: string }> }).hits ?? []).map((h) => h.ref);
        if (t.state === planted.holdingState) {
          expect(t.hit).toBe(true);
          expect(refs).toContain(planted.person);
        } else {
          expect(refs).not.toContain(planted.person);
        }
      }
    }
  }, 300_000);

  it('returns the planted vehicle of each state to the others', async () => {
    const id = await federatedSearch('NL', vehicleSearch('FR', ['DE', 'FR']));
    const v = await settled('NL', id);
    const fr = v.targets.find((t) => t.state === 'FR')!;
    const de = v.targets.find((t) => t.state === 'DE')!;
    expect(fr.hit).toBe(true);
    expect(JSON.stringify(fr.result)).toContain(DEMO_FEDERATION_VEHICLES.FR.vin);
    expect(de.hit).toBe(false);
  }, 120_000);

  it('survives a requested and then the requesting node killed mid-run: every request completes once', async () => {
    const ids: string[] = [];
    // Searches in flight when FR dies.
    for (let i = 0; i < 4; i++) ids.push(await federatedSearch('NL', vehicleSearch(i % 2 ? 'FR' : 'DE', ['DE', 'FR'])));
    await procs.get('FR')!.kill();
    // Searches while FR is down stay pending for FR.
    for (let i = 0; i < 4; i++) ids.push(await federatedSearch('NL', vehicleSearch(i % 2 ? 'FR' : 'DE', ['DE', 'FR'])));
    const before = await api<SearchView>('NL', 'GET', `/v1/federation/searches/${ids.at(-1)!}`, node('NL').tokens.officer);
    expect(before.json.targets.find((t) => t.state === 'FR')!.status).toBe('pending');
    // The requesting node dies too, with pending rows in its outbox; both come back.
    await procs.get('NL')!.kill();
    await procs.get('FR')!.start();
    await procs.get('NL')!.start();

    const views = await Promise.all(ids.map((id) => settled('NL', id, 180_000)));
    const messageIds = new Map<string, string[]>();
    for (const [i, v] of views.entries()) {
      const wanted: DemoState = i % 2 ? 'FR' : 'DE';
      for (const t of v.targets) {
        expect(t.status, JSON.stringify(t)).toBe('answered');
        expect(t.hit).toBe(t.state === wanted);
        messageIds.set(t.state, [...(messageIds.get(t.state) ?? []), t.messageId]);
      }
    }

    // Nothing duplicated: each requested state recorded each message once, and NL recorded each
    // state's answer once.
    for (const state of ['DE', 'FR'] as const) {
      const records = await allRecords(state, 'vehicle.search');
      const incoming = records.filter((r) => r.direction === 'incoming' && r.searchingBody === 'NL NCP');
      for (const m of messageIds.get(state)!) expect(incoming.filter((r) => r.requestId === m), `${state} ${m}`).toHaveLength(1);
    }
    const outgoing = (await allRecords('NL', 'vehicle.search')).filter((r) => r.direction === 'outgoing');
    for (const [state, ms] of messageIds) {
      for (const m of ms) expect(outgoing.filter((r) => r.requestId === m && r.administeringBody === `${state} NCP`), `NL ${state} ${m}`).toHaveLength(1);
    }
  }, 600_000);
});

function lociOf(state: DemoState, ref: string): unknown {
  const line = readFileSync(join(node(state).dataDir, 'demo-stains.jsonl'), 'utf8').split('\n').find((l) => l.includes(`"${ref}"`));
  if (!line) throw new Error(`no stain ${ref} in ${state}'s demo file`);
  return (JSON.parse(line) as { loci: unknown }).loci;
}

type RecordRow = { id: number; direction: string; searchingBody: string; administeringBody: string; requestId: string | null };

async function allRecords(state: DemoState, action: string): Promise<RecordRow[]> {
  const out: RecordRow[] = [];
  let after = 0;
  for (;;) {
    const r = await api<{ records: RecordRow[] }>(state, 'GET', `/v1/records?action=${action}&limit=1000&after=${after}`, node(state).tokens.supervisor);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    out.push(...r.json.records);
    if (r.json.records.length < 1000) return out;
    after = r.json.records.at(-1)!.id;
  }
}
