import type { RtpCodecCapability } from 'mediasoup/node/lib/RtpParameters';

const h264 = (profileLevelId: string): RtpCodecCapability => ({
  kind: 'video',
  mimeType: 'video/H264',
  clockRate: 90000,
  parameters: { 'packetization-mode': 1, 'profile-level-id': profileLevelId, 'level-asymmetry-allowed': 1 },
});

/**
 * What every router offers: Opus; H264 (Constrained Baseline and Main, packetization-mode 1); VP8;
 * VP9; then H264 High and Constrained High.
 *
 * Order matters: mediasoup numbers payload types in this order, and getRouterRtpCapabilities hands
 * the list to the original front end, so the first five entries stay exactly as they were. High
 * comes last for encoders that signal it (GStreamer's x264enc with profile=high offers 64001f,
 * Safari and hardware encoders 640c1f); mediasoup matches H264 by profile (h264-profile-level-id),
 * not level, so one entry per profile covers every level. OBS signals 42e01f whatever x264 profile
 * it encodes (libdatachannel's default), so it lands on Constrained Baseline.
 */
export const MEDIA_CODECS: RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  h264('42e01f'),
  h264('4d001f'),
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 0 } },
  h264('64001f'),
  h264('640c1f'),
];
