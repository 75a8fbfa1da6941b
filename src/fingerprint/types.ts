/**
 * Shared shapes of the fingerprint capability: the grayscale image every decoder produces and the
 * minutiae template every extractor, parser and matcher speaks. Formats convert to and from these.
 */

/** An 8-bit grayscale image, row-major, 0 = black (ridge), 255 = white (valley/background). */
export interface GrayImage {
  readonly width: number;
  readonly height: number;
  /** Scanning resolution in pixels per inch (500 for most live scans; 1000 for latents). */
  readonly ppi: number;
  /** width × height bytes, row after row from the top-left corner. */
  readonly pixels: Uint8Array;
}

/** Minutia types as in ISO/IEC 19794-2:2005 §7.4 (00 other, 01 ridge ending, 10 bifurcation). */
export type MinutiaType = 'ending' | 'bifurcation' | 'other';

export interface Minutia {
  /** Column in pixels, origin top-left, at the template's resolution. */
  readonly x: number;
  /** Row in pixels, origin top-left (y grows downwards). */
  readonly y: number;
  /**
   * Direction in radians, [0, 2π), counter-clockwise from the positive x axis, as ISO/IEC 19794-2
   * defines it (for a ridge ending: the direction the ridge runs away from the ending).
   */
  readonly angle: number;
  readonly type: MinutiaType;
  /** 0 (unknown/lowest) to 100 (highest), as in ISO/IEC 19794-2. */
  readonly quality: number;
}

/** Finger positions, ANSI/NIST-ITL Table 8 / ISO/IEC 19794-2 (0 unknown, 1 right thumb … 10 left little). */
export type FingerPosition = number;

export interface MinutiaeTemplate {
  /** Image size in pixels the coordinates refer to. */
  readonly width: number;
  readonly height: number;
  /** Resolution in pixels per inch (ISO/ANSI store pixels per cm; convert on read/write). */
  readonly ppi: number;
  readonly position: FingerPosition;
  /** Overall finger quality, 0–100. */
  readonly quality: number;
  readonly minutiae: readonly Minutia[];
}
