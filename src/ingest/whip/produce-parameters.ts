import { getProducerRtpParametersMapping } from 'mediasoup/node/lib/ortc';
import type { ProducerOptions } from 'mediasoup/node/lib/Producer';
import type {
  RtcpFeedback,
  RtpCapabilities,
  RtpCodecCapability,
  RtpCodecParameters,
  RtpEncodingParameters,
  RtpParameters,
} from 'mediasoup/node/lib/RtpParameters';
import { UnsupportedCodecError } from './errors';
import type { OfferedCodec, OfferedMedia, WhipOffer } from './sdp-offer';

/** What one accepted m-section becomes: the arguments of `transport.produce()`. */
export interface WhipProducerPlan {
  mid: string;
  kind: OfferedMedia['kind'];
  /** `kind` and `rtpParameters` for `transport.produce()`; mediasoup mutates them, so produce each plan once. */
  options: ProducerOptions;
}

const isRtx = (mimeType: string): boolean => /\/rtx$/i.test(mimeType);
const isH264 = (mimeType: string): boolean => mimeType.toLowerCase() === 'video/h264';

/**
 * The producers for every audio/video section of the offer, each with the router's first codec
 * (in the router's order) that an offered codec matches. Throws UnsupportedCodecError (422) naming
 * the section, what it offered and what the router takes, when a section has no such codec.
 */
export function planProducers(offer: WhipOffer, routerCapabilities: RtpCapabilities): WhipProducerPlan[] {
  return offer.media.map((media) => ({ mid: media.mid, kind: media.kind, options: producerOptions(media, routerCapabilities) }));
}

/** `ProducerOptions` (mediasoup 3.12) for one offered m-section. */
export function producerOptions(media: OfferedMedia, routerCapabilities: RtpCapabilities): ProducerOptions {
  const chosen = chooseCodec(media, routerCapabilities);
  if (!chosen) {
    throw new UnsupportedCodecError(
      `no codec we can take in the ${media.kind} m-section (mid ${media.mid}): it offers ${describeOffered(media.codecs)}; ` +
        `we take ${describeAccepted(media.kind, routerCapabilities)}`,
    );
  }
  const { offered, capability, parameters } = chosen;
  const codecs: RtpCodecParameters[] = [
    {
      mimeType: capability.mimeType,
      payloadType: offered.payloadType,
      clockRate: offered.clockRate,
      ...(offered.channels !== undefined && capability.channels !== undefined ? { channels: offered.channels } : {}),
      parameters,
      rtcpFeedback: commonFeedback(offered.rtcpFeedback, capability.rtcpFeedback ?? []),
    },
  ];
  // RTX only where both sides have it for this codec (the router has none for audio).
  const routerRtx = routerCapabilities.codecs?.some((c) => isRtx(c.mimeType) && c.parameters?.apt === capability.preferredPayloadType);
  const withRtx = offered.rtxPayloadType !== undefined && Boolean(routerRtx);
  if (withRtx) {
    codecs.push({
      mimeType: `${media.kind}/rtx`,
      payloadType: offered.rtxPayloadType!,
      clockRate: offered.clockRate,
      parameters: { apt: offered.payloadType },
      rtcpFeedback: [],
    });
  }
  const routerExtensions = new Set((routerCapabilities.headerExtensions ?? []).filter((e) => e.kind === media.kind).map((e) => e.uri));
  const encodings: RtpEncodingParameters[] = media.encodings.map((e) => {
    if (e.rid !== undefined) return { rid: e.rid };
    if (e.ssrc === undefined) return {};
    return withRtx && e.rtxSsrc !== undefined ? { ssrc: e.ssrc, rtx: { ssrc: e.rtxSsrc } } : { ssrc: e.ssrc };
  });
  const rtpParameters: RtpParameters = {
    mid: media.mid,
    codecs,
    headerExtensions: media.headerExtensions
      .filter((e) => routerExtensions.has(e.uri))
      .map((e) => ({ uri: e.uri, id: e.id, encrypt: false, parameters: {} })),
    encodings,
    rtcp: { ...(media.cname !== undefined ? { cname: media.cname } : {}), reducedSize: media.rtcpReducedSize },
  };
  return { kind: media.kind, rtpParameters };
}

interface ChosenCodec {
  offered: OfferedCodec;
  capability: RtpCodecCapability;
  /** The offered fmtp, with H264's profile-level-id as mediasoup settles it for this capability. */
  parameters: Record<string, string | number>;
}

/**
 * The router's first codec that one of the offered codecs matches, by mediasoup's own rules
 * (ortc's matchCodecs, strict: MIME type, clock rate, channels, H264 packetization-mode and profile
 * through h264-profile-level-id, VP9 profile-id). The router's H264 entries are tried before its
 * other video codecs, each group in router order: HLS copies H264 and must transcode VP8/VP9, and
 * H264 High sits after VP9 in the router's list only to keep that list's start unchanged.
 */
export function chooseCodec(media: OfferedMedia, routerCapabilities: RtpCapabilities): ChosenCodec | undefined {
  const candidates = (routerCapabilities.codecs ?? []).filter((c) => c.kind === media.kind && !isRtx(c.mimeType));
  const h264First = [...candidates.filter((c) => isH264(c.mimeType)), ...candidates.filter((c) => !isH264(c.mimeType))];
  for (const capability of h264First) {
    for (const offered of media.codecs) {
      const parameters = matchWithMediasoup(offered, capability);
      if (parameters) return { offered, capability, parameters };
    }
  }
  return undefined;
}

/**
 * Asks mediasoup itself whether `offered` matches `capability`: getProducerRtpParametersMapping is
 * what transport.produce() runs, and it throws UnsupportedError on a mismatch. It may rewrite the
 * codec's profile-level-id (as produce() would), so it gets a copy and we keep the result.
 */
function matchWithMediasoup(offered: OfferedCodec, capability: RtpCodecCapability): Record<string, string | number> | undefined {
  const codec: RtpCodecParameters = {
    mimeType: offered.mimeType,
    payloadType: offered.payloadType,
    clockRate: offered.clockRate,
    ...(offered.channels !== undefined && capability.channels !== undefined ? { channels: offered.channels } : {}),
    parameters: { ...offered.parameters },
  };
  // mediasoup's Opus capability has channels 2: a mono "opus/48000" would not be Opus in WebRTC (RFC 7587 says /2).
  if (offered.channels !== undefined && capability.channels === undefined && offered.channels !== 1) return undefined;
  try {
    getProducerRtpParametersMapping({ codecs: [codec], encodings: [{ ssrc: 1 }] }, { codecs: [capability], headerExtensions: [] });
    return codec.parameters as Record<string, string | number>;
  } catch {
    return undefined;
  }
}

function commonFeedback(offered: Array<{ type: string; parameter: string }>, supported: RtcpFeedback[]): RtcpFeedback[] {
  return offered.filter((fb) => supported.some((s) => s.type === fb.type && (s.parameter ?? '') === fb.parameter));
}

function describeOffered(codecs: OfferedCodec[]): string {
  if (codecs.length === 0) return 'no codec';
  return codecs.map((c) => `${c.name}${describeParameters(c.parameters)}`).join(', ');
}

function describeAccepted(kind: OfferedMedia['kind'], capabilities: RtpCapabilities): string {
  const accepted = (capabilities.codecs ?? []).filter((c) => c.kind === kind && !isRtx(c.mimeType));
  if (accepted.length === 0) return `no ${kind}`;
  return accepted.map((c) => `${c.mimeType.split('/')[1]}${describeParameters(c.parameters ?? {})}`).join(', ');
}

/** The parameters that decide a match, e.g. " (profile-level-id 42e01f, packetization-mode 1)". */
function describeParameters(parameters: Record<string, unknown>): string {
  const keys = ['profile-level-id', 'packetization-mode', 'profile-id'].filter((k) => parameters[k] !== undefined);
  return keys.length ? ` (${keys.map((k) => `${k} ${String(parameters[k])}`).join(', ')})` : '';
}
