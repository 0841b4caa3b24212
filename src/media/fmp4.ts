import { parseSps } from './h264';

/** Every init segment holds one track, with this ID; fragments refer to it. */
export const FMP4_TRACK_ID = 1;

export interface VideoTrack {
  kind: 'video';
  /** Defaults to 90000, the MPEG-TS clock, so TS timestamps carry over unchanged. */
  timescale?: number;
  width: number;
  height: number;
  /** SPS and PPS NAL units, header byte included, without start codes. At least one SPS. */
  sps: Buffer[];
  pps: Buffer[];
}

export interface AudioTrack {
  kind: 'audio';
  /** Defaults to the sample rate, so each AAC frame lasts exactly 1024 ticks. */
  timescale?: number;
  sampleRate: number;
  channels: number;
  /** The 2-byte AudioSpecificConfig (see aac.ts). */
  audioSpecificConfig: Buffer;
}

export type Fmp4Track = VideoTrack | AudioTrack;

export interface Fmp4Sample {
  /** In the track's timescale. */
  duration: number;
  keyframe: boolean;
  /** pts − dts in the track's timescale; may be negative (written as trun version 1). */
  compositionOffset: number;
  /** Video: an AVCC access unit (4-byte lengths). Audio: one raw AAC frame. */
  data: Buffer;
}

/** The track's media timescale: unless set, 90 kHz for video and the sample rate for audio. */
export function trackTimescale(track: Fmp4Track): number {
  return track.timescale ?? (track.kind === 'video' ? 90000 : track.sampleRate);
}

/**
 * A CMAF init segment: ftyp + moov with one track (empty sample tables) and mvex/trex, so all
 * samples come in fragments.
 */
export function initSegment(track: Fmp4Track): Buffer {
  const video = track.kind === 'video';
  const ftyp = box('ftyp', ascii('iso6'), u32(0), ascii('iso6'), ascii('cmfc'), ascii('isom'), ascii('mp41'));
  const mvhd = fullBox(
    'mvhd',
    0,
    0,
    u32(0),
    u32(0),
    u32(1000),
    u32(0),
    u32(0x00010000),
    u16(0x0100),
    zeros(10),
    MATRIX,
    zeros(24),
    u32(FMP4_TRACK_ID + 1),
  );
  const tkhd = fullBox(
    'tkhd',
    0,
    3, // enabled, in movie
    u32(0),
    u32(0),
    u32(FMP4_TRACK_ID),
    u32(0),
    u32(0),
    zeros(8),
    u16(0), // layer
    u16(0), // alternate group
    u16(video ? 0 : 0x0100), // volume
    u16(0),
    MATRIX,
    u32(video ? track.width * 0x10000 : 0),
    u32(video ? track.height * 0x10000 : 0),
  );
  const mdhd = fullBox('mdhd', 0, 0, u32(0), u32(0), u32(trackTimescale(track)), u32(0), u16(0x55c4 /* 'und' */), u16(0));
  const hdlr = fullBox(
    'hdlr',
    0,
    0,
    u32(0),
    ascii(video ? 'vide' : 'soun'),
    zeros(12),
    Buffer.from(video ? 'VideoHandler\0' : 'SoundHandler\0'),
  );
  const mediaHeader = video ? fullBox('vmhd', 0, 1, u16(0), zeros(6)) : fullBox('smhd', 0, 0, u16(0), u16(0));
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), video ? avc1(track) : mp4a(track)),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0), u32(0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  const mdia = box('mdia', mdhd, hdlr, box('minf', mediaHeader, dinf, stbl));
  const mvex = box('mvex', fullBox('trex', 0, 0, u32(FMP4_TRACK_ID), u32(1), u32(0), u32(0), u32(0)));
  return Buffer.concat([ftyp, box('moov', mvhd, box('trak', tkhd, mdia), mvex)]);
}

/** Sample flags (ISO 14496-12 8.8.3.1): a sync sample depends on no other; others do and are non-sync. */
const SYNC_SAMPLE_FLAGS = 0x02000000;
const NON_SYNC_SAMPLE_FLAGS = 0x01010000;

/** tr_flags: data-offset, sample duration, size, flags and composition time offset present. */
const TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800;
const MOOF_FIXED_SIZE = 8 + 16 + 8 + 16 + 20 + 20; // moof, mfhd, traf, tfhd, tfdt v1, trun header
const TRUN_SAMPLE_SIZE = 16;

/**
 * One CMAF fragment: moof (mfhd, traf with tfhd default-base-is-moof, tfdt v1, trun v1) + mdat.
 * Written into one buffer with a single copy of the sample data.
 */
export function mediaFragment(sequenceNumber: number, baseMediaDecodeTime: number, samples: readonly Fmp4Sample[]): Buffer {
  if (!Number.isSafeInteger(baseMediaDecodeTime) || baseMediaDecodeTime < 0) {
    throw new TypeError(`baseMediaDecodeTime must be a non-negative integer, got ${baseMediaDecodeTime}`);
  }
  let mdatPayload = 0;
  for (const sample of samples) mdatPayload += sample.data.length;
  const trafSize = 8 + 16 + 20 + 20 + TRUN_SAMPLE_SIZE * samples.length;
  const moofSize = MOOF_FIXED_SIZE + TRUN_SAMPLE_SIZE * samples.length;
  const mdatSize = 8 + mdatPayload;
  if (mdatSize > 0xffffffff) throw new RangeError('fragment too large for a 32-bit mdat');
  const out = Buffer.allocUnsafe(moofSize + mdatSize);
  let o = 0;
  o = header(out, o, moofSize, 'moof');
  o = header(out, o, 16, 'mfhd');
  o = out.writeUInt32BE(0, o);
  o = out.writeUInt32BE(sequenceNumber >>> 0, o);
  o = header(out, o, trafSize, 'traf');
  o = header(out, o, 16, 'tfhd');
  o = out.writeUInt32BE(0x020000, o); // version 0, default-base-is-moof
  o = out.writeUInt32BE(FMP4_TRACK_ID, o);
  o = header(out, o, 20, 'tfdt');
  o = out.writeUInt32BE(0x01000000, o); // version 1: 64-bit time
  o = out.writeBigUInt64BE(BigInt(baseMediaDecodeTime), o);
  o = header(out, o, 20 + TRUN_SAMPLE_SIZE * samples.length, 'trun');
  o = out.writeUInt32BE(0x01000000 | TRUN_FLAGS, o); // version 1: signed composition offsets
  o = out.writeUInt32BE(samples.length, o);
  o = out.writeInt32BE(moofSize + 8, o); // data offset from the moof's first byte to the first sample
  for (const sample of samples) {
    o = out.writeUInt32BE(sample.duration, o);
    o = out.writeUInt32BE(sample.data.length, o);
    o = out.writeUInt32BE(sample.keyframe ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS, o);
    o = out.writeInt32BE(sample.compositionOffset, o);
  }
  o = header(out, o, mdatSize, 'mdat');
  for (const sample of samples) o += sample.data.copy(out, o);
  return out;
}

function avc1(track: VideoTrack): Buffer {
  return box(
    'avc1',
    zeros(6),
    u16(1), // data_reference_index
    zeros(16),
    u16(track.width),
    u16(track.height),
    u32(0x00480000), // 72 dpi
    u32(0x00480000),
    u32(0),
    u16(1), // frame_count
    zeros(32), // compressorname
    u16(0x0018), // depth
    u16(0xffff), // pre_defined = -1
    avcC(track),
  );
}

/** AVCDecoderConfigurationRecord (ISO 14496-15 5.3.3.1), with the chroma/bit-depth tail High profiles need. */
function avcC(track: VideoTrack): Buffer {
  const sps = track.sps[0];
  if (!sps) throw new TypeError('a video track needs at least one SPS');
  const info = parseSps(sps);
  const parts: Buffer[] = [
    Buffer.from([1, info.profileIdc, info.constraintFlags, info.levelIdc, 0xff /* 4-byte lengths */, 0xe0 | track.sps.length]),
  ];
  for (const nal of track.sps) parts.push(u16(nal.length), nal);
  parts.push(Buffer.from([track.pps.length]));
  for (const nal of track.pps) parts.push(u16(nal.length), nal);
  if (info.profileIdc === 100 || info.profileIdc === 110 || info.profileIdc === 122 || info.profileIdc === 144) {
    parts.push(Buffer.from([0xfc | info.chromaFormatIdc, 0xf8 | (info.bitDepthLuma - 8), 0xf8 | (info.bitDepthChroma - 8), 0]));
  }
  return box('avcC', ...parts);
}

function mp4a(track: AudioTrack): Buffer {
  return box(
    'mp4a',
    zeros(6),
    u16(1), // data_reference_index
    zeros(8),
    u16(track.channels),
    u16(16), // sample size
    u16(0),
    u16(0),
    u32(track.sampleRate * 0x10000 > 0xffffffff ? 0 : track.sampleRate * 0x10000),
    esds(track.audioSpecificConfig),
  );
}

/** ES_Descriptor ⊃ DecoderConfigDescriptor (AAC, audio stream) ⊃ DecoderSpecificInfo (the ASC), + SLConfig. */
function esds(asc: Buffer): Buffer {
  const decoderSpecificInfo = descriptor(0x05, asc);
  const decoderConfig = descriptor(
    0x04,
    Buffer.from([0x40 /* MPEG-4 Audio */, 0x15 /* audio stream, upstream 0, reserved 1 */, 0, 0, 0]),
    u32(0), // max bitrate: unknown
    u32(0), // average bitrate: unknown
    decoderSpecificInfo,
  );
  const slConfig = descriptor(0x06, Buffer.from([0x02]));
  return fullBox('esds', 0, 0, descriptor(0x03, u16(FMP4_TRACK_ID), Buffer.from([0]), decoderConfig, slConfig));
}

function descriptor(tag: number, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  if (body.length > 0x7f) throw new RangeError('descriptor too long for a 1-byte size');
  return Buffer.concat([Buffer.from([tag, body.length]), body]);
}

const MATRIX = Buffer.from('000100000000000000000000000000000001000000000000000000000000000040000000', 'hex');

function box(type: string, ...payload: Buffer[]): Buffer {
  let size = 8;
  for (const part of payload) size += part.length;
  const head = Buffer.allocUnsafe(8);
  header(head, 0, size, type);
  return Buffer.concat([head, ...payload], size);
}

function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  return box(type, u32(((version << 24) | flags) >>> 0), ...payload);
}

function header(out: Buffer, offset: number, size: number, type: string): number {
  offset = out.writeUInt32BE(size, offset);
  return offset + out.write(type, offset, 4, 'latin1');
}

function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

function u16(value: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(value & 0xffff);
  return b;
}

function zeros(n: number): Buffer {
  return Buffer.alloc(n);
}

function ascii(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}
