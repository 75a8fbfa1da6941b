/**
 * The supervisory authority's orders (FD 2008/977 Art. 25(2)(b): "effective powers of intervention,
 * such as ... ordering the blocking, erasure or destruction of data"; Directive (EU) 2016/680 Art.
 * 47(2)(b)), given by a `supervisor` through the API and each recorded in the transaction that
 * carries it out:
 *
 *  - a blocking order: an item of a national file is blocked, usable only for the purpose named
 *    (blocks.ts); lifting it puts the item back. Received data are blocked where src/safeguards
 *    keeps them (linked.ts);
 *  - an erasure order: records of the Art. 30 log (src/audit/retention.ts, eraseRecordsByOrder: the
 *    record and its leaf's salt go, the log stays verifiable), an item of a national file, blocked
 *    data, or received data (src/safeguards).
 *
 * What the supervisor could do before (reading records, exports of any period, random checks with
 * results kept 18 months, erasure of records from the command line) is in src/audit.
 */
import { eraseRecordsByOrder, type ErasureResult } from '../audit/retention.ts';
import { OpenPrumError } from '../errors/index.ts';
import type { OfficerCaller } from '../identity/caller.ts';
import type { NodeContext } from '../node/node.ts';
import { blockIn, endBlockIn, eraseItemIn, type BlockView } from './blocks.ts';
import { linkedSafeguards } from './linked.ts';
import type { BlockTargetKind } from './schema.ts';

const actor = (c: OfficerCaller) => ({ officerId: c.officerId, reference: c.reference });

/** The authority that ordered: as given, or the supervisor's own name. */
function authorityOf(caller: OfficerCaller, authority: string | undefined): string {
  const a = authority?.trim();
  return a ? a : `${caller.name} (${caller.reference}), supervisory authority`;
}

/**
 * Lets the in-memory DNA index and fingerprint gallery drop (or take back) an item at once, rather
 * than before their next search (they read the change log then anyway).
 */
export async function syncIndexes(node: Pick<NodeContext, 'dna' | 'fingerprints'>, kinds: readonly BlockTargetKind[]): Promise<void> {
  if (kinds.includes('dna-profile')) await (await node.dna()).sync();
  if (kinds.includes('fingerprint-person')) await (await node.fingerprints()).sync();
}

export interface BlockingOrder {
  /** An item of a national file, or received data (`received`: the id of src/safeguards' item). */
  readonly target: { readonly kind: BlockTargetKind | 'received'; readonly ref: string };
  readonly allowedPurpose: string;
  readonly order: string;
  readonly reason: string;
  readonly authority?: string | undefined;
}

export async function orderBlocking(node: NodeContext, caller: OfficerCaller, input: BlockingOrder): Promise<BlockView | ReceivedOrderResult> {
  const t = input.target;
  if (t.kind === 'received') {
    // Received data: blocked where src/safeguards keeps it (received_items), recorded there.
    const out = await linkedSafeguards(node).endReceived({ itemId: t.ref.trim() }, 'block', { purpose: input.allowedPurpose, reason: `${input.order}: ${input.reason}`, orderedBy: authorityOf(caller, input.authority) });
    return { kind: 'received', ...out };
  }
  const kind = t.kind;
  const block = await node.db.transaction().execute((trx) =>
    blockIn(trx, node.country, actor(caller), {
      kind,
      ref: input.target.ref,
      allowedPurpose: input.allowedPurpose,
      reason: input.reason,
      order: input.order,
      orderedBy: authorityOf(caller, input.authority),
      source: 'supervisor-order',
    }),
  );
  await syncIndexes(node, [block.target.kind]);
  return block;
}

export async function liftBlock(node: NodeContext, caller: OfficerCaller, id: string, input: { order: string; reason: string; authority?: string | undefined }): Promise<BlockView> {
  const block = await node.db.transaction().execute((trx) =>
    endBlockIn(trx, node.country, actor(caller), id, 'lift', { reason: input.reason, order: input.order, orderedBy: authorityOf(caller, input.authority), legalBasis: 'FD 2008/977 Art. 25(2)(b)' }),
  );
  await syncIndexes(node, [block.target.kind]);
  return block;
}

/** What src/safeguards did with received data on an order. */
export interface ReceivedOrderResult {
  readonly kind: 'received';
  readonly item: string;
  readonly reference: string;
  readonly outcome: string;
}

export type ErasureTarget =
  | { readonly kind: 'records'; readonly recordIds: readonly number[] }
  | { readonly kind: 'received'; readonly id: string }
  | { readonly kind: BlockTargetKind; readonly ref: string }
  | { readonly kind: 'block'; readonly id: string };

export interface ErasureOrderInput {
  readonly target: ErasureTarget;
  readonly order: string;
  readonly reason: string;
  readonly authority?: string | undefined;
}

export type ErasureOrderResult =
  | { readonly kind: 'records'; readonly erased: ErasureResult }
  | ReceivedOrderResult
  | { readonly kind: BlockTargetKind; readonly ref: string; readonly recordId: number }
  | { readonly kind: 'block'; readonly block: BlockView };

const ERASURE_LEGAL_BASIS = 'FD 2008/977 Art. 25(2)(b); Directive (EU) 2016/680 Arts. 16(2), 47(2)(b)';

export async function orderErasure(node: NodeContext, caller: OfficerCaller, input: ErasureOrderInput): Promise<ErasureOrderResult> {
  const orderedBy = authorityOf(caller, input.authority);
  const t = input.target;
  if (t.kind === 'records') {
    // The erasure of records (src/audit/retention.ts) records the order itself, sealed into the log.
    return { kind: 'records', erased: await eraseRecordsByOrder(node, { recordIds: t.recordIds, order: input.order, orderedBy: `${orderedBy}; by ${caller.reference}`, reason: input.reason }) };
  }
  if (t.kind === 'received') {
    const out = await linkedSafeguards(node).endReceived({ itemId: t.id.trim() }, 'erase', { reason: `${input.order}: ${input.reason}`, orderedBy });
    return { kind: 'received', ...out };
  }
  if (t.kind === 'block') {
    const block = await node.db.transaction().execute((trx) => endBlockIn(trx, node.country, actor(caller), t.id, 'erase', { reason: input.reason, order: input.order, orderedBy, legalBasis: ERASURE_LEGAL_BASIS }));
    return { kind: 'block', block };
  }
  if (!('ref' in t)) throw new OpenPrumError('input-invalid', 'target.ref is needed', { field: 'target.ref' });
  const done = await node.db.transaction().execute((trx) => eraseItemIn(trx, node.country, actor(caller), { kind: t.kind, ref: t.ref, reason: input.reason, order: input.order, orderedBy, legalBasis: ERASURE_LEGAL_BASIS }));
  await syncIndexes(node, [t.kind]);
  return { kind: t.kind, ref: done.ref, recordId: done.recordId };
}
