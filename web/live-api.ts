/** The HLS side of the server as the pages see it: the SSE feed of live streams and the REST details. */

export interface VideoTrackInfo {
  codecIn: 'H264' | 'VP8' | 'VP9';
  codecOut: 'H264';
  mode: 'copy' | 'transcode';
  resolution?: string;
  bitrateKbps?: number;
  paused: boolean;
}

export interface AudioTrackInfo {
  codecIn: 'opus';
  codecOut: 'AAC';
  mode: 'transcode';
  bitrateKbps?: number;
  paused: boolean;
}

export interface StreamInfo {
  peerId: string;
  startedAt: string;
  state: 'starting' | 'live' | 'ended';
  masterUrl: string;
  /** Low-Latency HLS master (fMP4 parts, blocking reload). */
  llMasterUrl: string;
  tracks: { video?: VideoTrackInfo; audio?: AudioTrackInfo };
}

export const masterUrl = (peerId: string): string => `/live/${encodeURIComponent(peerId)}.m3u8`;
/** The Low-Latency master of a stream (the server names it the same way in `/api/streams` and `peerLive`). */
export const llMasterUrl = (peerId: string): string => `/live/${encodeURIComponent(peerId)}.ll.m3u8`;
export const watchUrl = (peerId: string): string => `/watch/${encodeURIComponent(peerId)}`;

export async function fetchStreams(): Promise<StreamInfo[]> {
  const response = await fetch('/api/streams', { cache: 'no-store' });
  if (!response.ok) throw new Error(`GET /api/streams answered ${response.status}`);
  return (await response.json()) as StreamInfo[];
}

/** One stream's details, or undefined if the server does not know it (404). */
export async function fetchStream(peerId: string): Promise<StreamInfo | undefined> {
  const response = await fetch(`/api/streams/${encodeURIComponent(peerId)}`, { cache: 'no-store' });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET /api/streams/${peerId} answered ${response.status}`);
  return (await response.json()) as StreamInfo;
}

/** "H264 copy · 854×480 · AAC": what the server does with a stream, in a line. */
export function describeTracks({ video, audio }: StreamInfo['tracks']): string {
  const parts: string[] = [];
  if (video) {
    const codec = video.mode === 'copy' ? `${video.codecIn} (copied)` : `${video.codecIn} → ${video.codecOut}`;
    parts.push(codec);
    if (video.resolution) parts.push(video.resolution.replace('x', '×'));
    if (video.paused) parts.push('camera off');
  }
  if (audio) {
    parts.push(`${audio.codecIn === 'opus' ? 'Opus' : audio.codecIn} → ${audio.codecOut}`);
    if (audio.paused) parts.push('mic off');
  }
  return parts.join(' · ') || 'no tracks yet';
}

export interface LiveFeedHandlers {
  /** The full set of live peers, on every (re)connection. */
  snapshot(peerIds: string[]): void;
  live(peerId: string): void;
  ended(peerId: string): void;
  /** `open` once `init` arrived; `retrying` while the feed is down. */
  connection(state: 'open' | 'retrying', detail?: string): void;
}

/**
 * `GET /api/live-streams` (Server-Sent Events). EventSource reconnects by itself after a dropped
 * connection but gives up on an HTTP error (e.g. a 404 or 503), so that case retries here, backing off.
 * Each reconnection's `init` is a full snapshot, so nothing missed while down stays wrong.
 */
export class LiveFeed {
  private source: EventSource | undefined;
  private retryTimer: number | undefined;
  private retryMs = 1000;
  private closed = false;

  constructor(
    private readonly handlers: LiveFeedHandlers,
    private readonly url = '/api/live-streams',
  ) {
    this.open();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.source?.close();
  }

  private open(): void {
    if (this.closed) return;
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener('init', (event) => {
      this.retryMs = 1000;
      const data = parse<{ livePeers?: Array<{ peerId: string }> }>(event);
      this.handlers.snapshot((data?.livePeers ?? []).map((peer) => peer.peerId));
      this.handlers.connection('open');
    });
    source.addEventListener('peerLive', (event) => {
      const peerId = parse<{ peerId?: string }>(event)?.peerId;
      if (peerId) this.handlers.live(peerId);
    });
    source.addEventListener('peerLeft', (event) => {
      const peerId = parse<{ peerId?: string }>(event)?.peerId;
      if (peerId) this.handlers.ended(peerId);
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (HTTP error or wrong content type): retry ourselves, backing off.
        source.close();
        this.handlers.connection('retrying', `live feed unavailable; retrying in ${Math.round(this.retryMs / 1000)} s`);
        this.retryTimer = window.setTimeout(() => this.open(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 15000);
      } else {
        this.handlers.connection('retrying', 'live feed interrupted; reconnecting');
      }
    });
  }
}

function parse<T>(event: Event): T | undefined {
  try {
    return JSON.parse((event as MessageEvent<string>).data) as T;
  } catch {
    return undefined;
  }
}
