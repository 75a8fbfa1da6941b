/**
 * Security events of the peer interface that name no authenticated state (a refused TLS handshake, a
 * request without a valid certificate). They cannot go in the record of supplies, which names the
 * searching body (Prüm Decision Art. 30(2)(b)(iii)), but a supervisor must be able to see them.
 */
import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.ts';

export interface FederationEvent {
  readonly event: 'tls-refused' | 'peer-refused' | 'peer-unreachable' | 'declaration-refused';
  readonly peerState?: string | null;
  readonly remoteAddress?: string | null;
  readonly code?: string | null;
  readonly detail: string;
}

export async function recordFederationEvent(db: Kysely<Schema>, e: FederationEvent): Promise<void> {
  await db
    .insertInto('federation_events')
    .values({ event: e.event, peer_state: e.peerState ?? null, remote_address: e.remoteAddress ?? null, code: e.code ?? null, detail: e.detail.slice(0, 2000) })
    .execute();
}

export async function listFederationEvents(db: Kysely<Schema>, limit = 100): Promise<Array<Record<string, unknown>>> {
  return db.selectFrom('federation_events').selectAll().orderBy('id', 'desc').limit(Math.min(limit, 1000)).execute();
}
