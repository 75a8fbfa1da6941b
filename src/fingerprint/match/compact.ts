/**
 * The compact stored form of a prepared template: what a gallery keeps per finger (~5 bytes per
 * minutia). Edges, buckets and hull are rebuilt on demand: they are ~10× larger and only needed
 * for the few entries that survive the pre-filter.
 *
 * Layout: [n: u8] then n × [x: u16 LE, y: u16 LE (quarter pixels at 500 ppi), angle: u8 (1/256 turns)].
 */
import { MATCH_PARAMS, type MatchParams } from './params.ts';
import { build, type NormalisedMinutiae } from './prepare.ts';

export function compactSize(n: number): number {
  return 1 + 5 * n;
}

/** Writes the compact form of `t` at `offset` in `out`; returns the bytes written. */
export function writeCompact(t: NormalisedMinutiae, out: Uint8Array, offset: number): number {
  const n = t.x.length;
  out[offset] = n;
  let o = offset + 1;
  for (let i = 0; i < n; i++) {
    const x = Math.max(0, Math.min(65535, Math.round(t.x[i]! * 4)));
    const y = Math.max(0, Math.min(65535, Math.round(t.y[i]! * 4)));
    out[o] = x & 255;
    out[o + 1] = x >> 8;
    out[o + 2] = y & 255;
    out[o + 3] = y >> 8;
    out[o + 4] = t.angle[i]!;
    o += 5;
  }
  return o - offset;
}

/** Rebuilds the prepared form from its compact bytes. */
export function readCompact(bytes: Uint8Array, offset: number, params: MatchParams = MATCH_PARAMS): ReturnType<typeof build> {
  const n = bytes[offset]!;
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  const angle = new Uint8Array(n);
  let o = offset + 1;
  for (let i = 0; i < n; i++) {
    x[i] = (bytes[o]! | (bytes[o + 1]! << 8)) / 4;
    y[i] = (bytes[o + 2]! | (bytes[o + 3]! << 8)) / 4;
    angle[i] = bytes[o + 4]!;
    o += 5;
  }
  return build(x, y, angle, params);
}
