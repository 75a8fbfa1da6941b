/**
 * The file a supervisor receives from `GET /v1/audit/export` or `openprum audit export`, and checks
 * offline with `openprum audit verify` (Prüm Decision Art. 30(3): the recorded data are communicated
 * to the data-protection authority on request, within four weeks).
 *
 * A whole-log export (range [0, treeSize)) is exactly the merkle core's export (`scope: 'full'`,
 * every leaf hash, every entry; src/audit/merkle/README.md §6), verified by its `verifyExport`.
 * An export of a period carries the entries of the smallest index range holding the period's
 * records, the leaf hashes of that range, and a range proof (src/audit/range.ts) instead of every
 * leaf hash of the log. Both carry:
 *
 *  - `context`: single entries outside the range, each with its inclusion proof: the neighbours
 *    of the range (whose recorded times show the range covers the period) and the records of
 *    erasures (which show why each erased entry was erased, so that deleting a record cannot pass
 *    as an erasure);
 *  - `consistency`: consistency proofs from earlier tree sizes the supervisor asked for, to check
 *    that the log extends the heads they already hold (RFC 9162 §2.1.4).
 */
import type { ExportEntryJson, SignedTreeHeadJson } from './merkle/index.ts';

export const EXPORT_FORMAT = 'openprum/audit-export/v1';

/** Actions of the records that erasures write about themselves (src/audit/retention.ts). */
export const RETENTION_ACTION = 'audit.retention-purge';
export const ERASURE_ORDER_ACTION = 'audit.erasure-order';

export type ContextRole = 'before' | 'after' | 'retention' | 'erasure-order';

export interface ContextEntryJson {
  readonly role: ContextRole;
  readonly entry: ExportEntryJson;
}

export interface AuditExportFile {
  format: typeof EXPORT_FORMAT;
  exportedAt: string;
  /** The period asked for (recorded times, from inclusive, to exclusive); null = open. */
  period: { from: string | null; to: string | null };
  /** Log indices [from, to) of the entries exported. */
  range: { from: number; to: number };
  /** 'full' when the range is the whole signed log (merkle core format), else 'range'. */
  scope: 'full' | 'range';
  /** Records of the period written but not yet in the signed log when exporting (not verifiable yet). */
  unsealed: number;
  /** The latest signed tree head, with countersignatures. */
  heads: SignedTreeHeadJson[];
  /** For scope 'range': the stored nodes outside the range (src/audit/range.ts). */
  rangeProof: { level: number; index: number; hash: string }[];
  consistency: { fromSize: number; proof: string[] }[];
  context: ContextEntryJson[];
  /** Leaf hashes of the range, in index order (all of them for scope 'full'). */
  leafHashes: string[];
  entries: ExportEntryJson[];
}
