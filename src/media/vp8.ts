/**
 * VP8 as it travels in RTP (RFC 7741) and as it is stored in IVF: just enough to find the start of a
 * frame, tell a keyframe and its picture size, and packetize a frame of our own.
 */

import type { PictureSize } from './picture-size';

/** Where the VP8 data starts in an RTP payload, and whether it is the first packet of a frame. */
export interface Vp8PayloadStart {
  /** S=1 with partition index 0: the packet holds the frame's first byte. */
  frameStart: boolean;
  /** Length of the payload descriptor (RFC 7741 4.2). */
  offset: number;
}

/** Parses the payload descriptor; undefined when the payload is too short to hold one. */
export function vp8PayloadStart(payload: Buffer): Vp8PayloadStart | undefined {
  if (payload.length < 1) return undefined;
  const first = payload[0];
  let offset = 1;
  if (first & 0x80) {
    // X: an extension byte saying which optional fields follow (I, L, T/K).
    if (payload.length < 2) return undefined;
    const extension = payload[1];
    offset = 2;
    if (extension & 0x80) {
      if (payload.length < offset + 1) return undefined;
      offset += payload[offset] & 0x80 ? 2 : 1; // PictureID: 15 bits when M is set, else 7
    }
    if (extension & 0x40) offset += 1; // TL0PICIDX
    if (extension & 0x30) offset += 1; // TID / Y / KEYIDX
  }
  if (payload.length < offset) return undefined;
  return { frameStart: (first & 0x10) !== 0 && (first & 0x07) === 0, offset };
}

/** Whether this payload begins a keyframe (the frame tag's P bit is 0, RFC 6386 9.1). */
export function isVp8KeyframeStart(payload: Buffer): boolean {
  const start = vp8PayloadStart(payload);
  return !!start?.frameStart && payload.length > start.offset && (payload[start.offset] & 0x01) === 0;
}

/** The picture size a keyframe starting in this payload carries, or undefined for anything else. */
export function vp8KeyframeSize(payload: Buffer): PictureSize | undefined {
  const start = vp8PayloadStart(payload);
  if (!start?.frameStart) return undefined;
  return keyframeSize(payload.subarray(start.offset));
}

/** A VP8 frame's picture size when it is a keyframe: 3-byte tag, start code 9d 01 2a, 14-bit sizes. */
export function keyframeSize(frame: Buffer): PictureSize | undefined {
  if (frame.length < 10 || (frame[0] & 0x01) !== 0) return undefined;
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return undefined;
  const width = frame.readUInt16LE(6) & 0x3fff;
  const height = frame.readUInt16LE(8) & 0x3fff;
  return width > 0 && height > 0 ? { width, height } : undefined;
}

/**
 * RTP payloads for one frame: each at most `maxPayload` bytes with a one-byte descriptor (no picture
 * ID: a receiver orders frames by timestamp), S=1 on the first.
 */
export function packetizeVp8(frame: Buffer, maxPayload = 1200): Buffer[] {
  const room = maxPayload - 1;
  if (room < 1) throw new RangeError(`a VP8 payload needs more than ${maxPayload} bytes`);
  const payloads: Buffer[] = [];
  for (let at = 0; at < frame.length || payloads.length === 0; at += room) {
    payloads.push(Buffer.concat([Buffer.from([at === 0 ? 0x10 : 0x00]), frame.subarray(at, at + room)]));
  }
  return payloads;
}

/** The frames of an IVF file (32-byte file header, then a 12-byte header before each frame). */
export function ivfFrames(file: Buffer): Buffer[] {
  if (file.length < 32 || file.toString('latin1', 0, 4) !== 'DKIF') throw new RangeError('not an IVF file');
  const frames: Buffer[] = [];
  for (let at = file.readUInt16LE(6); at + 12 <= file.length;) {
    const size = file.readUInt32LE(at);
    if (at + 12 + size > file.length) break;
    frames.push(file.subarray(at + 12, at + 12 + size));
    at += 12 + size;
  }
  return frames;
}
