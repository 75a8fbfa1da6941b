/**
 * Binary ridge map → one-pixel-wide ridge skeleton → raw minutiae (ridge endings and
 * bifurcations), plus tracing along the skeleton, which the post-processing and the direction
 * estimate use.
 *
 * Neighbour numbering used throughout (bit k of an 8-bit code):
 *   7 0 1
 *   6 . 2
 *   5 4 3
 */

const DX = [0, 1, 1, 1, 0, -1, -1, -1] as const;
const DY = [-1, -1, 0, 1, 1, 1, 0, -1] as const;

/** Neighbourhood code of pixel i (which of its 8 neighbours are set). */
export function code(img: Uint8Array, w: number, i: number): number {
  return (
    (img[i - w]! ? 1 : 0) |
    (img[i - w + 1]! ? 2 : 0) |
    (img[i + 1]! ? 4 : 0) |
    (img[i + w + 1]! ? 8 : 0) |
    (img[i + w]! ? 16 : 0) |
    (img[i + w - 1]! ? 32 : 0) |
    (img[i - 1]! ? 64 : 0) |
    (img[i - w - 1]! ? 128 : 0)
  );
}

/**
 * Number of 8-connected groups among the set neighbours of a pixel: two set neighbours belong to
 * the same group if they touch (ring neighbours, or two edge-neighbours meeting at a corner).
 */
function groupsOf(c: number): number {
  const set = (k: number): boolean => ((c >> (k & 7)) & 1) === 1;
  const seen = new Array<boolean>(8).fill(false);
  let groups = 0;
  for (let k = 0; k < 8; k++) {
    if (!set(k) || seen[k]) continue;
    groups++;
    const stack = [k];
    seen[k] = true;
    while (stack.length > 0) {
      const a = stack.pop()!;
      const adj = [a + 1, a + 7];
      // Edge neighbours (even k) also touch the next edge neighbours diagonally (0 and 2 meet at 1's corner).
      if (a % 2 === 0) adj.push(a + 2, a + 6);
      for (const b0 of adj) {
        const b = b0 & 7;
        if (set(b) && !seen[b]) {
          seen[b] = true;
          stack.push(b);
        }
      }
    }
  }
  return groups;
}

/** Lookup tables over the 256 neighbourhood codes. */
const GROUPS = new Uint8Array(256);
const COUNT = new Uint8Array(256);
/** Runs of set pixels around the ring (the crossing number): 3 at a junction even when two arms touch diagonally. */
const RUNS = new Uint8Array(256);
/** Zhang–Suen deletability for the two sub-iterations. */
const ZS1 = new Uint8Array(256);
const ZS2 = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  GROUPS[c] = groupsOf(c);
  let n = 0;
  for (let k = 0; k < 8; k++) n += (c >> k) & 1;
  COUNT[c] = n;
  // Transitions 0→1 around the ring (the "A" of Zhang–Suen).
  let a = 0;
  for (let k = 0; k < 8; k++) if (((c >> k) & 1) === 0 && ((c >> ((k + 1) & 7)) & 1) === 1) a++;
  RUNS[c] = c === 255 ? 1 : a;
  const p = (k: number): number => (c >> k) & 1;
  const base = n >= 2 && n <= 6 && a === 1;
  ZS1[c] = base && p(0) * p(2) * p(4) === 0 && p(2) * p(4) * p(6) === 0 ? 1 : 0;
  ZS2[c] = base && p(0) * p(2) * p(6) === 0 && p(0) * p(4) * p(6) === 0 ? 1 : 0;
}

/**
 * Thins a binary image in place (1 = ridge) to an 8-connected skeleton of one pixel width. The
 * one-pixel frame of the image must be 0. Zhang–Suen, then removal of the redundant corner
 * pixels it leaves on diagonal staircases (they would read as false bifurcations).
 */
export function thin(img: Uint8Array, w: number, h: number): void {
  const del: number[] = [];
  let changed = true;
  let candidates: number[] = [];
  for (let y = 1; y < h - 1; y++) for (let x = 1; x < w - 1; x++) if (img[y * w + x]) candidates.push(y * w + x);
  while (changed) {
    changed = false;
    for (const table of [ZS1, ZS2]) {
      del.length = 0;
      for (const i of candidates) if (img[i] && table[code(img, w, i)]) del.push(i);
      for (const i of del) img[i] = 0;
      if (del.length > 0) changed = true;
    }
    candidates = candidates.filter((i) => img[i] === 1);
  }
  for (const i of candidates) {
    if (!img[i]) continue;
    const c = code(img, w, i);
    // A pixel with two set edge-neighbours meeting at a corner is redundant when deleting it keeps
    // its neighbours in one group and it is not the end of a line.
    const corner = ((c & 1) && (c & 4)) || ((c & 4) && (c & 16)) || ((c & 16) && (c & 64)) || ((c & 64) && (c & 1));
    if (corner && GROUPS[c] === 1 && COUNT[c]! >= 2) img[i] = 0;
  }
}

export const ENDING = 1;
export const BIFURCATION = 2;

/**
 * Skeleton pixels that are minutiae: ENDING where a pixel has exactly one neighbour group of at most
 * two touching pixels, BIFURCATION where three or more runs of skeleton pixels leave it (the
 * crossing number; a junction whose arms touch diagonally still counts, which a group count
 * would miss).
 */
export function classify(img: Uint8Array, w: number, i: number): number {
  const c = code(img, w, i);
  if (GROUPS[c] === 1 && COUNT[c]! <= 2) return ENDING;
  if (RUNS[c]! >= 3) return BIFURCATION;
  return 0;
}

/** The first pixels of the arms leaving a junction: one per run around the ring (edge neighbours preferred). */
export function arms(img: Uint8Array, w: number, i: number): number[] {
  const c = code(img, w, i);
  const set = (k: number): boolean => ((c >> (k & 7)) & 1) === 1;
  // Start the walk right after an unset ring position so runs are not split at the wrap.
  let start = 0;
  while (start < 8 && set(start)) start++;
  const out: number[] = [];
  let k = 0;
  while (k < 8) {
    const at = (start + k) & 7;
    if (!set(at)) {
      k++;
      continue;
    }
    let pick = at;
    while (k < 8 && set((start + k) & 7)) {
      if (((start + k) & 7) % 2 === 0 && pick % 2 === 1) pick = (start + k) & 7;
      k++;
    }
    out.push(i + DY[pick]! * w + DX[pick]!);
  }
  return out;
}

export interface TraceResult {
  /** Pixels walked. */
  steps: number;
  /** Last pixel reached. */
  end: number;
  /** Why the walk stopped: 0 length reached, 1 hit a marked pixel, 2 the ridge ended or branched. */
  reason: 0 | 1 | 2;
}

/**
 * Walks along the skeleton from `start` (excluded) through `first`, never stepping onto pixels in
 * `blocked`. Stops after `maxSteps`, on a pixel whose `stop` entry is non-zero, or where the ridge
 * ends or branches. `visit`/`stamp` implement a cheap per-walk visited set.
 */
export function trace(
  img: Uint8Array,
  w: number,
  start: number,
  first: number,
  maxSteps: number,
  stop: Int32Array,
  visit: Uint32Array,
  stamp: number,
  blocked: readonly number[] = [],
): TraceResult {
  visit[start] = stamp;
  for (const b of blocked) visit[b] = stamp;
  let cur = first;
  let steps = 1;
  while (true) {
    visit[cur] = stamp;
    if (stop[cur] !== 0) return { steps, end: cur, reason: 1 };
    if (steps >= maxSteps) return { steps, end: cur, reason: 0 };
    // Next pixel: an unvisited skeleton neighbour, edge neighbours first (they are closer).
    let next = -1;
    let options = 0;
    for (let k = 0; k < 8; k += 2) {
      const j = cur + DY[k]! * w + DX[k]!;
      if (img[j] && visit[j] !== stamp) {
        if (next < 0) next = j;
        options++;
      }
    }
    if (next < 0) {
      for (let k = 1; k < 8; k += 2) {
        const j = cur + DY[k]! * w + DX[k]!;
        if (img[j] && visit[j] !== stamp) {
          if (next < 0) next = j;
          options++;
        }
      }
    }
    if (next < 0 || options > 1) return { steps, end: cur, reason: 2 };
    // Mark the other neighbours of the current pixel as seen, so the walk cannot cut back.
    for (let k = 0; k < 8; k++) {
      const j = cur + DY[k]! * w + DX[k]!;
      if (img[j]) visit[j] = stamp;
    }
    visit[next] = 0;
    cur = next;
    steps++;
  }
}

/** The skeleton neighbours of pixel i, one per neighbour group (edge neighbours preferred). */
export function branches(img: Uint8Array, w: number, i: number): number[] {
  const c = code(img, w, i);
  const out: number[] = [];
  const taken = new Array<boolean>(8).fill(false);
  const set = (k: number): boolean => ((c >> (k & 7)) & 1) === 1;
  for (const pass of [0, 1]) {
    for (let k = pass; k < 8; k += 2) {
      if (!set(k) || taken[k]) continue;
      // Take k and everything in its group.
      const stack = [k];
      taken[k] = true;
      while (stack.length > 0) {
        const a = stack.pop()!;
        const adj = [a + 1, a + 7];
        if (a % 2 === 0) adj.push(a + 2, a + 6);
        for (const b0 of adj) {
          const b = b0 & 7;
          if (set(b) && !taken[b]) {
            taken[b] = true;
            stack.push(b);
          }
        }
      }
      out.push(i + DY[k]! * w + DX[k]!);
    }
  }
  return out;
}
