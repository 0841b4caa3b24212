import { nalType, NalType, splitAnnexB, spsPictureSize } from './h264';
import type { PictureSize } from './picture-size';

/** RTP payload formats of H264 (RFC 6184 5.2): one NAL unit (1–23), an aggregate (STAP-A), a fragment (FU-A). */
const STAP_A = 24;
const FU_A = 28;

/**
 * An Annex-B access unit as RTP payloads (RFC 6184, packetization-mode 1): NAL units that fit
 * together go in one STAP-A (a keyframe's SPS and PPS, as browsers send them), a unit too big for
 * one packet in FU-A fragments, any other alone. Access unit delimiters and SEI are left out.
 */
export function packetizeH264(accessUnit: Buffer, maxPayload = 1200): Buffer[] {
  if (maxPayload < 3) throw new RangeError(`an H264 payload needs more than ${maxPayload} bytes`);
  const nals = splitAnnexB(accessUnit).filter((nal) => nalType(nal) !== NalType.AUD && nalType(nal) !== NalType.SEI);
  const payloads: Buffer[] = [];
  let group: Buffer[] = [];
  const flush = () => {
    if (group.length === 1) payloads.push(Buffer.from(group[0]));
    else if (group.length > 1) payloads.push(stapA(group));
    group = [];
  };
  for (const nal of nals) {
    if (nal.length > maxPayload) {
      flush();
      payloads.push(...fuA(nal, maxPayload));
      continue;
    }
    // An aggregate holds its NAL header byte plus a 2-byte size before each unit.
    const grouped = 1 + [...group, nal].reduce((size, n) => size + 2 + n.length, 0);
    if (group.length > 0 && grouped > maxPayload) flush();
    group.push(nal);
  }
  flush();
  return payloads;
}

function stapA(nals: Buffer[]): Buffer {
  // F is set when any unit has it; NRI is the highest of the units'.
  const header = nals.reduce((h, n) => (h & 0x80) | (n[0] & 0x80) | Math.max(h & 0x60, n[0] & 0x60), 0) | STAP_A;
  const parts: Buffer[] = [Buffer.from([header])];
  for (const nal of nals) {
    const size = Buffer.alloc(2);
    size.writeUInt16BE(nal.length);
    parts.push(size, nal);
  }
  return Buffer.concat(parts);
}

function fuA(nal: Buffer, maxPayload: number): Buffer[] {
  const indicator = (nal[0] & 0xe0) | FU_A;
  const type = nal[0] & 0x1f;
  const room = maxPayload - 2;
  const fragments: Buffer[] = [];
  for (let at = 1; at < nal.length; at += room) {
    const start = at === 1 ? 0x80 : 0;
    const end = at + room >= nal.length ? 0x40 : 0;
    fragments.push(Buffer.concat([Buffer.from([indicator, start | end | type]), nal.subarray(at, at + room)]));
  }
  return fragments;
}

/** The NAL units an RTP payload carries whole (one, or those of a STAP-A); none for a fragment. */
function wholeNals(payload: Buffer): Buffer[] {
  const type = nalType(payload);
  if (type >= 1 && type <= 23) return [payload];
  if (type !== STAP_A) return [];
  const nals: Buffer[] = [];
  for (let at = 1; at + 2 <= payload.length;) {
    const size = payload.readUInt16BE(at);
    if (size === 0 || at + 2 + size > payload.length) break;
    nals.push(payload.subarray(at + 2, at + 2 + size));
    at += 2 + size;
  }
  return nals;
}

/**
 * Whether an RTP payload starts a keyframe: it carries an SPS or an IDR slice whole, or it is the
 * first fragment of one. A browser sends the SPS and PPS right before the IDR, so the first packet
 * of a keyframe is the one with the SPS.
 */
export function isH264KeyframeStart(payload: Buffer): boolean {
  const starts = (type: number) => type === NalType.SPS || type === NalType.IDR;
  if (nalType(payload) === FU_A) return payload.length > 1 && (payload[1] & 0x80) !== 0 && starts(payload[1] & 0x1f);
  return wholeNals(payload).some((nal) => starts(nalType(nal)));
}

/** The picture size of the SPS an RTP payload carries whole, if it carries one that can be read. */
export function h264PayloadPictureSize(payload: Buffer): PictureSize | undefined {
  const sps = wholeNals(payload).find((nal) => nalType(nal) === NalType.SPS);
  return sps && spsPictureSize(sps);
}
