export interface PlaylistSegment {
  uri: string;
  duration: number;
  /** An EXT-X-DISCONTINUITY stands before this segment. */
  discontinuity: boolean;
  /** Media sequence number. */
  seq: number;
}

export interface PlaylistPart {
  uri: string;
  duration: number;
  independent: boolean;
  /** Media sequence number of the segment the part belongs to; undefined while that segment is open. */
  segmentSeq: number | undefined;
}

export interface MediaPlaylist {
  text: string;
  version: number | undefined;
  targetDuration: number | undefined;
  mediaSequence: number;
  discontinuitySequence: number;
  partTarget: number | undefined;
  segments: PlaylistSegment[];
  discontinuities: number;
  parts: PlaylistPart[];
  preloadHint: Record<string, string> | undefined;
  ended: boolean;
}

export interface MasterPlaylist {
  variants: Array<{ uri: string; attributes: Record<string, string> }>;
  media: Array<{ attributes: Record<string, string> }>;
  /** Every media playlist URI the master names (variants and EXT-X-MEDIA URIs), once each. */
  uris: string[];
}

export function parseAttributes(list: string): Record<string, string>;
export function parseMediaPlaylist(text: string): MediaPlaylist;
export function parseMasterPlaylist(text: string): MasterPlaylist;
