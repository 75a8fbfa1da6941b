/**
 * The PKI on disk. The federation CA keeps its key, certificate, revocation list and the register of
 * what it issued in one folder (`openprum pki init --out DIR`); a node keeps its certificate, its key,
 * the CA certificate and the current revocation list in `<data-dir>/federation/`.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Type, { type Static } from 'typebox';
import { OpenPrumError } from '../errors/index.ts';
import { validate } from '../util/validate.ts';
import {
  buildCrl,
  certificatePem,
  createCertificateAuthority,
  crlPem,
  FederationTrust,
  fingerprintOf,
  issueNodeCertificate,
  keyMatches,
  PkiError,
  privateKeyPem,
  readPrivateKey,
  type CertificateAuthority,
  type NodeIdentity,
  type RevocationReason,
} from './pki.ts';

export const CA_FILES = { key: 'ca.key.pem', cert: 'ca.crt.pem', crl: 'ca.crl.pem', register: 'ca.json' } as const;
export const NODE_FILES = { key: 'node.key.pem', cert: 'node.crt.pem', ca: 'ca.crt.pem', crl: 'ca.crl.pem' } as const;
export const FEDERATION_DIR = 'federation';

const Register = Type.Object(
  {
    federation: Type.String(),
    createdAt: Type.String(),
    crlNumber: Type.Integer({ minimum: 1 }),
    crlDays: Type.Integer({ minimum: 1 }),
    issued: Type.Array(
      Type.Object(
        {
          serial: Type.String({ pattern: '^[0-9A-F]+$' }),
          country: Type.String({ pattern: '^[A-Z]{2}$' }),
          fingerprint: Type.String(),
          notBefore: Type.String(),
          notAfter: Type.String(),
          revokedAt: Type.Optional(Type.String()),
          reason: Type.Optional(Type.Union([Type.Literal('unspecified'), Type.Literal('keyCompromise'), Type.Literal('affiliationChanged'), Type.Literal('superseded'), Type.Literal('cessationOfOperation')])),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
type Register = Static<typeof Register>;

function pkiError(e: unknown): never {
  if (e instanceof PkiError) throw new OpenPrumError('pki-invalid', e.message);
  throw e;
}

/** Writes a file atomically (a reader never sees half a certificate or list). */
function writeAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, file);
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new OpenPrumError('file-unreadable', `Cannot read ${what} at ${file}`);
  }
}

export interface CaSummary {
  readonly dir: string;
  readonly federation: string;
  readonly certificate: string;
  readonly crl: string;
  readonly fingerprint: string;
  readonly notAfter: string;
}

/** `openprum pki init`: a new federation CA in an empty folder. */
export function initCa(dirArg: string, options: { federation: string; days?: number; crlDays?: number }): CaSummary {
  const dir = resolve(dirArg);
  if (existsSync(join(dir, CA_FILES.key))) throw new OpenPrumError('pki-exists', `${dir} holds a certificate authority already; use another --out`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let ca: CertificateAuthority;
  try {
    ca = createCertificateAuthority({ federation: options.federation, ...(options.days ? { days: options.days } : {}) });
  } catch (e) {
    pkiError(e);
  }
  writeFileSync(join(dir, CA_FILES.key), privateKeyPem(ca.key), { mode: 0o600, flag: 'wx' });
  writeAtomic(join(dir, CA_FILES.cert), certificatePem(ca.cert), 0o644);
  const register: Register = { federation: options.federation.trim(), createdAt: new Date().toISOString(), crlNumber: 1, crlDays: options.crlDays ?? 30, issued: [] };
  writeRegister(dir, register);
  publish(dir, ca, register);
  return summary(dir, ca);
}

function summary(dir: string, ca: CertificateAuthority): CaSummary {
  return {
    dir,
    federation: ca.cert.subject.match(/^O=(.*)$/m)?.[1] ?? '',
    certificate: join(dir, CA_FILES.cert),
    crl: join(dir, CA_FILES.crl),
    fingerprint: fingerprintOf(ca.cert),
    notAfter: new Date(ca.cert.validTo).toISOString(),
  };
}

function writeRegister(dir: string, register: Register): void {
  writeAtomic(join(dir, CA_FILES.register), `${JSON.stringify(register, null, 2)}\n`, 0o600);
}

export function loadCa(dirArg: string): { dir: string; ca: CertificateAuthority; register: Register } {
  const dir = resolve(dirArg);
  if (!existsSync(join(dir, CA_FILES.key))) throw new OpenPrumError('file-unreadable', `${dir} holds no certificate authority (${CA_FILES.key}); create one with openprum pki init --out ${dir}`);
  try {
    const key = readPrivateKey(readText(join(dir, CA_FILES.key), 'the CA key'), 'The CA key');
    const cert = new X509Certificate(readText(join(dir, CA_FILES.cert), 'the CA certificate'));
    if (!keyMatches(key, cert)) throw new PkiError('The CA key does not belong to the CA certificate');
    let json: unknown;
    try {
      json = JSON.parse(readText(join(dir, CA_FILES.register), 'the CA register'));
    } catch (e) {
      if (e instanceof OpenPrumError) throw e;
      throw new PkiError(`${CA_FILES.register} is not valid JSON`);
    }
    const register = validate(Register, json, 'pki-invalid', join(dir, CA_FILES.register));
    return { dir, ca: { key, cert }, register };
  } catch (e) {
    pkiError(e);
  }
}

/** Signs and writes a fresh revocation list (a new number, a new nextUpdate). */
function publish(dir: string, ca: CertificateAuthority, register: Register): string {
  const revoked = register.issued
    .filter((i) => i.revokedAt)
    .map((i) => ({ serial: i.serial, revokedAt: new Date(i.revokedAt!), reason: i.reason }));
  const pem = crlPem(buildCrl(ca, { number: register.crlNumber, revoked, days: register.crlDays }));
  writeAtomic(join(dir, CA_FILES.crl), pem, 0o644);
  return pem;
}

export interface IssuedNode {
  readonly country: string;
  readonly serial: string;
  readonly fingerprint: string;
  readonly notAfter: string;
  readonly dir: string;
  readonly files: Record<keyof typeof NODE_FILES, string>;
}

/**
 * `openprum pki issue`: a key pair and certificate for one state's node, written with the CA
 * certificate and the current revocation list into `outDir` (a node's `<data-dir>/federation`).
 */
export function issueToDir(caDir: string, options: { country: string; outDir: string; days?: number; hosts?: readonly string[]; force?: boolean }): IssuedNode {
  const { dir, ca, register } = loadCa(caDir);
  const out = resolve(options.outDir);
  if (!options.force && existsSync(join(out, NODE_FILES.key))) {
    throw new OpenPrumError('pki-exists', `${out} holds a node key already; revoke the old certificate first, then issue with --force to replace it`);
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let cert: X509Certificate;
  try {
    cert = issueNodeCertificate(ca, { country: options.country, publicKey, ...(options.days ? { days: options.days } : {}), ...(options.hosts ? { hosts: options.hosts } : {}) });
  } catch (e) {
    pkiError(e);
  }
  const serial = cert.serialNumber.toUpperCase();
  register.issued.push({
    serial,
    country: options.country,
    fingerprint: fingerprintOf(cert),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
  });
  writeRegister(dir, register);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  writeAtomic(join(out, NODE_FILES.key), privateKeyPem(privateKey), 0o600);
  writeAtomic(join(out, NODE_FILES.cert), certificatePem(cert), 0o644);
  writeAtomic(join(out, NODE_FILES.ca), certificatePem(ca.cert), 0o644);
  writeAtomic(join(out, NODE_FILES.crl), readText(join(dir, CA_FILES.crl), 'the revocation list'), 0o644);
  return {
    country: options.country,
    serial,
    fingerprint: fingerprintOf(cert),
    notAfter: new Date(cert.validTo).toISOString(),
    dir: out,
    files: {
      key: join(out, NODE_FILES.key),
      cert: join(out, NODE_FILES.cert),
      ca: join(out, NODE_FILES.ca),
      crl: join(out, NODE_FILES.crl),
    },
  };
}

/** `openprum pki revoke`: marks a certificate revoked and publishes the new list. */
export function revoke(caDir: string, serialArg: string, reason: RevocationReason = 'unspecified'): { serial: string; country: string; crl: string } {
  const { dir, ca, register } = loadCa(caDir);
  const serial = serialArg.replace(/:/g, '').toUpperCase();
  const entry = register.issued.find((i) => i.serial === serial);
  if (!entry) throw new OpenPrumError('not-found', `This CA issued no certificate with serial ${serial}; openprum pki list --ca ${dir} shows them`);
  if (!entry.revokedAt) {
    entry.revokedAt = new Date().toISOString();
    entry.reason = reason;
    register.crlNumber += 1;
    writeRegister(dir, register);
    publish(dir, ca, register);
  }
  return { serial, country: entry.country, crl: join(dir, CA_FILES.crl) };
}

/** `openprum pki crl`: publishes a fresh list (before the current one's nextUpdate passes). */
export function republishCrl(caDir: string): { crl: string; number: number } {
  const { dir, ca, register } = loadCa(caDir);
  register.crlNumber += 1;
  writeRegister(dir, register);
  publish(dir, ca, register);
  return { crl: join(dir, CA_FILES.crl), number: register.crlNumber };
}

export function listIssued(caDir: string): Register {
  return loadCa(caDir).register;
}

/** A node's federation material, loaded and checked. */
export interface NodeCredentials {
  readonly dir: string;
  readonly keyPem: string;
  readonly certPem: string;
  readonly cert: X509Certificate;
  readonly key: ReturnType<typeof readPrivateKey>;
  readonly trust: FederationTrust;
  readonly identity: NodeIdentity;
}

export function federationDir(dataDir: string): string {
  return join(dataDir, FEDERATION_DIR);
}

export function hasCredentials(dir: string): boolean {
  return existsSync(join(dir, NODE_FILES.cert)) && existsSync(join(dir, NODE_FILES.key));
}

/**
 * Loads a node's certificate, key, CA and revocation list, and checks that they fit together and that
 * the certificate speaks for `country`: a node cannot speak for another state.
 */
export function loadCredentials(dirArg: string, country: string): NodeCredentials {
  const dir = resolve(dirArg);
  if (!hasCredentials(dir)) {
    throw new OpenPrumError('federation-not-configured', `${dir} holds no node certificate; issue one with openprum pki issue --ca CA_DIR --country ${country} --out ${dir}`);
  }
  try {
    const keyPem = readText(join(dir, NODE_FILES.key), 'the node key');
    const certPem = readText(join(dir, NODE_FILES.cert), 'the node certificate');
    const trust = new FederationTrust(readText(join(dir, NODE_FILES.ca), 'the CA certificate'), readText(join(dir, NODE_FILES.crl), 'the revocation list'));
    const key = readPrivateKey(keyPem, 'The node key');
    const cert = new X509Certificate(certPem);
    if (!keyMatches(key, cert)) throw new PkiError('The node key does not belong to the node certificate');
    const identity = trust.verifyNodeCertificate(cert);
    if (identity.country !== country) throw new PkiError(`The node certificate speaks for ${identity.country}, but this node is ${country}`);
    return { dir, keyPem, certPem, cert, key, trust, identity };
  } catch (e) {
    pkiError(e);
  }
}

/** Reads the node's current revocation list file and checks it against the CA (for a reload). */
export function readTrust(dir: string): FederationTrust {
  try {
    return new FederationTrust(readText(join(dir, NODE_FILES.ca), 'the CA certificate'), readText(join(dir, NODE_FILES.crl), 'the revocation list'));
  } catch (e) {
    pkiError(e);
  }
}

/** `openprum pki install-crl`: installs a newer revocation list of the node's CA. */
export function installCrl(dir: string, crlFile: string): { number: number | undefined; revoked: number; nextUpdate: string } {
  const current = readTrust(dir);
  const pem = readText(resolve(crlFile), 'the revocation list');
  let next: FederationTrust;
  try {
    next = new FederationTrust(current.caPem, pem);
  } catch (e) {
    pkiError(e);
  }
  if (current.crl.number !== undefined && next.crl.number !== undefined && next.crl.number < current.crl.number) {
    throw new OpenPrumError('pki-invalid', `That list (number ${next.crl.number}) is older than the installed one (number ${current.crl.number})`);
  }
  writeAtomic(join(dir, NODE_FILES.crl), pem, 0o644);
  return { number: next.crl.number, revoked: next.crl.revoked.size, nextUpdate: next.crl.nextUpdate.toISOString() };
}

