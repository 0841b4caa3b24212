import { parse, parseParams, parseSimulcastStreamList } from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import type { DtlsFingerprint } from 'mediasoup/node/lib/WebRtcTransport';
import { InvalidOfferError } from './errors';

export type MediaKind = 'audio' | 'video';

/** The RTP header extensions we keep (RFC 8843 mid, RFC 8852 rid and repaired rid, and the two BWE ones). */
export const HEADER_EXTENSION_URIS = [
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
] as const;
export type HeaderExtensionUri = (typeof HEADER_EXTENSION_URIS)[number];
export const MID_EXTENSION_URI: HeaderExtensionUri = 'urn:ietf:params:rtp-hdrext:sdes:mid';
export const RID_EXTENSION_URI: HeaderExtensionUri = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';

/** Fingerprint algorithms mediasoup's DTLS accepts (it refuses a connect() with any other). */
const DTLS_ALGORITHMS = ['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'];

export interface OfferedRtcpFeedback {
  type: string;
  parameter: string;
}

/** One media codec of an m-section (RTX is attached to the codec it repairs). */
export interface OfferedCodec {
  payloadType: number;
  /** The encoding name as written in a=rtpmap (`H264`, `opus`, `OPUS`). */
  name: string;
  /** `<kind>/<name>`, as mediasoup spells codecs (compared case-insensitively). */
  mimeType: string;
  clockRate: number;
  channels?: number;
  /** a=fmtp, numbers as numbers; H264's profile-level-id always a string. */
  parameters: Record<string, string | number>;
  rtcpFeedback: OfferedRtcpFeedback[];
  /** Payload type of the RTX codec whose a=fmtp apt= names this codec. */
  rtxPayloadType?: number;
}

export interface OfferedHeaderExtension {
  uri: HeaderExtensionUri;
  id: number;
}

/** One RTP stream the client will send: a simulcast rid, or an SSRC with its RTX SSRC (a=ssrc-group:FID). */
export interface OfferedEncoding {
  rid?: string;
  ssrc?: number;
  rtxSsrc?: number;
}

/** An audio or video m-section we can receive. */
export interface OfferedMedia {
  usable: true;
  /** Position of the m= line in the offer. */
  index: number;
  kind: MediaKind;
  mid: string;
  direction: 'sendonly' | 'sendrecv';
  /** `UDP/TLS/RTP/SAVPF` and friends, echoed in the answer. */
  protocol: string;
  /** Port 0 with a=bundle-only: the media rides on the BUNDLE transport (RFC 8843 §6). */
  bundleOnly: boolean;
  codecs: OfferedCodec[];
  headerExtensions: OfferedHeaderExtension[];
  /** Simulcast rids in a=simulcast:send order (first alternative of each stream), else absent. */
  simulcastRids?: string[];
  /** RTP streams to expect: one per simulcast rid, the SSRCs of a=ssrc-group:SIM, one SSRC, or one `{}`. */
  encodings: OfferedEncoding[];
  cname?: string;
  rtcpReducedSize: boolean;
}

/** An m-section we do not take (data channel, disabled with port 0, another media type): rejected in the answer. */
export interface UnusedSection {
  usable: false;
  index: number;
  media: string;
  mid?: string;
  protocol: string;
  /** The m= line's format list, echoed in the rejected m= line. */
  formats: string;
  reason: string;
}

export type OfferSection = OfferedMedia | UnusedSection;

export interface WhipOffer {
  /** Every m= line, in offer order. */
  sections: OfferSection[];
  /** The audio and video sections we receive (at most one of each), in offer order. */
  media: OfferedMedia[];
  /** Mids of the BUNDLE group that holds our media, when the offer has one. */
  bundle?: string[];
  /** a=extmap-allow-mixed at session level (two-byte header extensions may appear). */
  extmapAllowMixed: boolean;
  ice: { usernameFragment: string; password: string };
  dtls: {
    /** What the client offered: it becomes the DTLS client either way (we answer a=setup:passive). */
    setup: 'actpass' | 'active';
    /** Algorithms mediasoup accepts only, values in upper-case hex (mediasoup compares them as strings). */
    fingerprints: DtlsFingerprint[];
  };
}

const ACCEPTED_SHAPE = 'one audio and/or one video m-section, sendonly or sendrecv, over DTLS-SRTP with rtcp-mux, bundled together';

/** Parses and checks a WHIP offer. Throws InvalidOfferError (400) with what is wrong and what we accept. */
export function parseWhipOffer(body: string): WhipOffer {
  const sdp = typeof body === 'string' ? body.replace(/^\uFEFF/, '').trimStart() : '';
  if (!/^v=0\r?$/.test(sdp.split('\n', 1)[0])) throw new InvalidOfferError('the body is not an SDP offer (it must start with "v=0")');
  let session: SessionDescription;
  try {
    session = parse(sdp);
  } catch (error) {
    throw new InvalidOfferError(`the SDP offer cannot be parsed: ${(error as Error).message}`);
  }
  const mediaSections = session.media ?? [];
  if (mediaSections.length === 0) throw new InvalidOfferError(`the offer has no media (m= line); we accept ${ACCEPTED_SHAPE}`);

  const rawFingerprints = fingerprintLines(sdp);
  const bundleGroups = (session.groups ?? [])
    .filter((g) => String(g.type).toUpperCase() === 'BUNDLE')
    .map((g) => String(g.mids).split(/\s+/).filter(Boolean));
  const mids = new Set<string>();
  const sections: OfferSection[] = mediaSections.map((m, index) => {
    const mid = m.mid === undefined ? undefined : String(m.mid);
    if (mid !== undefined) {
      if (mids.has(mid)) throw new InvalidOfferError(`mid "${mid}" appears on two m-sections; every m-section needs its own a=mid`);
      mids.add(mid);
    }
    return readSection(m, index, mid, bundleGroups);
  });

  const media = sections.filter((s): s is OfferedMedia => s.usable);
  if (media.length === 0) {
    const why = sections.map((s) => (s.usable ? '' : `m=${s.media} (${s.reason})`)).join(', ');
    throw new InvalidOfferError(`the offer has no audio or video we can receive: ${why}; we accept ${ACCEPTED_SHAPE}`);
  }
  for (const kind of ['audio', 'video'] as const) {
    const count = media.filter((m) => m.kind === kind).length;
    if (count > 1) throw new InvalidOfferError(`the offer has ${count} ${kind} m-sections; we accept ${ACCEPTED_SHAPE}`);
  }

  // One mediasoup WebRtcTransport carries everything: the media must share one BUNDLE group.
  const bundle = bundleGroups.find((group) => media.some((m) => group.includes(m.mid)));
  if (media.length > 1 && (!bundle || !media.every((m) => bundle.includes(m.mid)))) {
    throw new InvalidOfferError(
      `the audio and video m-sections must be in one a=group:BUNDLE (mids ${media.map((m) => m.mid).join(', ')}): we receive them on one ICE/DTLS transport`,
    );
  }

  // ICE and DTLS come from the BUNDLE's tagged (first) m-section, else from the media itself, else the session.
  const tagIndex = bundle ? mediaSections.findIndex((m) => String(m.mid) === bundle[0]) : media[0].index;
  const tag = mediaSections[tagIndex >= 0 ? tagIndex : media[0].index];
  const ufrag = tag.iceUfrag ?? session.iceUfrag;
  const pwd = tag.icePwd ?? session.icePwd;
  if (ufrag === undefined || pwd === undefined || String(ufrag) === '' || String(pwd) === '') {
    throw new InvalidOfferError('the offer has no ICE credentials (a=ice-ufrag and a=ice-pwd)');
  }
  const offered = rawFingerprints.get(tagIndex)?.length ? rawFingerprints.get(tagIndex)! : (rawFingerprints.get(-1) ?? []);
  if (offered.length === 0) throw new InvalidOfferError('the offer has no DTLS fingerprint (a=fingerprint)');
  const fingerprints = offered
    .filter((f) => DTLS_ALGORITHMS.includes(f.algorithm))
    .map((f) => ({ algorithm: f.algorithm, value: f.value.toUpperCase() }) as DtlsFingerprint);
  if (fingerprints.length === 0) {
    throw new InvalidOfferError(
      `the offer's DTLS fingerprints use ${offered.map((f) => f.algorithm).join(', ')}; we accept ${DTLS_ALGORITHMS.join(', ')}`,
    );
  }
  const setup = String(tag.setup ?? session.setup ?? 'actpass').toLowerCase();
  if (setup !== 'actpass' && setup !== 'active') {
    throw new InvalidOfferError(
      `a=setup:${setup} is not accepted: the server is the DTLS server (it answers a=setup:passive), so offer actpass or active`,
    );
  }
  if (!tag.rtcpMux) throw new InvalidOfferError('the offer lacks a=rtcp-mux: we receive RTP and RTCP on one port only');

  return {
    sections,
    media,
    bundle,
    extmapAllowMixed: Boolean(session.extmapAllowMixed),
    ice: { usernameFragment: String(ufrag), password: String(pwd) },
    dtls: { setup, fingerprints },
  };
}

function readSection(m: MediaDescription, index: number, mid: string | undefined, bundleGroups: string[][]): OfferSection {
  const formats = String(m.payloads ?? '');
  const unused = (reason: string): UnusedSection => ({ usable: false, index, media: m.type, mid, protocol: m.protocol, formats, reason });
  if (m.type !== 'audio' && m.type !== 'video') return unused(`we receive audio and video only, not ${m.type}`);
  const bundleOnly = Boolean(m.bundleOnly);
  const inBundle = mid !== undefined && bundleGroups.some((g) => g.includes(mid));
  if (m.port === 0 && !bundleOnly) return unused('disabled by the client (port 0)');
  if (bundleOnly && !inBundle) {
    throw new InvalidOfferError(`the ${m.type} m-section has a=bundle-only but is not in an a=group:BUNDLE`);
  }
  if (mid === undefined) throw new InvalidOfferError(`the ${m.type} m-section has no a=mid`);
  if (!/\bRTP\/SAVPF?\b/.test(m.protocol) || !/\bTLS\b/.test(m.protocol)) {
    throw new InvalidOfferError(`the ${m.type} m-section uses ${m.protocol}; we accept DTLS-SRTP (UDP/TLS/RTP/SAVPF)`);
  }
  const direction = String(m.direction ?? 'sendrecv');
  if (direction !== 'sendonly' && direction !== 'sendrecv') {
    throw new InvalidOfferError(
      `the ${m.type} m-section (mid ${mid}) is ${direction}: a WHIP client sends, so it must be sendonly (or sendrecv)`,
    );
  }
  const kind = m.type;
  const headerExtensions = (m.ext ?? [])
    .filter((e) => !e['encrypt-uri'] && (HEADER_EXTENSION_URIS as readonly string[]).includes(e.uri) && e.direction !== 'inactive')
    .map((e) => ({ uri: e.uri as HeaderExtensionUri, id: Number(e.value) }));
  const simulcastRids = readSimulcast(m, mid);
  if (simulcastRids && !headerExtensions.some((e) => e.uri === RID_EXTENSION_URI)) {
    throw new InvalidOfferError(`the ${kind} m-section (mid ${mid}) offers simulcast without the ${RID_EXTENSION_URI} header extension`);
  }
  const encodings: OfferedEncoding[] = simulcastRids ? simulcastRids.map((rid) => ({ rid })) : readSsrcEncodings(m);
  if (
    !simulcastRids &&
    encodings.length === 1 &&
    encodings[0].ssrc === undefined &&
    !headerExtensions.some((e) => e.uri === MID_EXTENSION_URI)
  ) {
    throw new InvalidOfferError(
      `the ${kind} m-section (mid ${mid}) names no RTP stream: it needs a=ssrc, a=simulcast with a=rid, or the ${MID_EXTENSION_URI} header extension`,
    );
  }
  const primarySsrc = encodings[0]?.ssrc;
  const cname = (m.ssrcs ?? []).find((s) => s.attribute === 'cname' && (primarySsrc === undefined || Number(s.id) === primarySsrc))?.value;
  return {
    usable: true,
    index,
    kind,
    mid,
    direction,
    protocol: m.protocol,
    bundleOnly,
    codecs: readCodecs(m, kind),
    headerExtensions,
    simulcastRids,
    encodings,
    cname: cname === undefined ? undefined : String(cname),
    rtcpReducedSize: Boolean(m.rtcpRsize),
  };
}

function readCodecs(m: MediaDescription, kind: MediaKind): OfferedCodec[] {
  const formats = new Set(
    String(m.payloads ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map(Number),
  );
  const fmtp = new Map<number, Record<string, string | number>>();
  for (const f of m.fmtp ?? []) fmtp.set(Number(f.payload), parseParams(String(f.config)) as Record<string, string | number>);
  const feedback = (payloadType: number): OfferedRtcpFeedback[] =>
    (m.rtcpFb ?? [])
      .filter((fb) => String(fb.payload) === '*' || Number(fb.payload) === payloadType)
      .map((fb) => ({ type: fb.type, parameter: fb.subtype ?? '' }));
  const codecs: OfferedCodec[] = [];
  const rtx: Array<{ payloadType: number; apt: number }> = [];
  for (const rtp of m.rtp ?? []) {
    const payloadType = Number(rtp.payload);
    if (!formats.has(payloadType)) continue;
    const parameters = { ...(fmtp.get(payloadType) ?? {}) };
    if (rtp.codec.toLowerCase() === 'rtx') {
      const apt = Number(parameters.apt);
      if (Number.isInteger(apt)) rtx.push({ payloadType, apt });
      continue;
    }
    // sdp-transform turns digit-only values into numbers; a profile-level-id such as 640032 must stay hex text.
    if (parameters['profile-level-id'] !== undefined) parameters['profile-level-id'] = String(parameters['profile-level-id']);
    codecs.push({
      payloadType,
      name: rtp.codec,
      mimeType: `${kind}/${rtp.codec}`,
      clockRate: Number(rtp.rate),
      channels: kind === 'audio' ? Number(rtp.encoding ?? 1) : undefined,
      parameters,
      rtcpFeedback: feedback(payloadType),
    });
  }
  for (const { payloadType, apt } of rtx) {
    const target = codecs.find((c) => c.payloadType === apt);
    if (target && target.rtxPayloadType === undefined) target.rtxPayloadType = payloadType;
  }
  return codecs;
}

/** a=simulcast:send with its a=rid:… send lines (RFC 8853), first alternative of each stream. */
function readSimulcast(m: MediaDescription, mid: string): string[] | undefined {
  const simulcast = m.simulcast;
  if (!simulcast) return undefined;
  const list = simulcast.dir1 === 'send' ? simulcast.list1 : simulcast.dir2 === 'send' ? simulcast.list2 : undefined;
  if (!list) return undefined;
  const rids = parseSimulcastStreamList(String(list)).map((alternatives) => String(alternatives[0].scid));
  const declared = new Set((m.rids ?? []).filter((r) => r.direction === 'send').map((r) => String(r.id)));
  const missing = rids.filter((rid) => !declared.has(rid));
  if (missing.length > 0)
    throw new InvalidOfferError(`a=simulcast in mid ${mid} names rid ${missing.join(', ')} without an a=rid:<id> send line`);
  if (new Set(rids).size !== rids.length) throw new InvalidOfferError(`a=simulcast in mid ${mid} names a rid twice`);
  return rids;
}

/** SSRC signalling: a=ssrc-group:SIM (legacy simulcast), else the first SSRC that no group marks as RTX or FEC. */
function readSsrcEncodings(m: MediaDescription): OfferedEncoding[] {
  const groups = (m.ssrcGroups ?? []).map((g) => ({ semantics: String(g.semantics), ssrcs: String(g.ssrcs).split(/\s+/).map(Number) }));
  const rtxOf = new Map<number, number>();
  const secondary = new Set<number>();
  for (const group of groups) {
    if (group.semantics === 'FID' && group.ssrcs.length === 2) rtxOf.set(group.ssrcs[0], group.ssrcs[1]);
    if (['FID', 'FEC', 'FEC-FR'].includes(group.semantics)) group.ssrcs.slice(1).forEach((ssrc) => secondary.add(ssrc));
  }
  const encoding = (ssrc: number): OfferedEncoding => (rtxOf.has(ssrc) ? { ssrc, rtxSsrc: rtxOf.get(ssrc) } : { ssrc });
  const sim = groups.find((g) => g.semantics === 'SIM');
  if (sim) return sim.ssrcs.map(encoding);
  const primary = (m.ssrcs ?? []).map((s) => Number(s.id)).find((ssrc) => !secondary.has(ssrc));
  return [primary === undefined ? {} : encoding(primary)];
}

/**
 * Every a=fingerprint line per section (-1 = session): sdp-transform keeps only the last one of a
 * section, and RFC 8122 allows several.
 */
function fingerprintLines(sdp: string): Map<number, Array<{ algorithm: string; value: string }>> {
  const found = new Map<number, Array<{ algorithm: string; value: string }>>();
  let section = -1;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) section++;
    const match = /^a=fingerprint:(\S+)\s+(\S+)/.exec(line);
    if (!match) continue;
    const list = found.get(section) ?? [];
    list.push({ algorithm: match[1].toLowerCase(), value: match[2] });
    found.set(section, list);
  }
  return found;
}
