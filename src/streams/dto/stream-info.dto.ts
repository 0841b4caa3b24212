import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { StreamInfo } from '../stream-info';

export class TrackInfoDto {
  @ApiProperty({
    enum: ['rtp', 'filler'],
    description: "rtp: the publisher's media; filler: black video / silence (paused, silent, or no publisher now)",
  })
  source: 'rtp' | 'filler';
  @ApiProperty({ example: 'H264', description: 'Codec the publisher sends (H264, VP8, VP9, opus)' }) codecIn: string;
  @ApiProperty({ enum: ['H264', 'AAC'] }) codecOut: 'H264' | 'AAC';
  @ApiProperty({ enum: ['copy', 'transcode'], description: 'copy: H264 copied into the segments; transcode: re-encoded' })
  mode: 'copy' | 'transcode';
  @ApiProperty({ description: 'The publisher paused this track (filler media keeps the timeline moving)' }) paused: boolean;
  @ApiProperty({ description: 'No RTP arrived for a while without a pause (filler media keeps the timeline moving)' }) silent: boolean;
  @ApiPropertyOptional({ description: 'Simulcast transcoded (VP8/VP9): the spatial layer fed to FFmpeg' }) simulcastLayer?: number;
  @ApiPropertyOptional({
    description: 'Simulcast copied (H264): each video rendition, the encoding (rid) it carries and whether that encoding flows now',
    example: [{ rendition: 'video', encoding: 'r2', flowing: true }],
  })
  renditions?: Array<{ rendition: string; encoding: string; flowing: boolean }>;
  @ApiPropertyOptional({ example: '640x480', description: 'From the SPS of the latest segment' }) resolution?: string;
  @ApiPropertyOptional({ example: 950, description: 'Average bitrate of the segments written so far' }) bitrateKbps?: number;
}

class TracksDto {
  @ApiPropertyOptional({ type: TrackInfoDto }) video?: TrackInfoDto;
  @ApiPropertyOptional({ type: TrackInfoDto }) audio?: TrackInfoDto;
}

class PlaylistsDto {
  @ApiPropertyOptional({ example: '/live/abc-video.m3u8' }) video?: string;
  @ApiPropertyOptional({ example: '/live/abc-audio.m3u8' }) audio?: string;
}

class SegmentCountsDto {
  @ApiPropertyOptional() video?: number;
  @ApiPropertyOptional() audio?: number;
}

export class StreamInfoDto implements StreamInfo {
  @ApiProperty({ example: 'studio-1', description: "The stream's id: the name its publisher chose, or else the publisher's socket id" })
  peerId: string;
  @ApiProperty({ description: 'The publisher chose the name (the stream outlives its connection)' }) named: boolean;
  @ApiPropertyOptional({ example: 'Nbm4Zqc4p_B15RMwAAAA', description: 'The connection publishing it now; absent while parked or ended' })
  publisherId?: string;
  @ApiProperty({ format: 'date-time' }) startedAt: string;
  @ApiProperty({
    enum: ['starting', 'live', 'parked', 'ended'],
    description: 'parked: its publisher is gone and may come back within the grace period; filler plays',
  })
  state: 'starting' | 'live' | 'parked' | 'ended';
  @ApiPropertyOptional({ format: 'date-time' }) endedAt?: string;
  @ApiPropertyOptional({
    example: '/live/studio-1.rec-20261203T161530Z.m3u8',
    description: 'VOD master of the recording (HLS_RETENTION_SECONDS=-1), once ended',
  })
  recordingUrl?: string;
  @ApiProperty({ example: '/live/Nbm4Zqc4p_B15RMwAAAA.m3u8' }) masterUrl: string;
  @ApiProperty({
    example: '/live/Nbm4Zqc4p_B15RMwAAAA.ll.m3u8',
    description: 'Low-Latency HLS master (fMP4 parts, blocking reload); play with an LL-HLS player (hls.js lowLatencyMode)',
  })
  llMasterUrl: string;
  @ApiProperty({ type: PlaylistsDto }) playlists: PlaylistsDto;
  @ApiProperty({ type: TracksDto }) tracks: TracksDto;
  @ApiProperty({ type: SegmentCountsDto, description: 'Segments written per rendition' }) segments: SegmentCountsDto;
  @ApiProperty({ description: 'FFmpeg runs after the first (pause/resume, late producer, crash)' }) restarts: number;
  @ApiPropertyOptional({ example: 2, description: 'Median time between video keyframes (s), once measured' })
  keyframeIntervalSeconds?: number;
  @ApiProperty({
    type: [String],
    description:
      'Things to know, in words: e.g. keyframes come slower than the segment target (a publisher such as OBS that ignores keyframe requests), so segments last that long',
  })
  notices: string[];
  @ApiPropertyOptional({
    example: 'webrtc-hls-0',
    description: 'Cluster mode (REDIS_URL): the node that has the stream; its files play through any node',
  })
  node?: string;
}
