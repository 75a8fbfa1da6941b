/** What the parts of the exchange share: the node's state and database, its keys and trust, the kinds. */
import type { Kysely } from 'kysely';
import type { Schema } from '../db/schema.ts';
import type { NationalDnaFile } from '../dna/national-file.ts';
import type { Signer } from './jws.ts';
import type { FederationTrust } from './pki.ts';
import type { SearchKindRegistry } from './search-kinds.ts';

export interface ExchangeContext {
  readonly country: string;
  readonly db: Kysely<Schema>;
  readonly kinds: SearchKindRegistry;
  /** The node's certificate and key (current: they may be reloaded). */
  signer(): Signer;
  /** The federation CA and its current revocation list. */
  trust(): FederationTrust;
  now(): Date;
  /** The node's national DNA file, for the bulk comparison of Prüm Decision Art. 4 (bulk-peer.ts). */
  dnaFile?(): Promise<NationalDnaFile>;
}

/** A signed message as sent or received: the exact body bytes and the detached JWS over them. */
export interface SignedMessage {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly jws: string;
}

/** The authenticated TLS peer of a connection (its certificate checked against CA and CRL). */
export interface TlsPeer {
  readonly country: string;
  readonly fingerprint: string;
}

export const NCP = (country: string): string => `${country} NCP`;
