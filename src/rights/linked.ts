/**
 * The link to src/safeguards (the rules on data this node RECEIVED, and the notification of
 * corrections to the states that received data this node SUPPLIED), for decisions on data subjects'
 * requests:
 *
 *  - received data (a follow-up answer, another state's search answer) that the person has erased or
 *    blocked: `applyOrder` of src/safeguards/deadlines.ts (FD 2008/977 Art. 4; the data leave
 *    `follow_ups.supplied` / `federation_targets.result`, blocked data go to `received_items`);
 *  - data this node supplied that it rectifies or erases: `correctSuppliedData` of
 *    src/safeguards/corrections.ts tells every state that received them (Prüm Decision Art. 28(1);
 *    FD 2008/977 Art. 8(2)), by a signed message from its durable queue.
 *
 * Kept behind an interface so that requests.ts does not depend on the safeguards module.
 */
import type { OfficerCaller } from '../identity/caller.ts';
import type { NodeContext } from '../node/node.ts';
import { safeguardsContext } from '../safeguards/context.ts';
import { correctSuppliedData } from '../safeguards/corrections.ts';
import { applyOrder } from '../safeguards/deadlines.ts';
import { registerReceived } from '../safeguards/items.ts';
import '../safeguards/schema.ts';
import { OpenPrumError } from '../errors/index.ts';

export type SuppliedSubject =
  | { readonly type: 'follow-up'; readonly followUpId: string }
  | { readonly type: 'vehicle'; readonly vin: string }
  | { readonly type: 'dna'; readonly ref: string }
  | { readonly type: 'fingerprint'; readonly ref: string };

export interface LinkedSafeguards {
  /** Erases or blocks received data; returns what src/safeguards did. */
  endReceived(source: { readonly followUpId: string } | { readonly targetId: number } | { readonly itemId: string }, action: 'erase' | 'block', input: { purpose?: string | undefined; reason: string; orderedBy: string }): Promise<{ item: string; reference: string; outcome: string }>;
  /** Notifies the states that received supplied data of its rectification or erasure; returns the states. */
  notifyRecipients(caller: OfficerCaller, subject: SuppliedSubject, action: 'rectify' | 'erase', reason: string): Promise<string[]>;
}

export function linkedSafeguards(node: NodeContext): LinkedSafeguards {
  const ctx = safeguardsContext(node);
  return {
    async endReceived(source, action, input) {
      // Items are indexed by the safeguards worker; index any not yet seen, then find this one.
      await registerReceived(node.db);
      const q = node.db.selectFrom('received_items').select(['id']);
      const row = await ('followUpId' in source ? q.where('follow_up_id', '=', source.followUpId) : 'targetId' in source ? q.where('target_id', '=', source.targetId) : q.where('id', '=', source.itemId)).executeTakeFirst();
      if (!row) throw new OpenPrumError('data-item-unknown', `src/safeguards holds no received item for ${JSON.stringify(source)}`);
      const out = await applyOrder(ctx, row.id, { action, ...(input.purpose ? { purpose: input.purpose } : {}), reason: input.reason, orderedBy: input.orderedBy });
      return { item: out.itemId, reference: out.reference, outcome: out.outcome };
    },
    async notifyRecipients(caller, subject, action, reason) {
      const r = await correctSuppliedData(ctx, caller, { subject, action, reason });
      return r.recipients.map((x) => x.state);
    },
  };
}
