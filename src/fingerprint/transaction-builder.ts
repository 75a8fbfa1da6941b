/**
 * Writes small ANSI/NIST-ITL transactions (traditional encoding) of finger images or minutiae: a
 * Type-1 record with the transaction control number as the reference, an optional Type-2, and per
 * finger a Type-14 (uncompressed 8-bit image, or Type-13 for a latent) or a Type-9 record with the
 * INCITS 378 minutiae block. For tests, demos and examples; real files come from an AFIS.
 */
import { joinSubfields, writeAnsiNistTransaction, type AnsiNistField, type AnsiNistRecord } from './formats/index.ts';
import type { GrayImage, MinutiaeTemplate } from './types.ts';

export type BuiltFinger =
  | { readonly position: number; readonly image: GrayImage; readonly latent?: boolean }
  | { readonly position: number; readonly template: MinutiaeTemplate };

export interface TransactionSpec {
  /** 1.009 TCN: the reference number the import uses. */
  readonly tcn: string;
  /** 1.004 TOT (default CPS for a ten-print, MPS for a latent). */
  readonly tot?: string;
  /** 1.008 ORI (default NL0000000). */
  readonly ori?: string;
  /** Type-2 fields (number → value), e.g. { 18: 'SMITH,TOM' } to test the refusal of names. */
  readonly type2?: Readonly<Record<number, string>>;
  readonly fingers: readonly BuiltFinger[];
}

const f = (field: number, value: string): AnsiNistField => ({ field, value });
const TWO_DEGREES = Math.PI / 90;

export function buildTransaction(spec: TransactionSpec): Buffer {
  const records: AnsiNistRecord[] = [];
  const latent = spec.fingers.some((x) => 'image' in x && x.latent === true);
  records.push({
    kind: 'tagged',
    type: 1,
    fields: [
      f(1, '0'),
      f(2, '0400'),
      f(3, joinSubfields([['1', '0']])),
      f(4, spec.tot ?? (latent ? 'MPS' : 'CPS')),
      f(5, new Date().toISOString().slice(0, 10).replace(/-/g, '')),
      f(7, spec.ori ?? 'NL0000000'),
      f(8, spec.ori ?? 'NL0000000'),
      f(9, spec.tcn),
      f(11, '19.69'),
      f(12, '19.69'),
    ],
  });
  let idc = 0;
  if (spec.type2) {
    records.push({ kind: 'tagged', type: 2, fields: [f(1, '0'), f(2, String(idc++).padStart(2, '0')), ...Object.entries(spec.type2).map(([k, v]) => f(Number(k), v))] });
  }
  for (const finger of spec.fingers) {
    const id = String(idc++).padStart(2, '0');
    if ('image' in finger) {
      const { image } = finger;
      const type = finger.latent ? 13 : 14;
      records.push({
        kind: 'tagged',
        type,
        fields: [
          f(1, '0'),
          f(2, id),
          f(3, finger.latent ? '4' : '1'),
          f(4, spec.ori ?? 'NL0000000'),
          f(5, new Date().toISOString().slice(0, 10).replace(/-/g, '')),
          f(6, String(image.width)),
          f(7, String(image.height)),
          f(8, '1'),
          f(9, String(image.ppi)),
          f(10, String(image.ppi)),
          f(11, 'NONE'),
          f(12, '8'),
          f(13, String(finger.position)),
          { field: 999, data: image.pixels },
        ],
      });
    } else {
      const t = finger.template;
      records.push({
        kind: 'tagged',
        type: 9,
        fields: [
          f(1, '0'),
          f(2, id),
          f(3, '1'),
          f(4, 'U'),
          f(126, joinSubfields([['27', '0', '0']])),
          f(128, String(t.width)),
          f(129, String(t.height)),
          f(130, '1'),
          f(131, String(t.ppi)),
          f(134, String(finger.position)),
          f(135, String(Math.round(t.quality))),
          f(136, String(t.minutiae.length)),
          f(
            137,
            joinSubfields(
              t.minutiae.map((m, i) => [
                String(i + 1),
                String(Math.round(m.x)),
                String(Math.round(m.y)),
                String(Math.round(m.angle / TWO_DEGREES) % 180),
                m.type === 'ending' ? '1' : m.type === 'bifurcation' ? '2' : '0',
                String(Math.round(m.quality)),
              ]),
            ),
          ),
        ],
      });
    }
  }
  return writeAnsiNistTransaction({ records });
}
