/**
 * Search kinds: what a federated search can be about. Each kind brings the schema of its query and of
 * its answer's result, the files of the declaration it needs open, the deadline of its answers, and the
 * local handler that answers an incoming search. Vehicles are registered here; DNA (reference and
 * unidentified profiles, 2008/616/JHA Art. 8) and later fingerprints plug in by registering their kind:
 * the transport, signatures, replay guard, capacity, outbox and records stay the same.
 */
import type { Kysely } from 'kysely';
import type { TSchema } from 'typebox';
import type { Schema } from '../db/schema.ts';
import { OpenPrumError } from '../errors/index.ts';
import type { PeerCaller } from '../identity/caller.ts';

/** What a handler gets of the node: its state and a database handle inside the answer's transaction. */
export interface HandlerNode {
  readonly country: string;
  readonly db: Kysely<Schema>;
}

export interface IncomingSearch {
  readonly messageId: string;
  /** The requesting state's indication number of the request (2008/616/JHA Art. 8(1)(b)). */
  readonly reference: string;
  readonly requestedAt: string;
  /**
   * The files of this node's declaration that are open (Prüm Decision Art. 2(3)): a kind that spans
   * several files (DNA reference and unidentified profiles) compares against these only.
   */
  readonly openFiles: readonly string[];
}

export interface KindAnswer<R = unknown> {
  /** Hit or no hit (2008/616/JHA Art. 8(2)(a)). */
  readonly hit: boolean;
  /** The matched reference data and match quality, shaped by the kind's resultSchema. */
  readonly result: R;
  /** The administering side's record of this supply (Prüm Decision Art. 30(2)(b)). */
  readonly recordId: number;
}

/** What an officer sends: the kind's search keys plus the common fields every search records. */
export interface OfficerSearch {
  readonly query: unknown;
  readonly purpose: string;
  readonly reason: string;
  readonly orderedBy: string;
}

export interface SearchKind<Q = unknown, R = unknown> {
  /** The wire name, e.g. 'vehicle', 'dna'. */
  readonly name: string;
  readonly legalBasis: string;
  /** Files of the declaration that must be open (one of them) for this kind to be searched. */
  readonly files: readonly string[];
  /** The query on the wire (validated at the receiving node before anything else). */
  readonly querySchema: TSchema;
  /** The result on the wire (validated at the requesting node before it is stored). */
  readonly resultSchema: TSchema;
  /** How long the requested state has to answer, in ms (DNA: 15 minutes, Annex ch. 1 section 3.1). */
  readonly answerDueMs: number;
  /** Largest number of items (profiles, keys) in one request. */
  readonly maxItems: number;
  /**
   * Turns an officer's input into the wire query, or throws a clear OpenPrumError. Runs at the
   * requesting node, before anything is stored or sent.
   */
  prepare(search: OfficerSearch): Q;
  /** Capacity units a query uses (vehicle keys, DNA profiles). */
  items(query: Q): number;
  /**
   * Answers an incoming search and writes the administering side's record, on `node.db`, which is
   * the transaction that also stores the signed answer. It must keep nothing of the supplied data but
   * what the record holds (Prüm Decision Art. 26(2) and Art. 30). Throws OpenPrumError to refuse.
   */
  handle(node: HandlerNode, peer: PeerCaller, query: Q, search: IncomingSearch): Promise<KindAnswer<R>>;
}

export class SearchKindRegistry {
  private readonly kinds = new Map<string, SearchKind>();

  register<Q, R>(kind: SearchKind<Q, R>): this {
    if (this.kinds.has(kind.name)) throw new Error(`search kind ${kind.name} is registered already`);
    this.kinds.set(kind.name, kind as unknown as SearchKind);
    return this;
  }

  get(name: string): SearchKind | undefined {
    return this.kinds.get(name);
  }

  /** The kind, or a refusal naming the kinds there are. */
  require(name: string, code: 'peer-search-kind-unknown' | 'federation-search-invalid'): SearchKind {
    const kind = this.kinds.get(name);
    if (!kind) throw new OpenPrumError(code, `Search kind ${JSON.stringify(name)} is not known here; known: ${this.names().join(', ')}`);
    return kind;
  }

  names(): string[] {
    return [...this.kinds.keys()];
  }
}
