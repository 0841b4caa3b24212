/**
 * Where a stream's numbering stands, so that another packaging of the same stream (a later stream of
 * the name on this node, or the same stream continued on another node of the cluster) goes on from
 * there: media sequence, discontinuity sequence, timeline and target duration only move forward.
 */
export interface Continuity {
  /** Number of the next segment (the media sequence number it will have). */
  nextNumber: number;
  /** Discontinuity count of the last segment listed; the next packaging starts at one more. */
  cc: number;
  /** End of the last segment on the stream's timeline (90 kHz): the next timeline starts after it. */
  nextPts?: number;
  /**
   * TARGETDURATION of the playlists so far: a viewer that plays on through a republish or a move to
   * another node reads the same playlist URL, whose target must not change (RFC 8216 6.2.1).
   */
  targetDuration?: number;
  /**
   * Each rendition's live window as listed (the stream's last segments): the node continuing the
   * stream lists them first, so its playlists overlap the ones players already have (their files
   * stay on the node that wrote them).
   */
  renditions?: Record<string, ListedSegment[]>;
}

/** A segment as a playlist lists it. */
export interface ListedSegment {
  uri: string;
  number: number;
  duration: number;
  cc: number;
  gap?: boolean;
}

/**
 * Where continuity is saved before a segment is listed (the cluster's registry; nothing on a single
 * node). Provided under CONTINUITY_STORE by whoever knows who owns a stream; packaging knows nothing of
 * the cluster.
 */
export interface ContinuityStore {
  /**
   * Saves where `streamId` stands once a segment is written, before it is listed. `false`: this node
   * no longer owns the stream (another node took it over and continues from what was saved before),
   * so the segment must not be listed, or two nodes would list different segments under one number.
   */
  save(streamId: string, continuity: Continuity): Promise<boolean>;
}

export const CONTINUITY_STORE = Symbol('CONTINUITY_STORE');

/** The one further on (a higher next number), of those given. */
export function laterContinuity(...candidates: Array<Continuity | undefined>): Continuity | undefined {
  let later: Continuity | undefined;
  for (const candidate of candidates) {
    if (candidate && (!later || candidate.nextNumber > later.nextNumber)) later = candidate;
  }
  return later;
}

/** Whether a value read back from the registry (another node's JSON) is a usable continuity. */
export function isContinuity(value: unknown): value is Continuity {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  const whole = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  const listed = (segment: unknown) => {
    const l = segment as Record<string, unknown>;
    return (
      typeof l === 'object' &&
      l !== null &&
      typeof l.uri === 'string' &&
      whole(l.number) &&
      whole(l.cc) &&
      typeof l.duration === 'number' &&
      l.duration >= 0 &&
      (l.gap === undefined || typeof l.gap === 'boolean')
    );
  };
  const renditions = c.renditions as Record<string, unknown> | undefined;
  return (
    whole(c.nextNumber) &&
    whole(c.cc) &&
    (c.nextPts === undefined || whole(c.nextPts)) &&
    (c.targetDuration === undefined || (whole(c.targetDuration) && (c.targetDuration as number) >= 1)) &&
    (renditions === undefined ||
      (typeof renditions === 'object' &&
        renditions !== null &&
        Object.values(renditions).every((list) => Array.isArray(list) && list.every(listed))))
  );
}
