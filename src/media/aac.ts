/** Samples per AAC frame (AAC-LC and the core of HE-AAC as signalled in ADTS). */
export const AAC_FRAME_SAMPLES = 1024;

/** Sampling frequencies by sampling_frequency_index (ISO 14496-3 table 1.18). */
const SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** One ADTS header's fields. */
export interface AdtsHeader {
  /** MPEG-4 Audio Object Type: profile + 1 (2 = AAC-LC). */
  objectType: number;
  samplingFrequencyIndex: number;
  sampleRate: number;
  /** channel_configuration: 1 mono, 2 stereo, ... (0: defined in the stream, not supported here). */
  channels: number;
  /** Header length: 7, or 9 with CRC. */
  headerLength: number;
  /** Whole frame length, header included. */
  frameLength: number;
  /** number_of_raw_data_blocks_in_frame + 1; FFmpeg always writes 1. */
  rawBlocks: number;
}

/** One ADTS frame: its header fields and the raw AAC payload without header (and without CRC). */
export interface AdtsFrame extends AdtsHeader {
  data: Buffer;
}

/** The frames found in a buffer and how many bytes were skipped as not being ADTS. */
export interface AdtsParseResult {
  frames: AdtsFrame[];
  skippedBytes: number;
}

/**
 * Reads the ADTS header at `offset`; undefined when there is no valid header there (no sync word,
 * reserved values, a frame shorter than its header) or fewer than 7 bytes remain.
 */
export function parseAdtsHeader(buf: Buffer, offset = 0): AdtsHeader | undefined {
  if (offset + 7 > buf.length) return undefined;
  if (buf[offset] !== 0xff || (buf[offset + 1] & 0xf6) !== 0xf0) return undefined; // sync, layer 0
  const protectionAbsent = buf[offset + 1] & 1;
  const objectType = (buf[offset + 2] >> 6) + 1;
  const samplingFrequencyIndex = (buf[offset + 2] >> 2) & 0x0f;
  const channels = ((buf[offset + 2] & 1) << 2) | (buf[offset + 3] >> 6);
  const frameLength = ((buf[offset + 3] & 3) << 11) | (buf[offset + 4] << 3) | (buf[offset + 5] >> 5);
  const rawBlocks = (buf[offset + 6] & 3) + 1;
  const headerLength = protectionAbsent ? 7 : 9;
  if (samplingFrequencyIndex >= SAMPLE_RATES.length || frameLength < headerLength) return undefined;
  return {
    objectType,
    samplingFrequencyIndex,
    sampleRate: SAMPLE_RATES[samplingFrequencyIndex],
    channels,
    headerLength,
    frameLength,
    rawBlocks,
  };
}

/**
 * Splits a buffer of ADTS frames (one PES may carry several) into raw AAC frames. Never throws:
 * bytes that do not start a valid frame are skipped up to the next sync word, and a frame cut short
 * at the end is dropped; both count in `skippedBytes`. Frames are views into `data`.
 */
export function parseAdts(data: Buffer): AdtsParseResult {
  const frames: AdtsFrame[] = [];
  let skippedBytes = 0;
  let offset = 0;
  while (offset < data.length) {
    const header = parseAdtsHeader(data, offset);
    if (!header || offset + header.frameLength > data.length) {
      const next = data.indexOf(0xff, offset + 1);
      const resume = next === -1 ? data.length : next;
      skippedBytes += resume - offset;
      offset = resume;
      continue;
    }
    frames.push({ ...header, data: data.subarray(offset + header.headerLength, offset + header.frameLength) });
    offset += header.frameLength;
  }
  return { frames, skippedBytes };
}

/** The 2-byte AudioSpecificConfig (object type, frequency index, channel configuration) for esds / CODECS. */
export function audioSpecificConfig(header: Pick<AdtsHeader, 'objectType' | 'samplingFrequencyIndex' | 'channels'>): Buffer {
  const value = (header.objectType << 11) | (header.samplingFrequencyIndex << 7) | (header.channels << 3);
  return Buffer.from([value >> 8, value & 0xff]);
}

/** RFC 6381 codec string, `mp4a.40.2` for AAC-LC. */
export function aacCodecString(objectType: number): string {
  return `mp4a.40.${objectType}`;
}

/** Duration of one AAC frame (1024 samples) in `timescale` units; not an integer at 90 kHz for 44.1 kHz. */
export function aacFrameDuration(sampleRate: number, timescale = sampleRate): number {
  return (AAC_FRAME_SAMPLES * timescale) / sampleRate;
}
