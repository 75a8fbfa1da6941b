/** What the safeguards functions need of the node: its state, database, clock, and a nudge for the delivery worker. */
import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.ts';
import type { NodeContext } from '../node/node.ts';

export interface SafeguardsContext {
  readonly country: string;
  readonly db: Kysely<Schema>;
  /** The node's clock: the federation's (injectable in tests), else the system's. */
  now(): Date;
  /** Asks the delivery worker to send due messages now (when the federation runs; else they wait in the queue). */
  kick(): void;
}

/** The context of a node; `now` overrides its clock (tests, `openprum safeguards run-deadlines --now`). */
export function safeguardsContext(node: NodeContext, now?: () => Date): SafeguardsContext {
  return {
    country: node.country,
    db: node.db,
    now: now ?? (() => node.federation?.now() ?? new Date()),
    kick: () => node.federation?.safeguards?.kick(),
  };
}

export const NCP = (country: string): string => `${country} NCP`;
