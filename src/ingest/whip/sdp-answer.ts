import { randomInt } from 'node:crypto';
import { write } from 'sdp-transform';
import type { MediaAttributes, MediaDescription, SessionDescription } from 'sdp-transform';
import type { DtlsParameters, IceCandidate, IceParameters } from 'mediasoup/node/lib/WebRtcTransport';
import type { RtpParameters } from 'mediasoup/node/lib/RtpParameters';
import type { WhipProducerPlan } from './produce-parameters';
import type { OfferedMedia, WhipOffer } from './sdp-offer';

/** What the answer needs of a mediasoup WebRtcTransport (a WebRtcTransport itself fits). */
export interface WhipTransportParameters {
  iceParameters: IceParameters;
  iceCandidates: IceCandidate[];
  dtlsParameters: DtlsParameters;
}

/**
 * The client's DTLS parameters for `transport.connect({ dtlsParameters })`: the client is the DTLS
 * client (we answer a=setup:passive), with its fingerprints (mediasoup checks the first).
 */
export function remoteDtlsParameters(offer: WhipOffer): DtlsParameters {
  return { role: 'client', fingerprints: offer.dtls.fingerprints.map((f) => ({ ...f })) };
}

/**
 * The SDP answer: ICE-lite with the transport's candidates, DTLS server (a=setup:passive), every
 * offered m-section in the same order with the same mid — the planned ones recvonly with only the
 * chosen codec (and its RTX), the kept header extensions and simulcast rids, the others rejected
 * with port 0.
 */
export function buildWhipAnswer(offer: WhipOffer, plans: WhipProducerPlan[], transport: WhipTransportParameters): string {
  const candidates = transport.iceCandidates.map((c) => ({
    foundation: String(c.foundation),
    component: 1,
    transport: c.protocol,
    priority: c.priority,
    ip: c.ip,
    port: c.port,
    type: c.type ?? 'host',
    ...(c.protocol === 'tcp' ? { tcptype: c.tcpType ?? 'passive' } : {}),
  }));
  const main = transport.iceCandidates.find((c) => c.protocol === 'udp') ?? transport.iceCandidates[0];
  const address = main?.ip ?? '0.0.0.0';
  const connection = { version: address.includes(':') ? 6 : 4, ip: address };
  const fingerprint = answerFingerprint(transport.dtlsParameters);
  const accepted = new Map(plans.map((p) => [p.mid, p]));

  const media: MediaDescription[] = offer.sections.map((section) => {
    const plan = section.usable ? accepted.get(section.mid) : undefined;
    if (!section.usable || !plan) {
      const formats = section.usable ? section.codecs.map((c) => c.payloadType).join(' ') : section.formats;
      return {
        type: section.usable ? section.kind : section.media,
        port: 0,
        protocol: section.protocol,
        payloads: formats || '0',
        connection: { version: 4, ip: '0.0.0.0' },
        ...(section.mid !== undefined ? { mid: section.mid } : {}),
        direction: 'inactive',
        rtp: [],
        fmtp: [],
      } as MediaDescription;
    }
    return {
      type: section.kind,
      port: main?.port ?? 9,
      protocol: section.protocol,
      payloads: plan.options.rtpParameters.codecs.map((c) => c.payloadType).join(' '),
      connection,
      mid: section.mid,
      direction: 'recvonly',
      iceUfrag: transport.iceParameters.usernameFragment,
      icePwd: transport.iceParameters.password,
      candidates,
      endOfCandidates: 'end-of-candidates',
      fingerprint,
      setup: 'passive',
      rtcpMux: 'rtcp-mux',
      ...(section.rtcpReducedSize ? { rtcpRsize: 'rtcp-rsize' } : {}),
      ...codecLines(section, plan.options.rtpParameters),
      ext: (plan.options.rtpParameters.headerExtensions ?? []).map((e) => ({ value: e.id, uri: e.uri })),
      ...(section.simulcastRids
        ? {
            rids: section.simulcastRids.map((id) => ({ id, direction: 'recv' })),
            simulcast: { dir1: 'recv', list1: section.simulcastRids.join(';') },
          }
        : {}),
    } as MediaDescription;
  });

  const session: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: randomInt(1, 2 ** 47), sessionVersion: 1, netType: 'IN', ipVer: 4, address: '0.0.0.0' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    ...(offer.bundle ? { groups: [{ type: 'BUNDLE', mids: offer.bundle.filter((mid) => accepted.has(mid)).join(' ') }] } : {}),
    ...(offer.extmapAllowMixed ? { extmapAllowMixed: 'extmap-allow-mixed' } : {}),
    media,
  } as SessionDescription;
  return write(session);
}

/** rtpmap/fmtp/rtcp-fb of the chosen codec and its RTX, with the encoding names the client wrote. */
function codecLines(section: OfferedMedia, rtp: RtpParameters): Pick<MediaAttributes, 'rtp' | 'fmtp' | 'rtcpFb'> {
  const lines: Required<Pick<MediaAttributes, 'rtp' | 'fmtp' | 'rtcpFb'>> = { rtp: [], fmtp: [], rtcpFb: [] };
  for (const codec of rtp.codecs) {
    const offered = section.codecs.find((c) => c.payloadType === codec.payloadType);
    const name = offered?.name ?? codec.mimeType.split('/')[1];
    lines.rtp.push({
      payload: codec.payloadType,
      codec: name,
      rate: codec.clockRate,
      ...(codec.channels ? { encoding: codec.channels } : {}),
    });
    // sprop-* describe what the client sends (its SPS/PPS, its stereo capture): not ours to echo.
    const config = Object.entries(codec.parameters ?? {})
      .filter(([key]) => !key.startsWith('sprop-'))
      .map(([key, value]) => `${key}=${String(value)}`)
      .join(';');
    if (config) lines.fmtp.push({ payload: codec.payloadType, config });
    for (const fb of codec.rtcpFeedback ?? []) {
      lines.rtcpFb.push({ payload: codec.payloadType, type: fb.type, ...(fb.parameter ? { subtype: fb.parameter } : {}) });
    }
  }
  return lines;
}

/** sha-256 when the transport has it (every WebRTC stack checks it), else its first fingerprint. */
function answerFingerprint(dtls: DtlsParameters): { type: string; hash: string } {
  const chosen = dtls.fingerprints.find((f) => f.algorithm === 'sha-256') ?? dtls.fingerprints[0];
  if (!chosen) throw new TypeError('the transport has no DTLS fingerprint');
  return { type: chosen.algorithm, hash: chosen.value };
}
