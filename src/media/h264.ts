import { BitReader } from './bit-reader';
import { MediaFormatError } from './media-format-error';
import type { PictureSize } from './picture-size';

/** NAL unit types this library acts on (H.264 table 7-1). */
export const NalType = {
  SLICE: 1,
  IDR: 5,
  SEI: 6,
  SPS: 7,
  PPS: 8,
  AUD: 9,
} as const;

/** The type of a NAL unit (low 5 bits of its header byte); -1 for an empty one. */
export function nalType(nal: Buffer): number {
  return nal.length ? nal[0] & 0x1f : -1;
}

const START_CODE = Buffer.from([0, 0, 1]);

/**
 * Splits an Annex-B byte stream (3- or 4-byte start codes) into NAL units, header byte included.
 * The units are views into `data`, not copies. Bytes before the first start code are ignored;
 * trailing zero bytes (the next 4-byte start code's leading zero, trailing_zero_8bits) are trimmed.
 */
export function splitAnnexB(data: Buffer): Buffer[] {
  const nals: Buffer[] = [];
  let start = data.indexOf(START_CODE);
  while (start !== -1) {
    const begin = start + 3;
    const next = data.indexOf(START_CODE, begin);
    let end = next === -1 ? data.length : next;
    // A NAL ends with its rbsp_stop_bit, so its last byte is never zero.
    while (end > begin && data[end - 1] === 0) end--;
    if (end > begin) nals.push(data.subarray(begin, end));
    start = next;
  }
  return nals;
}

/**
 * True when an Annex-B access unit holds an IDR slice. Stops at the first slice: all slices of a
 * picture are IDR or none is, and they come after AUD/SPS/PPS/SEI, so only the head is scanned.
 */
export function containsIdr(data: Buffer): boolean {
  let start = data.indexOf(START_CODE);
  while (start !== -1 && start + 3 < data.length) {
    const type = data[start + 3] & 0x1f;
    if (type === NalType.IDR) return true;
    if (type >= NalType.SLICE && type < NalType.IDR) return false;
    start = data.indexOf(START_CODE, start + 3);
  }
  return false;
}

/** What an SPS says, as far as packaging and playlists need it. */
export interface SpsInfo {
  profileIdc: number;
  /** constraint_set0..5 flags and reserved bits: the byte between profile and level. */
  constraintFlags: number;
  levelIdc: number;
  spsId: number;
  /** 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4. */
  chromaFormatIdc: number;
  separateColourPlane: boolean;
  bitDepthLuma: number;
  bitDepthChroma: number;
  log2MaxFrameNum: number;
  picOrderCntType: number;
  maxNumRefFrames: number;
  /** False for interlaced-capable streams (field/MBAFF coding). */
  frameMbsOnly: boolean;
  /** Picture size after the SPS cropping window. */
  width: number;
  height: number;
  /** Sample aspect ratio from the VUI; 1:1 when absent or unreadable. */
  sarWidth: number;
  sarHeight: number;
  /** Frames per second from the VUI timing info (time_scale / 2 / num_units_in_tick), if present. */
  frameRate?: number;
  /** RFC 6381 codec string `avc1.PPCCLL`. */
  codec: string;
}

/** Profiles whose SPS carries chroma format, bit depths and scaling matrices (7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** Sample aspect ratios of aspect_ratio_idc 1..16 (table E-1). */
const SAR_TABLE: ReadonlyArray<readonly [number, number]> = [
  [1, 1],
  [12, 11],
  [10, 11],
  [16, 11],
  [40, 33],
  [24, 11],
  [20, 11],
  [32, 11],
  [80, 33],
  [18, 11],
  [15, 11],
  [64, 33],
  [160, 99],
  [4, 3],
  [3, 2],
  [2, 1],
];

/**
 * Parses an SPS NAL unit, header byte included (as `splitAnnexB` returns it and avcC stores it).
 * Throws MediaFormatError when the NAL is not an SPS or is truncated.
 */
export function parseSps(nal: Buffer): SpsInfo {
  if (nalType(nal) !== NalType.SPS) throw new MediaFormatError(`not an SPS NAL unit (type ${nalType(nal)})`);
  const rbsp = unescapeRbsp(nal.subarray(1));
  if (rbsp.length < 4) throw new MediaFormatError('SPS truncated');
  const profileIdc = rbsp[0];
  const constraintFlags = rbsp[1];
  const levelIdc = rbsp[2];
  const bits = new BitReader(rbsp.subarray(3));
  const spsId = bits.ue();
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  let bitDepthLuma = 8;
  let bitDepthChroma = 8;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = bits.ue();
    if (chromaFormatIdc === 3) separateColourPlane = bits.flag();
    bitDepthLuma = bits.ue() + 8;
    bitDepthChroma = bits.ue() + 8;
    bits.skip(1); // qpprime_y_zero_transform_bypass_flag
    if (bits.flag()) {
      for (let i = 0; i < (chromaFormatIdc !== 3 ? 8 : 12); i++) {
        if (bits.flag()) skipScalingList(bits, i < 6 ? 16 : 64);
      }
    }
  }
  const log2MaxFrameNum = bits.ue() + 4;
  const picOrderCntType = bits.ue();
  if (picOrderCntType === 0) bits.ue();
  else if (picOrderCntType === 1) {
    bits.skip(1);
    bits.se();
    bits.se();
    const n = bits.ue();
    for (let i = 0; i < n; i++) bits.se();
  }
  const maxNumRefFrames = bits.ue();
  bits.skip(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = bits.ue() + 1;
  const heightMapUnits = bits.ue() + 1;
  const frameMbsOnly = bits.flag();
  if (!frameMbsOnly) bits.skip(1); // mb_adaptive_frame_field_flag
  bits.skip(1); // direct_8x8_inference_flag
  let [cropLeft, cropRight, cropTop, cropBottom] = [0, 0, 0, 0];
  if (bits.flag()) [cropLeft, cropRight, cropTop, cropBottom] = [bits.ue(), bits.ue(), bits.ue(), bits.ue()];
  // Crop units per 7.4.2.1.1: ChromaArrayType 0 counts in luma samples.
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
  const fieldFactor = frameMbsOnly ? 1 : 2;
  const cropUnitX = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
  const cropUnitY = (chromaArrayType === 1 ? 2 : 1) * fieldFactor;
  const vui = bits.flag() ? readVui(bits) : {};
  return {
    profileIdc,
    constraintFlags,
    levelIdc,
    spsId,
    chromaFormatIdc,
    separateColourPlane,
    bitDepthLuma,
    bitDepthChroma,
    log2MaxFrameNum,
    picOrderCntType,
    maxNumRefFrames,
    frameMbsOnly,
    width: widthMbs * 16 - cropUnitX * (cropLeft + cropRight),
    height: fieldFactor * heightMapUnits * 16 - cropUnitY * (cropTop + cropBottom),
    sarWidth: vui.sar?.[0] ?? 1,
    sarHeight: vui.sar?.[1] ?? 1,
    frameRate: vui.frameRate,
    codec: avcCodecString(nal),
  };
}

/**
 * Reads the VUI fields up to timing info. Tolerant: a VUI cut short or with reserved values leaves
 * the fields it did not reach undefined, because the picture size is already known by then.
 */
function readVui(bits: BitReader): { sar?: readonly [number, number]; frameRate?: number } {
  const out: { sar?: readonly [number, number]; frameRate?: number } = {};
  try {
    if (bits.flag()) {
      const idc = bits.u(8);
      if (idc === 255) {
        const w = bits.u(16);
        const h = bits.u(16);
        if (w && h) out.sar = [w, h];
      } else if (idc >= 1 && idc <= SAR_TABLE.length) out.sar = SAR_TABLE[idc - 1];
    }
    if (bits.flag()) bits.skip(1); // overscan_appropriate_flag
    if (bits.flag()) {
      bits.skip(4); // video_format, video_full_range_flag
      if (bits.flag()) bits.skip(24); // colour_primaries, transfer, matrix
    }
    if (bits.flag()) {
      bits.ue();
      bits.ue();
    }
    if (bits.flag()) {
      const numUnitsInTick = bits.u(32);
      const timeScale = bits.u(32);
      if (numUnitsInTick && timeScale) out.frameRate = timeScale / (2 * numUnitsInTick);
    }
  } catch (error) {
    if (!(error instanceof MediaFormatError)) throw error;
  }
  return out;
}

function skipScalingList(bits: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + bits.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** The picture size an SPS NAL unit gives, or undefined when it cannot be read. */
export function spsPictureSize(sps: Buffer): PictureSize | undefined {
  try {
    const { width, height } = parseSps(sps);
    return { width, height };
  } catch {
    return undefined;
  }
}

/** RFC 6381 `avc1.PPCCLL` from an SPS NAL unit (header byte included): profile, constraints, level in hex. */
export function avcCodecString(sps: Buffer): string {
  if (sps.length < 4) throw new MediaFormatError('SPS truncated');
  return `avc1.${sps.subarray(1, 4).toString('hex')}`;
}

/** Removes emulation-prevention bytes (00 00 03 → 00 00) to get the RBSP of a NAL unit. */
export function unescapeRbsp(nal: Buffer): Buffer {
  let at = nal.indexOf(EMULATION_PREVENTION);
  if (at === -1) return nal;
  const out = Buffer.allocUnsafe(nal.length);
  let written = 0;
  let from = 0;
  while (at !== -1) {
    written += nal.copy(out, written, from, at + 2);
    from = at + 3;
    at = nal.indexOf(EMULATION_PREVENTION, from);
  }
  written += nal.copy(out, written, from);
  return out.subarray(0, written);
}

const EMULATION_PREVENTION = Buffer.from([0, 0, 3]);

export interface AvccOptions {
  /** Drop access unit delimiters (type 9): fMP4 samples do not need them. */
  dropAud?: boolean;
  /** Drop SPS and PPS (types 7, 8) when they live in the avcC box of the init segment. */
  dropParameterSets?: boolean;
}

/** Converts an Annex-B access unit to AVCC: each NAL unit prefixed by its 4-byte big-endian length. */
export function annexBToAvcc(data: Buffer, options: AvccOptions = {}): Buffer {
  const nals = splitAnnexB(data).filter((nal) => {
    const type = nalType(nal);
    if (options.dropAud && type === NalType.AUD) return false;
    if (options.dropParameterSets && (type === NalType.SPS || type === NalType.PPS)) return false;
    return true;
  });
  let size = 0;
  for (const nal of nals) size += 4 + nal.length;
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const nal of nals) {
    offset = out.writeUInt32BE(nal.length, offset);
    offset += nal.copy(out, offset);
  }
  return out;
}

/** SPS and PPS NAL units (header byte included) of an Annex-B access unit, copied so they outlive it. */
export function extractParameterSets(data: Buffer): { sps: Buffer[]; pps: Buffer[] } {
  const sps: Buffer[] = [];
  const pps: Buffer[] = [];
  for (const nal of splitAnnexB(data)) {
    const type = nalType(nal);
    if (type === NalType.SPS) sps.push(Buffer.from(nal));
    else if (type === NalType.PPS) pps.push(Buffer.from(nal));
    else if (type >= NalType.SLICE && type <= NalType.IDR) break; // parameter sets precede the slices
  }
  return { sps, pps };
}

/**
 * Notices where an H264 stream's coded format changes: a keyframe whose SPS or PPS differ from the
 * previous keyframe's (an encoder that changed its picture size, as a browser does when it adapts to
 * CPU or bandwidth). A player that set up its decoder from the earlier parameter sets cannot decode
 * what follows without being told (a discontinuity, a new init section).
 */
export class ParameterSetWatch {
  private last?: Buffer;

  /** Whether this access unit starts a new format; only keyframes carrying an SPS count. */
  changes(unit: { keyframe: boolean; data: Buffer }): boolean {
    if (!unit.keyframe) return false;
    const { sps, pps } = extractParameterSets(unit.data);
    if (sps.length === 0) return false;
    const sets = Buffer.concat([...sps, ...pps]);
    const changed = this.last !== undefined && !this.last.equals(sets);
    this.last = sets;
    return changed;
  }
}
