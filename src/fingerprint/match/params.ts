/**
 * The one parameter set of the matcher. There is deliberately no per-sensor or per-database
 * variant: coordinates are normalised to 500 ppi before anything else, so distances below are in
 * 500-ppi pixels (≈ 0.05 mm) whatever resolution the template was captured at.
 */
export const MATCH_PARAMS = {
  /** Templates with more minutiae keep the highest-quality ones (ISO allows 255; real fingers rarely need more). */
  maxMinutiae: 128,
  /** Fewer minutiae than this cannot give a meaningful score; prepare() refuses them. */
  minMinutiae: 5,
  /** Each minutia is joined to this many nearest neighbours (the union of both directions is kept). */
  neighbours: 8,
  /** Neighbours farther than this are not joined: long edges suffer most from skin distortion. */
  maxEdgeLength: 220,
  /** Minutiae closer than this are not joined: their relative direction is too noisy to use. */
  minEdgeLength: 6,
  /**
   * Edge lengths are compared as ln(1 + d/lengthKnee) so the tolerance grows with length the way
   * elastic skin distortion does (about ±lengthTolerance × (d + lengthKnee) pixels).
   */
  lengthKnee: 30,
  lengthTolerance: 0.1,
  /** Tolerance on the two edge-relative minutia directions (radians, ≈ 17°). */
  angleTolerance: 0.3,
  /** A grown pair must not rotate further than this from its root pair (radians). */
  rotationTolerance: Math.PI / 5,
  /** How many of the best-voted root pairs are grown into full pairings. */
  roots: 8,
} as const;

export type MatchParams = { -readonly [K in keyof typeof MATCH_PARAMS]: (typeof MATCH_PARAMS)[K] };
