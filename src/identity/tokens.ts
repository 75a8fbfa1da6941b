/**
 * API tokens. A token is `opr_<id>_<secret>`: the id finds the row, the 256-bit secret proves
 * possession. Only an scrypt hash of the whole token is stored, so a copy of the database does not
 * give anyone a usable token.
 *
 * scrypt costs tens of milliseconds on purpose; to answer thousands of searches per second a node
 * remembers, per process, the SHA-256 of tokens it has already verified. The cache only skips the
 * hash: expiry and revocation are read from the database on every request, so a revoked token stops
 * working at once.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export interface ParsedToken {
  readonly id: number;
  readonly token: string;
}

const TOKEN_PATTERN = /^opr_([1-9][0-9]{0,15})_([A-Za-z0-9_-]{43})$/;

/** Splits a presented token; undefined when it does not have the shape of one of ours. */
export function parseToken(token: string): ParsedToken | undefined {
  const m = TOKEN_PATTERN.exec(token);
  if (!m) return undefined;
  return { id: Number(m[1]), token };
}

export function newTokenSecret(id: number): string {
  return `opr_${id}_${randomBytes(32).toString('base64url')}`;
}

export async function hashToken(token: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(token, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyTokenHash(token: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, 'base64');
  const key = await scrypt(token, Buffer.from(saltB64, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Remembers tokens this process has verified, by SHA-256, bounded in size. */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, string>();

  constructor(private readonly max = 10_000) {}

  private static digest(token: string): string {
    return createHash('sha256').update(token).digest('hex');
  }

  /** True when this exact token was verified against this exact stored hash before. */
  has(token: string, storedHash: string): boolean {
    return this.entries.get(VerifiedTokenCache.digest(token)) === storedHash;
  }

  add(token: string, storedHash: string): void {
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(VerifiedTokenCache.digest(token), storedHash);
  }
}
