/**
 * The audit log's Merkle core (RFC 9162 §2.1): hashing, salted entry commitments, the incremental
 * tree with inclusion and consistency proofs, signed and countersigned tree heads with a Witness,
 * and offline verification of exports. Storage-agnostic; see README.md.
 */
export * from './hash.ts';
export * from './commitment.ts';
export * from './tree.ts';
export * from './tree-head.ts';
export * from './verify.ts';
