/** What a video segment really carries, read from its first H264 SPS. */
export interface H264Info {
  /** RFC 6381 codec string, e.g. `avc1.42e01f`. */
  codec: string;
  width: number;
  height: number;
}

const TS_PACKET = 188;

/**
 * Reads the first SPS from an MPEG-TS buffer (a video-only segment as FFmpeg writes it).
 * Pure and bounded: it scans the elementary-stream payload of the first packets only.
 */
export function h264InfoFromTs(ts: Buffer): H264Info | undefined {
  const payload = tsPayload(ts);
  for (let i = 0; i + 4 < payload.length; i++) {
    if (payload[i] === 0 && payload[i + 1] === 0 && payload[i + 2] === 1 && (payload[i + 3] & 0x1f) === 7) {
      const end = nextStartCode(payload, i + 4);
      return parseSps(payload.subarray(i + 4, end));
    }
  }
  return undefined;
}

/** Concatenated payloads of the TS packets other than PAT/PMT/SDT (PIDs below 0x20 and 0x1000). */
function tsPayload(ts: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let off = 0; off + TS_PACKET <= ts.length; off += TS_PACKET) {
    if (ts[off] !== 0x47) continue;
    const pid = ((ts[off + 1] & 0x1f) << 8) | ts[off + 2];
    if (pid < 0x20 || pid === 0x1000 || pid === 0x1fff) continue;
    const adaptation = (ts[off + 3] >> 4) & 0x3;
    let start = off + 4;
    if (adaptation === 2) continue;
    if (adaptation === 3) start += 1 + ts[off + 4];
    if (start < off + TS_PACKET) parts.push(ts.subarray(start, off + TS_PACKET));
  }
  return Buffer.concat(parts);
}

function nextStartCode(buf: Buffer, from: number): number {
  for (let i = from; i + 2 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && (buf[i + 2] === 1 || (buf[i + 2] === 0 && buf[i + 3] === 1))) return i;
  }
  return buf.length;
}

/** Parses an SPS NAL body (after the 1-byte header): profile, constraints, level and cropped size. */
export function parseSps(nal: Buffer): H264Info {
  const rbsp = unescapeRbsp(nal);
  const profile = rbsp[0];
  const constraints = rbsp[1];
  const level = rbsp[2];
  const bits = new BitReader(rbsp.subarray(3));
  bits.ue(); // seq_parameter_set_id
  let chromaFormat = 1;
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
    chromaFormat = bits.ue();
    if (chromaFormat === 3) bits.u(1);
    bits.ue(); // bit_depth_luma
    bits.ue(); // bit_depth_chroma
    bits.u(1);
    if (bits.u(1)) {
      for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) {
        if (bits.u(1)) skipScalingList(bits, i < 6 ? 16 : 64);
      }
    }
  }
  bits.ue(); // log2_max_frame_num
  const pocType = bits.ue();
  if (pocType === 0) bits.ue();
  else if (pocType === 1) {
    bits.u(1);
    bits.se();
    bits.se();
    const n = bits.ue();
    for (let i = 0; i < n; i++) bits.se();
  }
  bits.ue(); // max_num_ref_frames
  bits.u(1);
  const widthMbs = bits.ue() + 1;
  const heightMapUnits = bits.ue() + 1;
  const frameMbsOnly = bits.u(1);
  if (!frameMbsOnly) bits.u(1);
  bits.u(1); // direct_8x8_inference
  let [cropLeft, cropRight, cropTop, cropBottom] = [0, 0, 0, 0];
  if (bits.u(1)) [cropLeft, cropRight, cropTop, cropBottom] = [bits.ue(), bits.ue(), bits.ue(), bits.ue()];
  const cropUnitX = chromaFormat === 0 || chromaFormat === 3 ? 1 : 2;
  const cropUnitY = (chromaFormat === 1 ? 2 : 1) * (2 - frameMbsOnly);
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return {
    codec: `avc1.${hex(profile)}${hex(constraints)}${hex(level)}`,
    width: widthMbs * 16 - cropUnitX * (cropLeft + cropRight),
    height: (2 - frameMbsOnly) * heightMapUnits * 16 - cropUnitY * (cropTop + cropBottom),
  };
}

function skipScalingList(bits: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + bits.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** Removes emulation-prevention bytes (00 00 03 → 00 00). */
function unescapeRbsp(nal: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < nal.length; i++) {
    if (i >= 2 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
    out.push(nal[i]);
  }
  return Buffer.from(out);
}

class BitReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  u(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.buf[this.pos >> 3];
      if (byte === undefined) throw new RangeError('SPS truncated');
      value = (value << 1) | ((byte >> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return value;
  }
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new RangeError('bad exp-Golomb code');
    return (2 ** zeros - 1) + (zeros ? this.u(zeros) : 0);
  }
  se(): number {
    const k = this.ue();
    return k % 2 ? (k + 1) / 2 : -k / 2;
  }
}
