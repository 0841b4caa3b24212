import { Device, types } from 'mediasoup-client';
import { describeTracks, fetchStream, LiveFeed, masterUrl, watchUrl } from './live-api';
import { SignalingClient, SignalingError } from './signaling-client';
import { byId, errorText, formatKbps, show } from './ui';

type Kind = types.MediaKind;
type VideoCodecName = 'H264' | 'VP8' | 'VP9';

/**
 * The page's states, in `#status[data-state]`: idle (camera starting), ready, media-error,
 * connecting, connected (media flowing, HLS not yet playable), live, stopped, error.
 */
type PageState = 'idle' | 'ready' | 'media-error' | 'connecting' | 'connected' | 'live' | 'stopped' | 'error';

interface Preset {
  id: string;
  label: string;
  width: number;
  height: number;
  frameRate: number;
  maxBitrateKbps: number;
}

const PRESETS: Preset[] = [
  { id: '360p', label: '360p · 640×360 · 0.8 Mbit/s', width: 640, height: 360, frameRate: 30, maxBitrateKbps: 800 },
  { id: '480p', label: '480p · 854×480 · 1.2 Mbit/s', width: 854, height: 480, frameRate: 30, maxBitrateKbps: 1200 },
  { id: '720p', label: '720p · 1280×720 · 2.5 Mbit/s', width: 1280, height: 720, frameRate: 30, maxBitrateKbps: 2500 },
];
const DEFAULT_PRESET = '480p';

const el = {
  preview: byId<HTMLVideoElement>('preview'),
  liveBadge: byId('live-badge'),
  toggles: { video: byId<HTMLButtonElement>('toggle-video'), audio: byId<HTMLButtonElement>('toggle-audio') } as Record<
    Kind,
    HTMLButtonElement
  >,
  form: byId<HTMLFormElement>('settings'),
  devices: { video: byId<HTMLSelectElement>('camera'), audio: byId<HTMLSelectElement>('microphone') } as Record<Kind, HTMLSelectElement>,
  codec: byId<HTMLSelectElement>('codec'),
  preset: byId<HTMLSelectElement>('preset'),
  goLive: byId<HTMLButtonElement>('go-live'),
  stop: byId<HTMLButtonElement>('stop'),
  retryMedia: byId<HTMLButtonElement>('retry-media'),
  status: byId('status'),
  message: byId('message'),
  peerId: byId('peer-id'),
  transportState: byId('transport-state'),
  bitrate: byId('bitrate'),
  serverInfo: byId('server-info'),
  share: byId('share'),
  hlsLink: byId<HTMLAnchorElement>('hls-link'),
  playlistLink: byId<HTMLAnchorElement>('playlist-link'),
};

// ---------------------------------------------------------------------------------------------
// Local media: the page owns the tracks; producers borrow them (stopTracks: false), so the preview
// survives Stop and a device switch replaces the producer's track in place.

const tracks = new Map<Kind, MediaStreamTrack>();
/** What the user wants to send; a paused kind keeps its producer (the server pauses it too). */
const wanted: Record<Kind, boolean> = { video: true, audio: true };

const currentPreset = (): Preset => PRESETS.find((preset) => preset.id === el.preset.value) ?? PRESETS[1];

function constraintsFor(kind: Kind, withDevice = true): MediaTrackConstraints {
  const deviceId = el.devices[kind].value;
  const device = withDevice && deviceId ? { deviceId: { exact: deviceId } } : {};
  if (kind === 'audio') return { ...device, echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  const preset = currentPreset();
  return {
    ...device,
    width: { ideal: preset.width },
    height: { ideal: preset.height },
    frameRate: { ideal: preset.frameRate, max: preset.frameRate },
  };
}

async function capture(kind: Kind): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraintsFor(kind) });
  return stream.getTracks()[0];
}

function mediaErrorText(error: unknown, what = 'the camera or microphone'): string {
  const name = error instanceof DOMException ? error.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return `Access to ${what} was denied. Allow it for this site (the camera icon in the address bar), then press “Retry camera”.`;
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `No usable ${what} was found. Connect one, then press “Retry camera”.`;
    case 'NotReadableError':
    case 'AbortError':
      return `${what[0].toUpperCase()}${what.slice(1)} is busy or failed to start (another application may be using it).`;
    default:
      return `Cannot start ${what}: ${errorText(error)}`;
  }
}

/** Asks for camera and microphone together (one prompt); if that fails for a reason other than a refusal, takes what works. */
async function startMedia(): Promise<void> {
  hideMessage();
  el.retryMedia.hidden = true;
  if (!navigator.mediaDevices?.getUserMedia) {
    setState('media-error', 'No camera access');
    showMessage(
      window.isSecureContext
        ? 'This browser cannot capture a camera or microphone.'
        : 'Browsers only allow camera access on HTTPS or http://localhost: open this page over HTTPS.',
    );
    return;
  }
  setState('idle', 'Starting the camera…');
  const acquired = new Map<Kind, MediaStreamTrack>();
  let firstError: unknown;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: constraintsFor('video'), audio: constraintsFor('audio') });
    for (const track of stream.getTracks()) acquired.set(track.kind as Kind, track);
  } catch (error) {
    firstError = error;
    const refused = error instanceof DOMException && (error.name === 'NotAllowedError' || error.name === 'SecurityError');
    if (!refused) {
      // One of the two may be missing or busy: send what there is.
      const results = await Promise.allSettled([capture('video'), capture('audio')]);
      results.forEach((result) => result.status === 'fulfilled' && acquired.set(result.value.kind as Kind, result.value));
    }
  }
  if (acquired.size === 0) {
    setState('media-error', 'No camera or microphone');
    showMessage(mediaErrorText(firstError));
    el.retryMedia.hidden = false;
    return;
  }
  for (const [kind, track] of acquired) installTrack(kind, track);
  if (!acquired.has('video')) showMessage(`No camera: publishing audio only. (${mediaErrorText(firstError, 'the camera')})`, 'info');
  else if (!acquired.has('audio'))
    showMessage(`No microphone: publishing video only. (${mediaErrorText(firstError, 'the microphone')})`, 'info');
  await refreshDeviceLists();
  if (!session) setState('ready', 'Ready to go live');
}

function installTrack(kind: Kind, track: MediaStreamTrack): void {
  const old = tracks.get(kind);
  tracks.set(kind, track);
  track.enabled = wanted[kind];
  track.addEventListener('ended', () => {
    if (tracks.get(kind) !== track) return;
    showMessage(
      `The ${kind === 'video' ? 'camera' : 'microphone'} stopped (unplugged, or taken by another application). Pick another device.`,
    );
  });
  if (old && old !== track) old.stop();
  if (kind === 'video') el.preview.srcObject = new MediaStream([track]);
  updateControls();
}

async function refreshDeviceLists(): Promise<void> {
  let devices: MediaDeviceInfo[];
  try {
    devices = await navigator.mediaDevices.enumerateDevices();
  } catch {
    return;
  }
  for (const kind of ['video', 'audio'] as Kind[]) {
    const select = el.devices[kind];
    const inUse = tracks.get(kind)?.getSettings().deviceId ?? select.value;
    const found = devices.filter((device) => device.kind === `${kind}input` && device.deviceId);
    select.replaceChildren(
      ...found.map((device, index) => {
        const label = device.label || `${kind === 'video' ? 'Camera' : 'Microphone'} ${index + 1}`;
        return new Option(label, device.deviceId, false, device.deviceId === inUse);
      }),
    );
    if (found.length === 0) select.append(new Option(kind === 'video' ? 'No camera found' : 'No microphone found', ''));
  }
}

async function switchDevice(kind: Kind): Promise<void> {
  const previous = tracks.get(kind)?.getSettings().deviceId;
  try {
    const track = await capture(kind);
    const producer = session?.producers.get(kind);
    // The producer keeps its RTP stream; only the source changes (no renegotiation).
    if (producer) await producer.replaceTrack({ track });
    installTrack(kind, track);
    hideMessage();
  } catch (error) {
    showMessage(mediaErrorText(error, kind === 'video' ? 'that camera' : 'that microphone'));
    if (previous) el.devices[kind].value = previous;
  }
}

async function applyPreset(): Promise<void> {
  const preset = currentPreset();
  try {
    await tracks.get('video')?.applyConstraints(constraintsFor('video', false));
    await session?.producers.get('video')?.setRtpEncodingParameters({ maxBitrate: preset.maxBitrateKbps * 1000 });
  } catch (error) {
    showMessage(`Cannot switch to ${preset.id}: ${errorText(error)}`);
  }
}

async function toggle(kind: Kind): Promise<void> {
  const on = !wanted[kind];
  wanted[kind] = on;
  updateControls();
  const current = session;
  const producer = current?.producers.get(kind);
  if (!current || !producer) {
    const track = tracks.get(kind);
    if (track) track.enabled = on;
    return;
  }
  try {
    await current.setPaused(kind, !on);
  } catch (error) {
    showMessage(`Could not turn the ${kind === 'video' ? 'camera' : 'microphone'} ${on ? 'on' : 'off'} on the server: ${errorText(error)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Publishing

/** Thrown inside start() when the session was closed meanwhile (Stop, or a lost connection). */
class SessionClosed extends Error {}

interface SessionHandlers {
  transportState(state: types.ConnectionState): void;
  stats(sample: StatsSample): void;
  problem(text: string): void;
}

interface StatsSample {
  totalKbps: number;
  video?: { kbps: number; width?: number; height?: number; fps?: number; limitedBy?: string; paused: boolean };
  audio?: { kbps: number; paused: boolean };
}

/**
 * One go-live: a signaling connection (one peer), one send transport and up to one producer per
 * kind. Owns them all; close() is idempotent and closes the transport (and so its producers) and
 * the connection, which the server takes as the publisher leaving (its HLS stream ends).
 */
class PublishSession {
  readonly producers = new Map<Kind, types.Producer>();
  private transport: types.Transport | undefined;
  private statsTimer: number | undefined;
  private readonly lastBytes = new Map<Kind, { bytes: number; at: number }>();
  private closedFlag = false;
  /** Every producer exists on the server (start() finished). */
  started = false;
  transportState: types.ConnectionState = 'new';

  constructor(
    readonly client: SignalingClient,
    private readonly handlers: SessionHandlers,
  ) {}

  get peerId(): string {
    return this.client.peerId;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  async start(codecName: VideoCodecName, preset: Preset): Promise<void> {
    const { rtpCapabilities } = await this.client.request('getRouterRtpCapabilities', {});
    this.check();
    const device = await Device.factory();
    await device.load({ routerRtpCapabilities: rtpCapabilities });
    this.check();
    const video = tracks.get('video');
    const audio = tracks.get('audio');
    const codec = video ? pickVideoCodec(device, codecName) : undefined;
    if (audio && !device.canProduce('audio')) throw new Error('This browser cannot send audio that the server accepts.');

    const parameters = await this.client.request('createWebRtcTransport', { isConsumer: false });
    this.check();
    const transport = device.createSendTransport(parameters);
    this.transport = transport;
    // mediasoup-client awaits `connect` (DTLS parameters to the server) before the first `produce`.
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.client.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      this.client.request('transportProduce', { kind, rtpParameters, appData }).then(({ id }) => callback({ id }), errback);
    });
    transport.on('connectionstatechange', (state) => {
      this.transportState = state;
      this.handlers.transportState(state);
    });

    if (video) {
      const producer = await transport.produce({
        track: video,
        codec,
        encodings: [{ maxBitrate: preset.maxBitrateKbps * 1000 }],
        codecOptions: { videoGoogleStartBitrate: Math.min(1000, preset.maxBitrateKbps) },
        stopTracks: false,
        appData: { source: 'camera' },
      });
      this.adopt('video', producer);
    }
    if (audio) {
      const producer = await transport.produce({ track: audio, stopTracks: false, appData: { source: 'microphone' } });
      this.adopt('audio', producer);
    }
    // The user may have switched a kind off before going live: pause it on both sides now.
    for (const kind of ['video', 'audio'] as Kind[]) {
      if (this.producers.has(kind) && !wanted[kind]) await this.setPaused(kind, true);
    }
    this.statsTimer = window.setInterval(() => void this.sampleStats(), 1000);
    this.started = true;
  }

  /** Pauses locally (the track stops sending) and on the server (so the HLS side knows why media stopped). */
  async setPaused(kind: Kind, paused: boolean): Promise<void> {
    const producer = this.producers.get(kind);
    if (!producer) return;
    if (paused) producer.pause();
    else producer.resume();
    await this.client.request(paused ? 'pauseProducer' : 'resumeProducer', { kind });
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    clearInterval(this.statsTimer);
    this.transport?.close();
    this.client.close();
  }

  private adopt(kind: Kind, producer: types.Producer): void {
    if (this.closedFlag) {
      producer.close();
      throw new SessionClosed();
    }
    this.producers.set(kind, producer);
    producer.on('trackended', () =>
      this.handlers.problem(`The ${kind === 'video' ? 'camera' : 'microphone'} stopped; pick another device.`),
    );
    producer.observer.on('close', () => {
      if (this.producers.get(kind) === producer) this.producers.delete(kind);
    });
  }

  private check(): void {
    if (this.closedFlag) throw new SessionClosed();
  }

  /** Outgoing bitrate per kind from the senders' `outbound-rtp` byte counters, once a second. */
  private async sampleStats(): Promise<void> {
    const sample: StatsSample = { totalKbps: 0 };
    for (const [kind, producer] of this.producers) {
      let report: RTCStatsReport;
      try {
        report = await producer.getStats();
      } catch {
        continue;
      }
      let bytes = 0;
      let at = 0;
      let outbound: Record<string, unknown> | undefined;
      report.forEach((stat: Record<string, unknown>) => {
        if (stat.type !== 'outbound-rtp') return;
        bytes += Number(stat.bytesSent ?? 0);
        at = Math.max(at, Number(stat.timestamp ?? 0));
        outbound = stat;
      });
      const last = this.lastBytes.get(kind);
      this.lastBytes.set(kind, { bytes, at });
      const kbps = last && at > last.at ? ((bytes - last.bytes) * 8) / (at - last.at) : 0;
      sample.totalKbps += kbps;
      if (kind === 'audio') {
        sample.audio = { kbps, paused: producer.paused };
      } else {
        sample.video = {
          kbps,
          paused: producer.paused,
          width: outbound?.frameWidth as number | undefined,
          height: outbound?.frameHeight as number | undefined,
          fps: outbound?.framesPerSecond as number | undefined,
          limitedBy: outbound?.qualityLimitationReason as string | undefined,
        };
      }
    }
    if (!this.closedFlag) this.handlers.stats(sample);
  }
}

/** The router's codec of that name that this browser can send; H264 prefers Constrained Baseline. */
function pickVideoCodec(device: Device, name: VideoCodecName): types.RtpCodecCapability {
  const video = (device.sendRtpCapabilities.codecs ?? []).filter(
    (codec) => codec.kind === 'video' && !/\/(rtx|red|ulpfec)$/i.test(codec.mimeType),
  );
  const rank = (codec: types.RtpCodecCapability): number => {
    const params = codec.parameters ?? {};
    if (name !== 'H264') return 0;
    return (params['packetization-mode'] === 1 ? 0 : 10) + (params['profile-level-id'] === '42e01f' ? 0 : 1);
  };
  const matching = video
    .filter((codec) => codec.mimeType.toLowerCase() === `video/${name.toLowerCase()}`)
    .sort((a, b) => rank(a) - rank(b));
  if (matching.length === 0) {
    const offered = [...new Set(video.map((codec) => codec.mimeType.replace(/^video\//i, '')))].join(', ') || 'none';
    throw new Error(`This browser cannot send ${name} to this server (usable here: ${offered}). Pick another codec.`);
  }
  return matching[0];
}

let session: PublishSession | undefined;
/** Peers whose HLS is playable, from the live feed. */
const livePeers = new Set<string>();
let serverInfoTimer: number | undefined;

async function goLive(): Promise<void> {
  if (session || tracks.size === 0) return;
  hideMessage();
  setState('connecting', 'Connecting to the server…');
  let client: SignalingClient;
  try {
    client = await SignalingClient.connect();
  } catch (error) {
    setState('error', 'Not live');
    showMessage(`Cannot connect to the server: ${errorText(error)}`);
    return;
  }
  const current = new PublishSession(client, {
    transportState: (state) => onTransportState(current, state),
    stats: showStats,
    problem: (text) => showMessage(text),
  });
  session = current;
  el.peerId.textContent = client.peerId;
  client.onDisconnect((reason, byUs) => {
    if (!byUs)
      endSession(
        current,
        'error',
        'Not live',
        `Lost the connection to the server (${reason}). The stream has stopped; press Go live to start again.`,
      );
  });
  client.on('error', ({ error, code }) => showMessage(`The server reported: ${error} (${code})`));
  setState('connecting', 'Setting up the media connection…');
  try {
    await current.start(el.codec.value as VideoCodecName, currentPreset());
  } catch (error) {
    if (error instanceof SessionClosed) return;
    endSession(current, 'error', 'Not live', failureText(error));
    return;
  }
  showShareLinks(current.peerId);
  showSending(current);
  if (livePeers.has(current.peerId)) markLive(current);
}

/** "Sending" needs both: the server has every producer, and ICE/DTLS is up (either may come first). */
function showSending(current: PublishSession): void {
  if (session !== current || !current.started || current.transportState !== 'connected') return;
  if (el.status.dataset.state === 'connecting') setState('connected', 'Sending; waiting for the HLS stream to start…');
}

function failureText(error: unknown): string {
  if (!(error instanceof SignalingError)) return errorText(error);
  switch (error.code) {
    case 'TIMEOUT':
      return `The server did not answer ${error.request} (${error.message}). Press Go live to try again.`;
    case 'DISCONNECTED':
    case 'NOT_CONNECTED':
      return `The connection to the server was lost during ${error.request}. Press Go live to try again.`;
    default:
      return `The server refused ${error.request}: ${error.message} (${error.code}).`;
  }
}

function onTransportState(current: PublishSession, state: types.ConnectionState): void {
  if (session !== current) return;
  const labels: Record<types.ConnectionState, string> = {
    new: 'starting',
    connecting: 'connecting (ICE/DTLS)…',
    connected: 'connected (ICE/DTLS)',
    disconnected: 'interrupted; trying to recover…',
    failed: 'failed',
    closed: 'closed',
  };
  show(el.transportState, state, labels[state]);
  if (state === 'connected') {
    hideMessage();
    showSending(current);
  } else if (state === 'disconnected') {
    showMessage('The media connection was interrupted; it usually recovers by itself within seconds.', 'info');
  } else if (state === 'failed') {
    endSession(
      current,
      'error',
      'Not live',
      'The media connection failed (ICE/DTLS): UDP to the server may be blocked. Press Go live to try again.',
    );
  }
}

function markLive(current: PublishSession): void {
  if (session !== current || el.status.dataset.state === 'live') return;
  setState('live', 'Live: viewers can watch now');
  el.liveBadge.hidden = false;
  const refresh = async () => {
    try {
      const info = await fetchStream(current.peerId);
      if (session === current) el.serverInfo.textContent = info ? describeTracks(info.tracks) : '—';
    } catch {
      // Informational only; the next tick tries again.
    }
  };
  void refresh();
  clearInterval(serverInfoTimer);
  serverInfoTimer = window.setInterval(() => void refresh(), 5000);
}

function endSession(current: PublishSession, state: PageState, text: string, message?: string): void {
  if (session !== current) return;
  session = undefined;
  current.close();
  clearInterval(serverInfoTimer);
  el.liveBadge.hidden = true;
  el.share.hidden = true;
  show(el.transportState, 'closed', 'not connected');
  el.bitrate.dataset.kbps = '0';
  el.bitrate.textContent = '—';
  el.serverInfo.textContent = '—';
  setState(state, text);
  if (message) showMessage(message);
}

function showShareLinks(peerId: string): void {
  const page = new URL(watchUrl(peerId), location.origin).href;
  const playlist = new URL(masterUrl(peerId), location.origin).href;
  el.hlsLink.href = el.hlsLink.textContent = page;
  el.playlistLink.href = el.playlistLink.textContent = playlist;
  el.share.hidden = false;
}

function showStats(sample: StatsSample): void {
  const parts: string[] = [];
  const { video, audio } = sample;
  if (video) {
    const size = video.width && video.height ? ` · ${video.width}×${video.height}` : '';
    const fps = video.fps ? ` @ ${Math.round(video.fps)} fps` : '';
    const limited = video.limitedBy && video.limitedBy !== 'none' ? ` (limited by ${video.limitedBy})` : '';
    parts.push(video.paused ? 'video paused' : `video ${formatKbps(video.kbps)}${size}${fps}${limited}`);
  }
  if (audio) parts.push(audio.paused ? 'audio paused' : `audio ${formatKbps(audio.kbps)}`);
  el.bitrate.dataset.kbps = String(Math.round(sample.totalKbps));
  el.bitrate.textContent = parts.join(' · ') || '—';
}

// ---------------------------------------------------------------------------------------------
// Page state and controls

function setState(state: PageState, text: string): void {
  show(el.status, state, text);
  updateControls();
}

function updateControls(): void {
  const state = el.status.dataset.state as PageState;
  const busy = session !== undefined;
  el.goLive.disabled = busy || tracks.size === 0 || state === 'idle';
  el.stop.disabled = !busy;
  el.codec.disabled = busy;
  for (const kind of ['video', 'audio'] as Kind[]) {
    const button = el.toggles[kind];
    button.disabled = !tracks.has(kind);
    button.setAttribute('aria-pressed', String(wanted[kind] && tracks.has(kind)));
    button.title = wanted[kind] ? `Turn the ${kind === 'video' ? 'camera' : 'microphone'} off` : `Turn it back on`;
  }
}

function showMessage(text: string, kind: 'error' | 'info' = 'error'): void {
  el.message.dataset.kind = kind;
  el.message.textContent = text;
  el.message.hidden = false;
}

function hideMessage(): void {
  el.message.hidden = true;
  el.message.textContent = '';
}

/** Grey out codecs this browser cannot encode at all (the server's offer is checked when going live). */
function markUnsupportedCodecs(): void {
  const capabilities = typeof RTCRtpSender !== 'undefined' ? RTCRtpSender.getCapabilities?.('video') : null;
  if (!capabilities) return;
  const local = new Set(capabilities.codecs.map((codec) => codec.mimeType.toLowerCase()));
  for (const option of Array.from(el.codec.options)) {
    if (local.has(`video/${option.value.toLowerCase()}`)) continue;
    option.disabled = true;
    option.textContent = `${option.value} (this browser cannot send it)`;
  }
  if (el.codec.selectedOptions[0]?.disabled) {
    const usable = Array.from(el.codec.options).find((option) => !option.disabled);
    if (usable) el.codec.value = usable.value;
  }
}

async function copyLink(button: HTMLButtonElement): Promise<void> {
  const link = byId<HTMLAnchorElement>(button.dataset.copy ?? '');
  try {
    await navigator.clipboard.writeText(link.href);
    button.textContent = 'Copied';
  } catch {
    // No clipboard (plain http, or denied): select the text so the user can copy it.
    const range = document.createRange();
    range.selectNodeContents(link);
    getSelection()?.removeAllRanges();
    getSelection()?.addRange(range);
    button.textContent = 'Selected: press Ctrl+C';
  }
  window.setTimeout(() => (button.textContent = 'Copy'), 2000);
}

function init(): void {
  el.preset.replaceChildren(...PRESETS.map((preset) => new Option(preset.label, preset.id, false, preset.id === DEFAULT_PRESET)));
  markUnsupportedCodecs();
  el.form.addEventListener('submit', (event) => {
    event.preventDefault();
    void goLive();
  });
  el.stop.addEventListener('click', () => {
    if (session) endSession(session, 'stopped', 'Stopped: viewers see the stream end');
  });
  el.retryMedia.addEventListener('click', () => void startMedia());
  el.toggles.video.addEventListener('click', () => void toggle('video'));
  el.toggles.audio.addEventListener('click', () => void toggle('audio'));
  el.devices.video.addEventListener('change', () => void switchDevice('video'));
  el.devices.audio.addEventListener('change', () => void switchDevice('audio'));
  el.preset.addEventListener('change', () => void applyPreset());
  for (const button of Array.from(document.querySelectorAll<HTMLButtonElement>('button.copy'))) {
    button.addEventListener('click', () => void copyLink(button));
  }
  navigator.mediaDevices?.addEventListener('devicechange', () => void refreshDeviceLists());
  window.addEventListener('pagehide', () => session?.close());

  new LiveFeed({
    snapshot(peerIds) {
      livePeers.clear();
      peerIds.forEach((peerId) => livePeers.add(peerId));
      if (session && livePeers.has(session.peerId)) markLive(session);
    },
    live(peerId) {
      livePeers.add(peerId);
      if (session?.peerId === peerId) markLive(session);
    },
    ended(peerId) {
      livePeers.delete(peerId);
      if (session?.peerId === peerId && el.status.dataset.state === 'live') {
        // Still connected and sending: the server's HLS output for us stopped (it may restart it).
        el.liveBadge.hidden = true;
        setState('connected', 'Sending, but the server ended the HLS stream; waiting for it to come back…');
      }
    },
    connection(state, detail) {
      // Shown where the HLS details go, so it never hides a real error message.
      if (state === 'retrying' && session) el.serverInfo.textContent = `HLS state unknown: ${detail}`;
    },
  });

  void startMedia();
}

init();
