import Hls, { ErrorTypes, Events, type ErrorData } from 'hls.js';
import { describeTracks, fetchStream, fetchStreams, LiveFeed, llMasterUrl, masterUrl, StreamInfo, watchUrl } from './live-api';
import { byId, formatClock, formatElapsed, PEER_ID_PATTERN, show } from './ui';

/** `#player-status[data-state]`: idle, waiting, loading, playing, buffering, paused, ended, error. */
type PlayerState = 'idle' | 'waiting' | 'loading' | 'playing' | 'buffering' | 'paused' | 'ended' | 'error';

const el = {
  video: byId<HTMLVideoElement>('player'),
  liveEdge: byId<HTMLButtonElement>('live-edge'),
  status: byId('player-status'),
  latency: byId('latency'),
  info: byId('player-info'),
  playlistUrl: byId<HTMLAnchorElement>('playlist-url'),
  playlistNone: byId('playlist-none'),
  feedStatus: byId('feed-status'),
  list: byId<HTMLUListElement>('stream-list'),
  empty: byId('no-streams'),
};

/** hls.js's transmuxer runs in this worker (copied next to the bundle by scripts/build-web.mjs). */
const HLS_WORKER_PATH = '/app/hls.worker.js';
/** Fatal media errors hls.js may try to recover from before we give up on the stream. */
const MEDIA_RECOVERIES = 2;
/**
 * Low-Latency playback: hls.js starts at the keyframe part before its target and only speeds up to
 * catch up while more than a second is buffered, so it tends to stay about a second behind the live
 * edge. Seeking once to its own live sync position (inside the buffer) brings it to the target; done
 * again at most this often, when it has fallen this far behind its target.
 */
const CATCH_UP_EVERY_MS = 5000;
const CATCH_UP_AFTER_SECONDS = 0.3;

/** Which of the server's two layouts plays: Low-Latency HLS (fMP4 parts) or the classic one (MPEG-TS). */
type Layout = 'low-latency' | 'classic';

const shortId = (peerId: string): string => (peerId.length > 12 ? `${peerId.slice(0, 12)}…` : peerId);

/**
 * Plays one stream's master playlist: hls.js where Media Source Extensions exist, the browser's own
 * HLS otherwise. Tells users how far behind live they are and when the stream has ended.
 */
class Player {
  peerId: string | undefined;
  layout: Layout = 'low-latency';
  private hls: Hls | undefined;
  private lastCatchUp = 0;
  private ended = false;
  private ticker: number | undefined;
  private recoveries = 0;

  constructor(private readonly video: HTMLVideoElement) {
    video.muted = true;
    video.addEventListener('playing', () => this.setState('playing', 'Playing live'));
    video.addEventListener('waiting', () => this.setState('buffering', 'Buffering…'));
    video.addEventListener('pause', () => {
      if (!video.ended) this.setState('paused', 'Paused (press play to go on; “LIVE” jumps to the live edge)');
    });
    video.addEventListener('ended', () => this.markEnded('The stream has ended.'));
    el.liveEdge.addEventListener('click', () => this.jumpToLive());
  }

  get state(): PlayerState {
    return el.status.dataset.state as PlayerState;
  }

  /** Plays the stream's Low-Latency master; `classic` plays the original layout (also the fallback). */
  play(peerId: string, layout: Layout = 'low-latency'): void {
    this.stop();
    this.peerId = peerId;
    this.layout = layout;
    this.ended = false;
    this.recoveries = 0;
    this.lastCatchUp = 0;
    this.video.dataset.peerId = peerId;
    this.video.dataset.layout = layout;
    const url = layout === 'low-latency' ? llMasterUrl(peerId) : masterUrl(peerId);
    el.playlistUrl.href = el.playlistUrl.textContent = new URL(url, location.origin).href;
    el.playlistUrl.hidden = false;
    el.playlistNone.hidden = true;
    show(el.status, 'loading', `Loading ${shortId(peerId)}…`);
    if (Hls.isSupported()) {
      const hls = new Hls({
        workerPath: HLS_WORKER_PATH,
        // Live: the seek bar ends at the live edge, and old media is dropped behind the playhead.
        liveDurationInfinity: true,
        backBufferLength: 30,
        // After a stall, play up to 1.5x until back at the target latency instead of staying behind.
        maxLiveSyncPlaybackRate: 1.5,
        // Low-Latency: parts and blocking playlist reloads; the target is the playlist's PART-HOLD-BACK,
        // and a stall raises it by a quarter of a second rather than hls.js's default whole second.
        ...(layout === 'low-latency' ? { lowLatencyMode: true, liveSyncOnStallIncrease: 0.25 } : { lowLatencyMode: false }),
      });
      this.hls = hls;
      hls.on(Events.MANIFEST_PARSED, () => void this.start());
      hls.on(Events.LEVEL_UPDATED, (_event, { details }) => {
        // EXT-X-ENDLIST: the publisher stopped; what is buffered still plays out.
        if (!details.live) this.markEnded('The stream has ended.');
      });
      hls.on(Events.ERROR, (_event, data) => this.onHlsError(hls, data));
      hls.loadSource(url);
      hls.attachMedia(this.video);
    } else if (this.video.canPlayType('application/vnd.apple.mpegurl')) {
      // The browser's own HLS (Safari) plays the Low-Latency playlist too; on an error, the classic one.
      this.video.src = url;
      this.video.addEventListener(
        'error',
        () => {
          if (this.peerId === peerId && this.layout === 'low-latency' && this.video.src.endsWith(url)) this.play(peerId, 'classic');
        },
        { once: true },
      );
      void this.start();
    } else {
      show(el.status, 'error', 'This browser cannot play HLS.');
      return;
    }
    this.ticker = window.setInterval(() => this.tick(), 500);
    this.tick();
  }

  stop(): void {
    clearInterval(this.ticker);
    this.hls?.destroy();
    this.hls = undefined;
    this.peerId = undefined;
    delete this.video.dataset.peerId;
    this.video.removeAttribute('src');
    this.video.load();
    el.liveEdge.hidden = true;
    el.latency.dataset.seconds = '';
    el.latency.textContent = '—';
    el.info.textContent = '—';
    el.playlistUrl.hidden = true;
    el.playlistNone.hidden = false;
  }

  /** Shown instead of a player while `/watch/<id>` waits for its stream, or after it ended. */
  idle(state: PlayerState, text: string): void {
    this.stop();
    show(el.status, state, text);
  }

  markEnded(text: string): void {
    if (this.ended || !this.peerId) return;
    this.ended = true;
    show(el.status, 'ended', text);
    el.liveEdge.hidden = true;
    el.latency.dataset.seconds = '';
    el.latency.textContent = '—';
  }

  private setState(state: PlayerState, text: string): void {
    // Once ended, buffered media may still play; the message stays "ended".
    if (this.ended || !this.peerId) return;
    show(el.status, state, text);
  }

  private async start(): Promise<void> {
    this.video.muted = true;
    try {
      await this.video.play();
    } catch (error) {
      // Autoplay refused (or interrupted by a new stream): the controls remain.
      if (error instanceof DOMException && error.name === 'NotAllowedError') this.setState('paused', 'Press play to start.');
    }
  }

  private onHlsError(hls: Hls, data: ErrorData): void {
    if (!data.fatal || hls !== this.hls) return;
    if (this.ended) {
      // The files of an ended stream go away; nothing more to load.
      hls.stopLoad();
      return;
    }
    if (data.type === ErrorTypes.MEDIA_ERROR && this.recoveries < MEDIA_RECOVERIES) {
      this.recoveries++;
      hls.recoverMediaError();
      return;
    }
    const status = data.response?.code ? ` (HTTP ${data.response.code})` : '';
    const peerId = this.peerId;
    if (peerId && this.layout === 'low-latency' && live.has(peerId)) {
      // Low-Latency HLS failed (an old server, a proxy that breaks blocking requests…): the classic layout.
      console.warn(`Low-Latency HLS failed (${data.details}${status}); playing the classic playlist`);
      this.play(peerId, 'classic');
      return;
    }
    hls.destroy();
    this.hls = undefined;
    if (peerId && !live.has(peerId)) {
      this.markEnded('The stream has ended.');
      return;
    }
    show(el.status, 'error', `Playback failed: ${data.details}${status}. Pick the stream again to retry.`);
  }

  private jumpToLive(): void {
    const target = this.hls?.liveSyncPosition ?? seekableEnd(this.video);
    if (target !== null && Number.isFinite(target)) this.video.currentTime = target;
    void this.video.play().catch(() => undefined);
  }

  /** Latency behind live and the live-edge badge, twice a second. */
  private tick(): void {
    if (this.ended || !this.peerId) return;
    let latency: number | undefined;
    let atEdge = false;
    const { video, hls } = this;
    if (hls) {
      const sync = hls.liveSyncPosition;
      const targetDuration = hls.levels[hls.currentLevel]?.details?.targetduration ?? 1;
      if (sync !== null && video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) {
        latency = hls.latency;
        atEdge = !video.paused && video.currentTime >= sync - Math.max(1.5, targetDuration * 1.5);
        if (this.layout === 'low-latency') this.catchUp(hls, sync);
      }
    } else {
      const end = seekableEnd(video);
      if (end !== null && video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) {
        latency = end - video.currentTime;
        atEdge = !video.paused && latency < 6;
      }
    }
    if (latency === undefined || !Number.isFinite(latency)) {
      el.liveEdge.hidden = true;
      return;
    }
    el.latency.dataset.seconds = latency.toFixed(2);
    const target = hls?.targetLatency;
    el.latency.textContent = `${latency.toFixed(1)} s${target ? ` (target ${target.toFixed(1)} s)` : ''}`;
    el.liveEdge.hidden = false;
    el.liveEdge.dataset.atEdge = String(atEdge);
    el.liveEdge.textContent = atEdge ? 'LIVE' : 'Go to live';
    el.liveEdge.setAttribute('aria-label', atEdge ? 'Playing at the live edge' : 'Behind live: jump to the live edge');
    this.showInfo();
  }

  /** Low-Latency: back to hls.js's target latency when it lags behind it and its sync position is buffered. */
  private catchUp(hls: Hls, sync: number): void {
    const { video } = this;
    const target = hls.targetLatency;
    const now = performance.now();
    if (video.paused || video.seeking || target === null || now - this.lastCatchUp < CATCH_UP_EVERY_MS) return;
    if (hls.latency - target < CATCH_UP_AFTER_SECONDS || sync <= video.currentTime) return;
    const buffered = Array.from({ length: video.buffered.length }, (_, i) => [video.buffered.start(i), video.buffered.end(i)]);
    if (!buffered.some(([start, end]) => start <= video.currentTime && sync < end)) return;
    this.lastCatchUp = now;
    video.currentTime = sync;
  }

  showInfo(): void {
    if (!this.peerId) return;
    const info = details.get(this.peerId);
    const parts = [info ? describeTracks(info.tracks) : undefined];
    if (info) parts.push(`since ${formatClock(new Date(info.startedAt))}`);
    if (this.video.videoWidth) parts.push(`playing ${this.video.videoWidth}×${this.video.videoHeight}`);
    parts.push(this.layout === 'low-latency' ? 'Low-Latency HLS' : 'HLS');
    el.info.textContent = parts.filter(Boolean).join(' · ') || shortId(this.peerId);
  }
}

function seekableEnd(video: HTMLVideoElement): number | null {
  return video.seekable.length > 0 ? video.seekable.end(video.seekable.length - 1) : null;
}

// ---------------------------------------------------------------------------------------------
// The list: membership from the live feed (SSE), details from GET /api/streams.

const live = new Set<string>();
const details = new Map<string, StreamInfo>();
const player = new Player(el.video);
/** The stream this page wants to show (`/watch/<peerId>`, or the last one clicked). */
let wantedPeer = peerFromPath();
let detailsLoading: Promise<void> | undefined;
let detailsStale = false;

function peerFromPath(): string | undefined {
  const match = /^\/watch\/([^/]+)\/?$/.exec(location.pathname);
  const peerId = match ? decodeURIComponent(match[1]) : undefined;
  return peerId && PEER_ID_PATTERN.test(peerId) ? peerId : undefined;
}

/** One request at a time; a change during a request asks for one more. */
function refreshDetails(): void {
  if (detailsLoading) {
    detailsStale = true;
    return;
  }
  detailsLoading = fetchStreams()
    .then((streams) => {
      details.clear();
      for (const stream of streams) details.set(stream.peerId, stream);
      renderList();
      player.showInfo();
    })
    .catch(() => {
      // Details are extras; the list itself comes from the live feed.
    })
    .finally(() => {
      detailsLoading = undefined;
      if (detailsStale) {
        detailsStale = false;
        refreshDetails();
      }
    });
}

function renderList(): void {
  const items = new Map<string, HTMLLIElement>();
  for (const item of Array.from(el.list.children) as HTMLLIElement[]) {
    const peerId = item.dataset.peerId ?? '';
    if (live.has(peerId)) items.set(peerId, item);
    else item.remove();
  }
  for (const peerId of live) {
    let item = items.get(peerId);
    if (!item) {
      item = createItem(peerId);
      el.list.append(item);
    }
    updateItem(item, peerId);
  }
  el.empty.hidden = live.size > 0;
}

function createItem(peerId: string): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset.peerId = peerId;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'stream';
  const name = document.createElement('span');
  name.className = 'stream-name';
  name.textContent = shortId(peerId);
  name.title = peerId;
  const meta = document.createElement('span');
  meta.className = 'stream-meta';
  const since = document.createElement('span');
  since.className = 'stream-since';
  button.append(name, meta, since);
  button.addEventListener('click', () => watch(peerId));
  item.append(button);
  return item;
}

function updateItem(item: HTMLLIElement, peerId: string): void {
  const info = details.get(peerId);
  const button = item.querySelector('button')!;
  const selected = player.peerId === peerId;
  item.dataset.selected = String(selected);
  button.setAttribute('aria-pressed', String(selected));
  item.querySelector('.stream-meta')!.textContent = info ? describeTracks(info.tracks) : 'loading details…';
  const started = info ? new Date(info.startedAt) : undefined;
  item.querySelector('.stream-since')!.textContent = started
    ? `live since ${formatClock(started)} (${formatElapsed(Date.now() - started.getTime())})`
    : '';
}

/** Plays `peerId` now and makes it the page's address (so it can be shared or reloaded). */
function watch(peerId: string): void {
  wantedPeer = peerId;
  if (location.pathname !== watchUrl(peerId)) history.pushState(null, '', watchUrl(peerId));
  // A second click on the stream playing leaves it alone; after an error or the end it starts over.
  const running = ['loading', 'playing', 'buffering'].includes(player.state);
  if (player.peerId !== peerId || !running) player.play(peerId);
  renderList();
}

/** For `/watch/<id>`: play it if live; otherwise say what we know and wait for the feed. */
async function showWanted(): Promise<void> {
  const peerId = wantedPeer;
  if (!peerId) {
    if (player.peerId) player.idle('idle', 'Pick a stream to watch.');
    renderList();
    return;
  }
  if (live.has(peerId)) {
    if (player.peerId !== peerId) player.play(peerId);
    renderList();
    return;
  }
  if (player.peerId === peerId) return; // Playing it; the feed's peerLeft will end it.
  let info: StreamInfo | undefined;
  try {
    info = await fetchStream(peerId);
  } catch {
    info = undefined;
  }
  if (wantedPeer !== peerId || live.has(peerId)) return;
  if (info?.state === 'ended') player.idle('ended', `The stream ${shortId(peerId)} has ended.`);
  else player.idle('waiting', `Waiting for ${shortId(peerId)} to go live…`);
}

function init(): void {
  renderList();
  if (wantedPeer) show(el.status, 'waiting', `Looking for ${shortId(wantedPeer)}…`);
  window.addEventListener('popstate', () => {
    wantedPeer = peerFromPath();
    void showWanted();
  });
  new LiveFeed({
    snapshot(peerIds) {
      const current = player.peerId;
      live.clear();
      peerIds.forEach((peerId) => live.add(peerId));
      // Ended while the feed was down.
      if (current && !live.has(current)) player.markEnded('The stream has ended.');
      renderList();
      refreshDetails();
      void showWanted();
    },
    live(peerId) {
      live.add(peerId);
      renderList();
      refreshDetails();
      if (peerId === wantedPeer && (player.peerId !== peerId || player.state === 'ended' || player.state === 'error')) {
        player.play(peerId);
        renderList();
      }
    },
    ended(peerId) {
      live.delete(peerId);
      renderList();
      if (player.peerId === peerId) player.markEnded('The stream has ended.');
    },
    connection(state, detail) {
      show(el.feedStatus, state, state === 'open' ? 'This list updates by itself.' : (detail ?? 'reconnecting…'));
    },
  });
  // "live since" ages, and resolution / bitrate details arrive after a stream starts.
  window.setInterval(() => {
    if (live.size > 0) refreshDetails();
  }, 5000);
}

init();
