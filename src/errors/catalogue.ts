/**
 * The one catalogue of stable error codes. A code is never reused or renamed once released: clients,
 * peer nodes and auditors match on it. Each entry maps once to an HTTP status (RFC 9457 problem+json)
 * and to a CLI exit code. Messages say what was wrong and what to do; they come from the thrower.
 *
 * Exit codes follow sysexits(3) where one fits: 64 usage, 65 bad input data, 66 input missing,
 * 69 service unavailable, 70 internal error, 73 cannot create output, 75 temporary failure,
 * 77 permission denied, 78 configuration error.
 */
export interface CatalogueEntry {
  /** HTTP status of the problem+json answer. */
  readonly status: number;
  /** Process exit code of the CLI. */
  readonly exit: number;
  /** Short, stable human title (the problem+json `title`). */
  readonly title: string;
}

export const catalogue = {
  // --- general -------------------------------------------------------------------------------
  'usage': { status: 400, exit: 64, title: 'The command was used wrongly' },
  'config-invalid': { status: 500, exit: 78, title: 'The configuration is not valid' },
  'internal': { status: 500, exit: 70, title: 'Internal error' },
  'not-found': { status: 404, exit: 66, title: 'Not found' },
  'input-invalid': { status: 400, exit: 65, title: 'The input is not valid' },
  'input-too-large': { status: 413, exit: 65, title: 'The input is too large' },
  'media-type-unsupported': { status: 415, exit: 65, title: 'The content type is not supported' },
  'file-unreadable': { status: 400, exit: 66, title: 'The file cannot be read' },
  'conflict': { status: 409, exit: 75, title: 'The request conflicts with the current state' },
  'unavailable': { status: 503, exit: 69, title: 'The service is unavailable' },

  // --- identity ------------------------------------------------------------------------------
  'unauthenticated': { status: 401, exit: 77, title: 'No valid credentials' },
  'forbidden': { status: 403, exit: 77, title: 'The caller lacks the role this needs' },
  'token-expired': { status: 401, exit: 77, title: 'The token has expired' },
  'token-revoked': { status: 401, exit: 77, title: 'The token was revoked' },

  // --- node ----------------------------------------------------------------------------------
  'node-not-initialised': { status: 500, exit: 78, title: 'The node is not initialised' },
  'node-already-initialised': { status: 409, exit: 73, title: 'The node is already initialised' },

  // --- vehicles (Prüm Decision Art. 12) ------------------------------------------------------
  'vehicle-import-invalid': { status: 400, exit: 65, title: 'The vehicle file is not valid' },
  'vehicle-search-invalid': { status: 400, exit: 65, title: 'The vehicle search is not valid' },
  'vehicle-search-partial': { status: 400, exit: 65, title: 'Only a full VIN or a full registration number may be searched' },
  'purpose-invalid': { status: 400, exit: 65, title: 'The purpose is not a lawful ground for this search' },

  // --- DNA (Prüm Decision Arts. 2-7) ---------------------------------------------------------
  'dna-file-invalid': { status: 400, exit: 65, title: 'The DNA file is not valid' },
  'dna-profile-invalid': { status: 400, exit: 65, title: 'The DNA profile is not valid' },
  'dna-personal-data': { status: 400, exit: 65, title: 'DNA reference data must not identify a person' },
  'dna-frequencies-invalid': { status: 400, exit: 65, title: 'The allele-frequency table is not valid' },

  // --- fingerprints (Prüm Decision Arts. 8-11) -----------------------------------------------
  'fingerprint-transaction-invalid': { status: 400, exit: 65, title: 'The ANSI/NIST-ITL transaction is not valid' },
  'fingerprint-template-invalid': { status: 400, exit: 65, title: 'The minutiae template is not valid' },
  'fingerprint-wsq-invalid': { status: 400, exit: 65, title: 'The WSQ image is not valid' },
  'fingerprint-image-invalid': { status: 400, exit: 65, title: 'The fingerprint image is not valid' },
  'fingerprint-image-too-large': { status: 413, exit: 65, title: 'The fingerprint image is too large to process' },
  'fingerprint-minutiae-too-few': { status: 422, exit: 65, title: 'The fingerprint has too few minutiae to match' },

  // --- audit ---------------------------------------------------------------------------------
  'audit-proof-invalid': { status: 400, exit: 65, title: 'The audit proof does not verify' },
  'audit-log-inconsistent': { status: 500, exit: 70, title: 'The stored audit tree is incomplete or inconsistent' },
  'audit-log-empty': { status: 409, exit: 75, title: 'The audit log has no signed tree head yet' },
  // Exit 1 as for `cmp` or `gpg --verify`: the check ran and failed; no sysexits code means that.
  'audit-verification-failed': { status: 422, exit: 1, title: 'The audit export shows tampering, loss or rewriting' },
  'audit-cosignature-invalid': { status: 400, exit: 65, title: 'The countersignature does not verify' },

  // --- federation (Prüm Decision Arts. 2(3), 12, 30, 36; 2008/616/JHA Arts. 8 and 15, Annex) -----
  'pki-invalid': { status: 400, exit: 65, title: 'The federation certificate material is not valid' },
  'pki-exists': { status: 409, exit: 73, title: 'The certificate authority or certificate exists already' },
  'federation-not-configured': { status: 503, exit: 78, title: 'This node has no federation certificate' },
  'federation-search-invalid': { status: 400, exit: 65, title: 'The federated search is not valid' },
  'declaration-invalid': { status: 400, exit: 65, title: 'The declaration is not valid' },
  'peer-unknown': { status: 404, exit: 66, title: 'No peer node is configured for that state' },
  'peer-certificate-refused': { status: 401, exit: 77, title: 'The peer certificate is unknown, revoked or of another federation' },
  'peer-signature-invalid': { status: 401, exit: 77, title: 'The message signature is missing or does not verify' },
  'peer-identity-mismatch': { status: 403, exit: 77, title: 'The message speaks for a state other than its sender' },
  'peer-message-invalid': { status: 400, exit: 65, title: 'The peer message is not valid' },
  'peer-message-expired': { status: 400, exit: 65, title: 'The peer message is outside the accepted time window' },
  'peer-message-conflict': { status: 409, exit: 75, title: 'The message id was used before with a different message' },
  'peer-misdirected': { status: 421, exit: 65, title: 'The message is addressed to another state' },
  'peer-search-kind-unknown': { status: 400, exit: 65, title: 'The search kind is not known to this node' },
  'peer-file-closed': { status: 403, exit: 77, title: 'The file is not opened to automated search by the declaration' },
  'peer-capacity-exceeded': { status: 429, exit: 75, title: 'The declared daily capacity for the requesting state is used up' },
  'peer-unreachable': { status: 503, exit: 69, title: 'The peer node did not answer' },
  'peer-answer-invalid': { status: 502, exit: 69, title: 'The peer node answered with an invalid or unsigned message' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof catalogue;
