export const MAX_LOSS_RATIO: number;
export const MAX_LAG_GROWTH_SECONDS: number;
export const GENERATOR_LIMIT_CORES: number;

export interface ServerCounters {
  ingestPackets?: number;
  ingestLost?: number;
  ffmpegRtpMissed?: number;
  ffmpegDroppedFrames?: number;
  ffmpegRestarts?: number;
}

/** What was observed in one measured window (increases over the window). */
export interface WindowFacts {
  seconds?: number;
  sent?: { packets: number; videoFrames: number };
  /** Receive-buffer drops per socket class of the server's processes (/proc). */
  drops?: Partial<Record<'webRtcServer' | 'worker' | 'ffmpeg' | 'node' | 'other', number>>;
  /** Loss in mediasoup's receiver reports, as the generator received them. */
  rtcpLost?: number;
  /** Server counters from /metrics; undefined where the server does not expose one. */
  server?: ServerCounters;
  lag?: { maxGrowth?: number; laggingPeers?: number };
  failures?: Partial<Record<'connect' | 'iceDtls' | 'publishers' | 'notLive' | 'notPlayable' | 'behind', number>>;
  generator?: {
    cores?: number;
    skippedFrames?: number;
    droppedBacklog?: number;
    framesSent?: number;
    packetsSent?: number;
    errors?: number;
  };
}

export interface Loss {
  packets: number;
  ingest: number;
  toFfmpeg: number;
  other: number;
  total: number;
  ratio: number;
  droppedFrames: number | undefined;
  frameRatio: number | undefined;
  /** false: loss seen; true: every witness present and none saw loss; undefined: none seen, but a counter is missing. */
  lossFree: boolean | undefined;
  /** Server counters that were not exposed. */
  unknown: string[];
}

export type Verdict = 'pass' | 'fail' | 'generator-limited';

export function lossOf(facts: WindowFacts): Loss;
export function judge(facts: WindowFacts): { verdict: Verdict; reasons: string[]; loss: Loss };
export function capacityOf(
  steps: Array<{
    n: number;
    verdict: Verdict | string;
    loss?: Pick<Loss, 'lossFree'>;
    confirmation?: { verdict: Verdict | string; loss?: Pick<Loss, 'lossFree'> };
  }>,
): {
  maxPass: number;
  lossFree: number;
  lossFreeUnknown: boolean;
  firstFail: number | undefined;
  failVerdict: string | undefined;
  lowerBound: boolean;
};
