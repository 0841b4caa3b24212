/** The two kinds of media (mediasoup's MediaKind, without depending on mediasoup). */
export type MediaKind = 'audio' | 'video';

/**
 * Where a rendition's media comes from in a run: the publisher's RTP, filler while it is paused or
 * silent, or nothing yet: a simulcast layer the publisher declares but does not send now (a browser
 * starts its top layer late, or never at small capture sizes).
 */
export type TrackSource = 'rtp' | 'filler' | 'absent';
export type VideoMode = 'copy' | 'transcode';

/** One rendition of an FFmpeg run. `rendition` names it stably across runs (`video`, `audio`). */
export interface RunTrack {
  rendition: string;
  kind: MediaKind;
  source: TrackSource;
  /** What the publisher declared as this layer's ceiling (simulcast encodings' maxBitrate), bits/s. */
  maxBitrate?: number;
}

/**
 * One access unit as FFmpeg muxed it into MPEG-TS: a video frame or an audio frame. Times are 90 kHz
 * on the run's timeline, which every rendition of the run shares and which only grows from one run
 * of a stream to the next.
 */
export interface MediaUnit {
  pts: number;
  dts: number;
  /** Video: the unit holds an IDR frame. Audio: always. */
  keyframe: boolean;
  /** Elementary stream: an Annex-B H264 access unit, or ADTS AAC frame(s). */
  data: Buffer;
  /** The TS packets that carried it, as FFmpeg wrote them. */
  packets: Buffer;
  /** PAT + PMT of its TS stream: every segment file starts with them. */
  programHeaders: Buffer;
  /**
   * Index of the segment it belongs to within its run (0, 1, …). Every rendition of a run is cut at
   * the same instants, so equal indexes cover the same time. A unit with a higher index than the
   * previous one starts a new segment.
   */
  segment: number;
  /**
   * Video: this keyframe's parameter sets (SPS/PPS) differ from the rendition's previous ones in this
   * run: the picture size changed. It starts a segment, and players must set their decoder up anew.
   */
  formatChange?: boolean;
}
