/**
 * A small DER (ITU-T X.690) writer and reader: just what the federation's certificates (RFC 5280
 * section 4) and revocation lists (RFC 5280 section 5) need. Certificates are parsed by Node's own
 * `crypto.X509Certificate` and checked by OpenSSL during the TLS handshake; this reader only serves
 * the revocation list, which Node does not parse.
 */

export type Der = Buffer;

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with the given tag byte. */
export function tlv(tag: number, value: Buffer): Der {
  return Buffer.concat([Buffer.from([tag]), encodeLength(value.length), value]);
}

export const sequence = (...items: Der[]): Der => tlv(0x30, Buffer.concat(items));
export const set = (...items: Der[]): Der => tlv(0x31, Buffer.concat(items));
export const octetString = (b: Buffer): Der => tlv(0x04, b);
export const nullValue = (): Der => Buffer.from([0x05, 0x00]);
export const utf8String = (s: string): Der => tlv(0x0c, Buffer.from(s, 'utf8'));
export const printableString = (s: string): Der => {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)) throw new Error(`not a PrintableString: ${JSON.stringify(s)}`);
  return tlv(0x13, Buffer.from(s, 'ascii'));
};
export const ia5String = (s: string): Der => {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(s)) throw new Error(`not an IA5String: ${JSON.stringify(s)}`);
  return tlv(0x16, Buffer.from(s, 'ascii'));
};
export const boolean = (v: boolean): Der => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);
/** [n] EXPLICIT: a constructed context tag around a complete encoding. */
export const explicit = (n: number, inner: Der): Der => tlv(0xa0 | n, inner);
/** [n] IMPLICIT on a primitive value (the bytes of the value, with the context tag). */
export const implicitPrimitive = (n: number, value: Buffer): Der => tlv(0x80 | n, value);

/** INTEGER from a non-negative bigint or from big-endian magnitude bytes. */
export function integer(v: bigint | number | Buffer): Der {
  let bytes: Buffer;
  if (Buffer.isBuffer(v)) {
    let start = 0;
    while (start < v.length - 1 && v[start] === 0) start++;
    bytes = v.subarray(start);
  } else {
    let n = BigInt(v);
    if (n < 0n) throw new Error('negative integers are not needed here');
    const out: number[] = [];
    do {
      out.unshift(Number(n & 0xffn));
      n >>= 8n;
    } while (n > 0n);
    bytes = Buffer.from(out);
  }
  // A positive INTEGER whose first bit is set needs a leading zero byte.
  if (bytes.length === 0 || (bytes[0]! & 0x80) !== 0) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

/** OBJECT IDENTIFIER from dotted text ("2.5.29.19"). */
export function oid(dotted: string): Der {
  const parts = dotted.split('.').map((p) => {
    if (!/^\d+$/.test(p)) throw new Error(`bad OID ${dotted}`);
    return BigInt(p);
  });
  if (parts.length < 2) throw new Error(`bad OID ${dotted}`);
  const arcs = [parts[0]! * 40n + parts[1]!, ...parts.slice(2)];
  const out: number[] = [];
  for (const arc of arcs) {
    const chunk: number[] = [];
    let v = arc;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** BIT STRING with whole bytes (signatures, keys). */
export const bitString = (bytes: Buffer, unusedBits = 0): Der => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));

/**
 * A named BIT STRING (KeyUsage) from the numbers of its set bits, bit 0 being the most significant bit
 * of the first byte; trailing zero bits are dropped as DER requires (X.690 11.2.2).
 */
export function namedBits(bits: readonly number[]): Der {
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[Math.floor(b / 8)]! |= 0x80 >> (b % 8);
  return bitString(bytes, 7 - (max % 8));
}

/** UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 section 4.1.2.5), to the second, in UTC. */
export function time(d: Date): Der {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii'));
  return tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

// --- reading -------------------------------------------------------------------------------------

export interface Node {
  readonly tag: number;
  /** The whole encoding (tag, length, value). */
  readonly raw: Buffer;
  /** The value bytes. */
  readonly value: Buffer;
}

/** Reads the one TLV at `offset`; throws on anything that is not well-formed DER length encoding. */
export function read(buf: Buffer, offset = 0): Node {
  if (offset + 2 > buf.length) throw new Error('DER: truncated');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not used here');
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('DER: bad length');
    if (pos + n > buf.length) throw new Error('DER: truncated');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    if (len < 0x80 || buf[pos] === 0) throw new Error('DER: non-minimal length');
    pos += n;
  }
  if (pos + len > buf.length) throw new Error('DER: truncated');
  return { tag, raw: buf.subarray(offset, pos + len), value: buf.subarray(pos, pos + len) };
}

/** The children of a constructed node. */
export function children(node: Node): Node[] {
  if ((node.tag & 0x20) === 0) throw new Error('DER: not a constructed value');
  const out: Node[] = [];
  let offset = 0;
  while (offset < node.value.length) {
    const child = read(node.value, offset);
    out.push(child);
    offset += child.raw.length;
  }
  return out;
}

/** Reads a value that must be exactly one TLV filling the buffer. */
export function readOne(buf: Buffer): Node {
  const node = read(buf, 0);
  if (node.raw.length !== buf.length) throw new Error('DER: trailing bytes');
  return node;
}

export function readTime(node: Node): Date {
  const s = node.value.toString('ascii');
  let m: RegExpExecArray | null;
  if (node.tag === 0x17 && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  if (node.tag === 0x18 && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  throw new Error('DER: not a UTCTime or GeneralizedTime in UTC');
}

/** An INTEGER as upper-case hex without leading zero bytes (the form Node gives certificate serials). */
export function readIntegerHex(node: Node): string {
  if (node.tag !== 0x02) throw new Error('DER: not an INTEGER');
  let start = 0;
  while (start < node.value.length - 1 && node.value[start] === 0) start++;
  return node.value.subarray(start).toString('hex').toUpperCase();
}

export function readOid(node: Node): string {
  if (node.tag !== 0x06 || node.value.length === 0) throw new Error('DER: not an OBJECT IDENTIFIER');
  const arcs: bigint[] = [];
  let v = 0n;
  for (const byte of node.value) {
    v = (v << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

// --- PEM -----------------------------------------------------------------------------------------

export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export function fromPem(label: string, pem: string): Buffer {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`);
  const m = re.exec(pem);
  if (!m) throw new Error(`no PEM block "${label}"`);
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}
