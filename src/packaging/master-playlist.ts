import { mediaPlaylistName } from './hls-names';

export interface MasterPlaylistInput {
  streamId: string;
  /** Present when the stream has video: its codec string and size from the segments' SPS. */
  video?: { codec: string; width?: number; height?: number };
  audio?: { codec: string; channels: number };
  /** Peak bits per second of all renditions together, measured from segment sizes. */
  bandwidth: number;
  averageBandwidth?: number;
  /** The media playlists' names (the live ones by default; a recording's VOD ones). */
  playlistName?: (rendition: 'video' | 'audio') => string;
}

/**
 * The master playlist strict players accept: CODECS from the real stream, BANDWIDTH at least the
 * measured peak, RESOLUTION once known, audio as an EXT-X-MEDIA rendition group.
 */
export function renderMasterPlaylist(input: MasterPlaylistInput): string {
  const { streamId, video, audio } = input;
  const playlist = input.playlistName ?? ((rendition: 'video' | 'audio') => mediaPlaylistName(streamId, rendition));
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-INDEPENDENT-SEGMENTS'];
  const attrs = [`BANDWIDTH=${Math.ceil(input.bandwidth)}`];
  if (input.averageBandwidth) attrs.push(`AVERAGE-BANDWIDTH=${Math.ceil(input.averageBandwidth)}`);
  attrs.push(`CODECS="${[video?.codec, audio?.codec].filter(Boolean).join(',')}"`);
  if (video?.width && video.height) attrs.push(`RESOLUTION=${video.width}x${video.height}`);
  if (video && audio) {
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="${audio.channels}",URI="${playlist('audio')}"`,
    );
    attrs.push('AUDIO="aud"');
  }
  if (!video && !audio) throw new RangeError('a master playlist needs at least one rendition');
  lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, playlist(video ? 'video' : 'audio'));
  return lines.join('\n') + '\n';
}
