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
  'fingerprint-file-invalid': { status: 400, exit: 65, title: 'The fingerprint file is not valid' },
  'fingerprint-personal-data': { status: 400, exit: 65, title: 'Fingerprint reference data must not identify a person' },
  'fingerprint-search-invalid': { status: 400, exit: 65, title: 'The fingerprint search is not valid' },

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
  // Bulk comparison of DNA profiles (Prüm Decision Art. 4; src/exchange/bulk*.ts).
  'peer-bulk-not-consented': { status: 403, exit: 77, title: 'The requested state has not consented to a bulk comparison with the requesting state' },
  'bulk-comparison-invalid': { status: 400, exit: 65, title: 'The bulk comparison is not valid' },

  // --- follow-ups after a hit (Prüm Decision Arts. 5, 10; FD 2008/977 Arts. 9, 12; src/followup/) ---
  'follow-up-invalid': { status: 400, exit: 65, title: 'The follow-up request or decision is not valid' },
  'follow-up-hit-unknown': { status: 404, exit: 66, title: 'No such hit was answered' },
  'follow-up-hit-decided': { status: 409, exit: 75, title: 'The hit was confirmed or rejected already' },
  'follow-up-hit-not-confirmed': { status: 409, exit: 75, title: 'A follow-up needs a confirmed hit' },
  'follow-up-open': { status: 409, exit: 75, title: 'A follow-up for this hit is open already' },
  'follow-up-decided': { status: 409, exit: 75, title: 'The follow-up was decided already' },
  'follow-up-supply-too-large': { status: 413, exit: 65, title: 'The data supplied are larger than a follow-up answer may hold' },
  'follow-up-unknown': { status: 404, exit: 66, title: 'No such follow-up request was sent to that state' },

  // --- safeguards on received data (FD 2008/977 Arts. 3, 4, 8, 9, 11-14; Prüm Decision Arts. 14, 16(4), 26-28; src/safeguards/) ---
  'safeguards-invalid': { status: 400, exit: 65, title: 'The request about received or supplied data is not valid' },
  'safeguards-data-unknown': { status: 404, exit: 66, title: 'No such data were supplied to or received from that state' },
  'received-data-erased': { status: 410, exit: 66, title: 'The received data were erased' },
  'received-data-blocked': { status: 403, exit: 77, title: 'The received data are blocked: usable only for the purpose that prevented their erasure' },
  'received-data-purpose-refused': { status: 403, exit: 77, title: 'The received data may not be used for this purpose on this ground' },
  'received-data-case-restricted': { status: 403, exit: 77, title: 'The supplier allowed the data only in another case' },
  'received-data-consent-required': { status: 403, exit: 77, title: 'This use needs a consent on record' },
  'received-data-transfer-refused': { status: 403, exit: 77, title: 'The onward transfer is not allowed' },
  'consent-decided': { status: 409, exit: 75, title: 'The consent request was decided already' },

  // --- notices and diffusions (INTERPOL Constitution Art. 3, Rules on the Processing of Data; src/notices/) ---
  'notice-invalid': { status: 400, exit: 65, title: 'The notice or diffusion is not valid' },
  'notice-identifiers-incomplete': { status: 422, exit: 65, title: 'The subject is not identified well enough for this kind of notice' },
  'notice-attachment-too-large': { status: 413, exit: 65, title: 'An attachment is larger than a notice may carry' },
  'notice-unknown': { status: 404, exit: 66, title: 'No such notice or diffusion' },
  'notice-state-conflict': { status: 409, exit: 75, title: 'The notice is not in a state that allows this' },
  'notice-not-secretariat': { status: 403, exit: 77, title: 'Only the secretariat of the federation may do this' },
  'notice-criteria-not-met': { status: 422, exit: 65, title: 'The review criteria are not met; a justification is needed' },
  'notice-blocked': { status: 409, exit: 75, title: 'The notice cannot be published: the subject is a refugee recognised with respect to the requesting state' },
  'notice-held-for-review': { status: 403, exit: 77, title: 'The requesting state is under supervision: its requests are reviewed before anyone receives them' },
  'notice-deleted': { status: 410, exit: 66, title: 'The notice or diffusion was deleted' },
  'notice-rules-invalid': { status: 400, exit: 65, title: 'The review rules are not valid' },
  'notice-feed-invalid': { status: 400, exit: 65, title: 'The public notice feed is not valid' },
  'notice-data-request-invalid': { status: 400, exit: 65, title: 'The request about notice data is not valid' },

  // --- data subjects' rights and supervisors' orders (Prüm Decision Arts. 28, 31; FD 2008/977 Arts. 17, 18, 25; src/rights/) ---
  'subject-request-invalid': { status: 400, exit: 65, title: 'The data subject request or its decision is not valid' },
  'subject-request-unknown': { status: 404, exit: 66, title: 'No such data subject request' },
  'subject-request-decided': { status: 409, exit: 75, title: 'The data subject request was decided already' },
  'data-item-unknown': { status: 404, exit: 66, title: 'No such data item is held' },
  'data-blocked': { status: 403, exit: 77, title: 'The data are blocked: usable only for the purpose that prevented their erasure' },
  'block-unknown': { status: 404, exit: 66, title: 'No such block' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof catalogue;
