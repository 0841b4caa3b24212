import type { RtpCapabilities } from 'mediasoup/node/lib/RtpParameters';

/** Header extensions that only serve the sender's bandwidth estimation. */
const BWE_EXTENSIONS = new Set([
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
]);
const BWE_FEEDBACK = new Set(['transport-cc', 'goog-remb']);

/**
 * What a consumer that feeds FFmpeg asks for: the router's capabilities without bandwidth estimation.
 * With transport-cc or REMB, mediasoup probes the link with padding packets of its own (SSRC 1234,
 * payload type 127) on the video consumer's port; FFmpeg's RTP demuxer takes them as packets of the
 * video stream, whose sequence numbers then jump back and forth: measured on one H264 publisher, the
 * jitter buffer reported thousands of packets "missed" and dropped real ones as "too late", and the
 * copied H264 it wrote failed to decode in Chromium (PIPELINE_ERROR_DECODE: a fatal player error).
 * FFmpeg on loopback needs no estimate: the feed is sent as the publisher sends it.
 */
export function ffmpegRtpCapabilities(router: RtpCapabilities): RtpCapabilities {
  return {
    codecs: (router.codecs ?? []).map((codec) => ({
      ...codec,
      rtcpFeedback: (codec.rtcpFeedback ?? []).filter((fb) => !BWE_FEEDBACK.has(fb.type)),
    })),
    headerExtensions: (router.headerExtensions ?? []).filter((ext) => !BWE_EXTENSIONS.has(ext.uri)),
  };
}
