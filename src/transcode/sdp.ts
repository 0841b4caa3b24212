import type { MediaKind, RtpCodecParameters } from 'mediasoup/node/lib/RtpParameters';

export interface SdpTrack {
  kind: MediaKind;
  /** FFmpeg's RTP port; RTCP (sender reports, which align audio and video) arrives on rtcpPort. */
  rtpPort: number;
  rtcpPort: number;
  codec: RtpCodecParameters;
}

/**
 * The SDP FFmpeg reads: one m-line per track from the consumer's rtpParameters, so one process
 * receives both kinds and can put them on one timeline using the RTCP sender reports.
 */
export function buildSdp(tracks: SdpTrack[], ip = '127.0.0.1'): string {
  const lines = ['v=0', `o=- 0 0 IN IP4 ${ip}`, 's=webrtc-hls', `c=IN IP4 ${ip}`, 't=0 0'];
  for (const { kind, rtpPort, rtcpPort, codec } of tracks) {
    const pt = codec.payloadType;
    const [, name] = codec.mimeType.split('/');
    const channels = kind === 'audio' && codec.channels && codec.channels > 1 ? `/${codec.channels}` : '';
    lines.push(`m=${kind} ${rtpPort} RTP/AVP ${pt}`, `a=rtcp:${rtcpPort}`, `a=rtpmap:${pt} ${name}/${codec.clockRate}${channels}`);
    const fmtp = Object.entries(codec.parameters ?? {})
      .map(([key, value]) => `${key}=${value}`)
      .join(';');
    if (fmtp) lines.push(`a=fmtp:${pt} ${fmtp}`);
    lines.push('a=sendonly');
  }
  return lines.join('\n') + '\n';
}
