import { mediaPlaylistName } from './hls-names';

/** One video rendition (a variant stream): what its segments really carry. */
export interface VideoVariant {
  rendition: string;
  /** RFC 6381 codec string from its SPS, e.g. `avc1.42e01f`. */
  codec: string;
  width?: number;
  height?: number;
  frameRate?: number;
  /** Peak bits per second of this rendition (audio is added by the renderer). */
  bandwidth: number;
  averageBandwidth?: number;
}

export interface MasterPlaylistInput {
  streamId: string;
  /** Video renditions, the top one first; empty for an audio-only stream. */
  video: VideoVariant[];
  audio?: { codec: string; channels: number; bandwidth: number; averageBandwidth?: number };
  /** The media playlists' names (the live ones by default; a recording's VOD ones). */
  playlistName?: (rendition: string) => string;
}

/**
 * The master playlist strict players accept: one EXT-X-STREAM-INF per video rendition with CODECS
 * from the real stream, BANDWIDTH at least the peak (the audio's included), RESOLUTION and FRAME-RATE
 * once known; audio as one shared EXT-X-MEDIA rendition group.
 */
export function renderMasterPlaylist(input: MasterPlaylistInput): string {
  const { streamId, video, audio } = input;
  const playlist = input.playlistName ?? ((rendition: string) => mediaPlaylistName(streamId, rendition));
  if (video.length === 0 && !audio) throw new RangeError('a master playlist needs at least one rendition');
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (video.length > 0 && audio) {
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="${audio.channels}",URI="${playlist('audio')}"`,
    );
  }
  for (const variant of video) {
    const attrs = [`BANDWIDTH=${Math.ceil(variant.bandwidth + (audio?.bandwidth ?? 0))}`];
    if (variant.averageBandwidth) attrs.push(`AVERAGE-BANDWIDTH=${Math.ceil(variant.averageBandwidth + (audio?.averageBandwidth ?? 0))}`);
    attrs.push(`CODECS="${[variant.codec, audio?.codec].filter(Boolean).join(',')}"`);
    if (variant.width && variant.height) attrs.push(`RESOLUTION=${variant.width}x${variant.height}`);
    if (variant.frameRate) attrs.push(`FRAME-RATE=${variant.frameRate.toFixed(3)}`);
    if (audio) attrs.push('AUDIO="aud"');
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, playlist(variant.rendition));
  }
  if (video.length === 0 && audio) {
    const attrs = [`BANDWIDTH=${Math.ceil(audio.bandwidth)}`];
    if (audio.averageBandwidth) attrs.push(`AVERAGE-BANDWIDTH=${Math.ceil(audio.averageBandwidth)}`);
    attrs.push(`CODECS="${audio.codec}"`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, playlist('audio'));
  }
  return lines.join('\n') + '\n';
}
