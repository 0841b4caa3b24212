// Turns the pre-encoded files from prepare-media.mjs into ready RTP payloads, ONCE per process:
// every publisher shares the same payload Buffers and only gets its own RTP header (ssrc, seq, ts).
//   H264 Annex B (.h264, AUD-delimited) -> single NAL unit / FU-A packets (RFC 6184, packetization-mode 1)
//   VP8 IVF (.ivf)                      -> VP8 payload descriptor (RFC 7741), no picture id
//   Ogg Opus (.opus/.ogg)               -> one Opus packet per RTP packet (RFC 7587)
import { readFileSync } from 'node:fs';

/** RTP payload budget: well under a 1500-byte MTU after RTP header + SRTP tag (+ TURN/IPv6 slack). */
export const MAX_PAYLOAD = 1200;

/**
 * @typedef {{ payloads: Buffer[], key: boolean, ts: number, bytes: number }} Frame   ts: RTP ticks from loop start
 * @typedef {{ kind: 'audio'|'video', codec: 'h264'|'vp8'|'opus', clockRate: number, frames: Frame[],
 *             loopTicks: number, keyIndexes: number[], bytesPerLoop: number, path: string }} MediaTrack
 */

const cache = new Map();

/** Loads and packetizes one file (cached per process and path). */
export function loadTrack(codec, path) {
  const key = `${codec}:${path}`;
  if (!cache.has(key)) {
    const data = readFileSync(path);
    const track = codec === 'h264' ? h264Track(data) : codec === 'vp8' ? vp8Track(data) : codec === 'opus' ? opusTrack(data) : null;
    if (!track) throw new Error(`unknown codec ${codec}`);
    if (track.frames.length === 0) throw new Error(`${path}: no ${codec} frames found`);
    track.path = path;
    track.keyIndexes = track.frames.flatMap((f, i) => (f.key ? [i] : []));
    if (track.keyIndexes[0] !== 0) throw new Error(`${path}: must start with a keyframe`);
    track.bytesPerLoop = track.frames.reduce((n, f) => n + f.bytes, 0);
    cache.set(key, track);
  }
  return cache.get(key);
}

// ---------- H264 ----------

function splitAnnexB(data) {
  const nals = [];
  let start = -1;
  const n = data.length;
  for (let i = 0; i + 2 < n; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) {
        let end = i;
        while (end > start && data[end - 1] === 0) end--; // 4-byte start code / trailing zeros
        nals.push(data.subarray(start, end));
      }
      start = i + 3;
      i += 2;
    }
  }
  if (start >= 0 && start < n) nals.push(data.subarray(start));
  return nals;
}

function h264Payloads(nal) {
  if (nal.length <= MAX_PAYLOAD) return [nal];
  const out = [];
  const indicator = (nal[0] & 0xe0) | 28; // FU-A
  const type = nal[0] & 0x1f;
  const body = nal.subarray(1);
  for (let off = 0; off < body.length; off += MAX_PAYLOAD - 2) {
    const chunk = body.subarray(off, Math.min(off + MAX_PAYLOAD - 2, body.length));
    const s = off === 0 ? 0x80 : 0;
    const e = off + chunk.length >= body.length ? 0x40 : 0;
    out.push(Buffer.concat([Buffer.from([indicator, s | e | type]), chunk]));
  }
  return out;
}

/** Access units are delimited by AUD NAL units (x264 aud=1); constant 30 fps (force-cfr). */
function h264Track(data, fps = 30) {
  const frames = [];
  let current = null;
  const flush = () => {
    if (current && current.nals.length > 0) {
      const payloads = current.nals.flatMap(h264Payloads);
      frames.push({ payloads, key: current.key, ts: frames.length * (90000 / fps), bytes: payloads.reduce((n, p) => n + p.length, 0) });
    }
    current = null;
  };
  for (const nal of splitAnnexB(data)) {
    const type = nal[0] & 0x1f;
    if (type === 9) {
      flush();
      current = { nals: [], key: false };
      continue; // the AUD itself is not sent (browsers do not send it either)
    }
    if (!current) current = { nals: [], key: false };
    if (type === 5) current.key = true;
    current.nals.push(nal);
  }
  flush();
  return { kind: 'video', codec: 'h264', clockRate: 90000, frames, loopTicks: frames.length * (90000 / fps) };
}

// ---------- VP8 ----------

/**
 * Bytes of the VP8 payload descriptor we write. mediasoup (3.12) ignores descriptors without the
 * X bit (no keyframe detection, so consumers never start) and rewrites picture ids, which must
 * therefore run on per stream: each publisher copies the payload and sets its own (setVp8PictureId).
 */
export const VP8_DESCRIPTOR = 4;

/** Per-send copy of a shared VP8 payload with this stream's picture id. */
export function withVp8PictureId(payload, pictureId) {
  const out = Buffer.allocUnsafe(payload.length);
  payload.copy(out);
  out[2] = 0x80 | ((pictureId >> 8) & 0x7f);
  out[3] = pictureId & 0xff;
  return out;
}

function vp8Track(data) {
  if (data.toString('latin1', 0, 4) !== 'DKIF') throw new Error('not an IVF file');
  const headerLen = data.readUInt16LE(6);
  const rate = data.readUInt32LE(16); // time base denominator
  const scale = data.readUInt32LE(20); // time base numerator
  const frames = [];
  let off = headerLen;
  let lastTs = 0;
  let step = 3000;
  while (off + 12 <= data.length) {
    const size = data.readUInt32LE(off);
    const pts = Number(data.readBigUInt64LE(off + 4));
    const frame = data.subarray(off + 12, off + 12 + size);
    off += 12 + size;
    if (frame.length < size) break;
    const ts = Math.round((pts * 90000 * scale) / rate);
    if (frames.length > 0) step = ts - lastTs;
    lastTs = ts;
    const key = (frame[0] & 1) === 0;
    const payloads = [];
    for (let p = 0; p < frame.length; p += MAX_PAYLOAD - VP8_DESCRIPTOR) {
      const chunk = frame.subarray(p, Math.min(p + MAX_PAYLOAD - VP8_DESCRIPTOR, frame.length));
      // X=1, S=1 on the first packet, PID 0; I=1; 15-bit picture id, written per publisher (vp8PictureId).
      payloads.push(Buffer.concat([Buffer.from([p === 0 ? 0x90 : 0x80, 0x80, 0x80, 0x00]), chunk]));
    }
    frames.push({ payloads, key, ts, bytes: payloads.reduce((n, x) => n + x.length, 0) });
  }
  const base = frames[0]?.ts ?? 0;
  for (const f of frames) f.ts -= base;
  return { kind: 'video', codec: 'vp8', clockRate: 90000, frames, loopTicks: lastTs - base + step };
}

// ---------- Opus ----------

function* oggPackets(data) {
  let off = 0;
  let pending = [];
  while (off + 27 <= data.length) {
    if (data.toString('latin1', off, off + 4) !== 'OggS') throw new Error(`bad Ogg page at ${off}`);
    const segments = data[off + 26];
    const table = data.subarray(off + 27, off + 27 + segments);
    let p = off + 27 + segments;
    for (const lace of table) {
      pending.push(data.subarray(p, p + lace));
      p += lace;
      if (lace < 255) {
        yield pending.length === 1 ? pending[0] : Buffer.concat(pending);
        pending = [];
      }
    }
    off = p;
  }
}

/** Samples at 48 kHz in one Opus packet (RFC 6716 section 3.1). */
export function opusSamples(packet) {
  const toc = packet[0];
  const config = toc >> 3;
  let frame; // in 1/400 s units of 48 kHz: 120 samples = 2.5 ms
  if (config < 12) frame = [480, 960, 1920, 2880][config & 3];
  else if (config < 16) frame = [480, 960][config & 1];
  else frame = [120, 240, 480, 960][config & 3];
  const code = toc & 3;
  const count = code === 0 ? 1 : code === 3 ? packet[1] & 0x3f : 2;
  return frame * count;
}

function opusTrack(data) {
  const frames = [];
  let ts = 0;
  let index = 0;
  for (const packet of oggPackets(data)) {
    if (index++ < 2) continue; // OpusHead, OpusTags
    if (packet.length === 0) continue;
    frames.push({ payloads: [packet], key: true, ts, bytes: packet.length });
    ts += opusSamples(packet);
  }
  return { kind: 'audio', codec: 'opus', clockRate: 48000, frames, loopTicks: ts };
}
