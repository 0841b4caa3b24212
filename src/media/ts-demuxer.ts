import { containsIdr } from './h264';

export const TS_PACKET_SIZE = 188;
const SYNC_BYTE = 0x47;
const PAT_PID = 0;
/** PTS/DTS are 33-bit counters at 90 kHz: they wrap every ~26.5 hours. */
const TIMESTAMP_WRAP = 2 ** 33;

/** Elementary stream kinds this demuxer extracts, by PMT stream_type. */
export type TsStreamType = 'h264' | 'aac';
const STREAM_TYPES: Record<number, TsStreamType> = { 0x1b: 'h264', 0x0f: 'aac' };

/** One PES of the elementary stream: an access unit (video) or one or more ADTS frames (audio). */
export interface TsAccessUnit {
  /** 90 kHz, unwrapped across the 33-bit wrap relative to the previous unit, so they keep growing. */
  pts: number;
  dts: number;
  /** H264: holds an IDR slice (NAL type 5). AAC: always true. */
  keyframe: boolean;
  /** The PES payload: an H264 Annex-B access unit, or ADTS frame(s). */
  data: Buffer;
  /** The 188-byte TS packets that carried this PES (and any payload-less ones of its PID before it), as received. */
  packets: Buffer;
}

/** An open PES being collected from its packets. */
interface PesInProgress {
  pts: number | undefined;
  dts: number | undefined;
  /** Payload bytes the PES header announced; -1 when PES_packet_length is 0 (unbounded video). */
  expected: number;
  collected: number;
  payloads: Buffer[];
  packets: Buffer[];
}

/**
 * Demultiplexes an MPEG-TS byte stream holding one program with one H264 or AAC elementary stream
 * (as FFmpeg writes per rendition) into PES-level access units, keeping the original TS packets of
 * each unit so segments can be cut without remuxing.
 *
 * Chunks may split anywhere. Packets are kept as views into the pushed chunks until their unit is
 * emitted (then copied once), so a chunk must not be modified after `push`.
 * Never throws on bad input: problems are counted in `errors`.
 */
export class TsDemuxer {
  /** Problems met so far: lost sync, continuity errors, truncated or malformed PES, bad PSI. */
  errors = 0;

  private pmtPid: number | undefined;
  private esPid: number | undefined;
  private type: TsStreamType | undefined;
  private patPacket: Buffer | undefined;
  private pmtPacket: Buffer | undefined;
  private patSection: Buffer | undefined;
  private pmtSection: Buffer | undefined;
  private headers: Buffer | undefined;

  /** Bytes of a packet split across chunks. */
  private carry = Buffer.allocUnsafe(TS_PACKET_SIZE);
  private carryLength = 0;
  private inSync = true;

  private pes: PesInProgress | undefined;
  /** Payload-less packets of the ES PID (e.g. PCR only) seen while no PES was open: they go with the next unit. */
  private orphanPackets: Buffer[] = [];
  private lastCc = -1;
  private skipping = false;
  private lastDts: number | undefined;

  constructor(private readonly onUnit: (unit: TsAccessUnit) => void) {}

  /** The elementary stream's kind from the PMT; undefined until a PMT naming H264 or AAC was read. */
  get streamType(): TsStreamType | undefined {
    return this.type;
  }

  /** The PID of the elementary stream, once known. */
  get elementaryPid(): number | undefined {
    return this.esPid;
  }

  /** The PAT packet and the PMT packet (376 bytes) that describe the current program, to start a segment with. */
  get programHeaders(): Buffer | undefined {
    return this.headers;
  }

  push(chunk: Buffer): void {
    const length = chunk.length;
    let offset = 0;
    if (this.carryLength > 0) {
      const missing = TS_PACKET_SIZE - this.carryLength;
      if (length < missing) {
        chunk.copy(this.carry, this.carryLength);
        this.carryLength += length;
        return;
      }
      chunk.copy(this.carry, this.carryLength, 0, missing);
      const packet = this.carry;
      // The packet may be kept by a unit: the next split packet needs its own buffer.
      this.carry = Buffer.allocUnsafe(TS_PACKET_SIZE);
      this.carryLength = 0;
      this.inSync = true;
      offset = missing;
      this.handlePacket(packet);
    }
    while (offset < length) {
      if (chunk[offset] !== SYNC_BYTE) {
        offset = this.resync(chunk, offset);
        continue;
      }
      if (offset + TS_PACKET_SIZE > length) {
        this.carryLength = chunk.copy(this.carry, 0, offset);
        return;
      }
      this.inSync = true;
      this.handlePacket(chunk.subarray(offset, offset + TS_PACKET_SIZE));
      offset += TS_PACKET_SIZE;
    }
  }

  /** Emits the last PES if it is complete or unbounded; a bounded PES still short of its length is counted and dropped. */
  end(): void {
    if (this.carryLength > 0) {
      this.errors++; // a partial packet at the end
      this.carryLength = 0;
    }
    this.finishPes();
    this.orphanPackets = [];
  }

  /** Skips to the next sync byte that is followed by another one a packet later (when that byte is in this chunk). */
  private resync(chunk: Buffer, from: number): number {
    if (this.inSync) {
      this.errors++;
      this.inSync = false;
    }
    let at = from + 1;
    for (;;) {
      at = chunk.indexOf(SYNC_BYTE, at);
      if (at === -1) return chunk.length;
      const confirm = at + TS_PACKET_SIZE;
      if (confirm >= chunk.length || chunk[confirm] === SYNC_BYTE) return at;
      at++;
    }
  }

  private handlePacket(packet: Buffer): void {
    if (packet[1] & 0x80) {
      this.errors++; // transport_error_indicator: a demodulator or writer flagged it as damaged
      return;
    }
    const pid = ((packet[1] & 0x1f) << 8) | packet[2];
    if (pid === this.esPid) this.handleEsPacket(packet);
    else if (pid === PAT_PID) this.handlePat(packet);
    else if (pid === this.pmtPid) this.handlePmt(packet);
    // Other PIDs (SDT, null packets, streams we do not extract) are ignored.
  }

  /** Where the payload starts, or -1 when the packet has none or a malformed adaptation field. */
  private payloadOffset(packet: Buffer): number {
    const control = (packet[3] >> 4) & 3;
    if (!(control & 1)) return -1;
    if (!(control & 2)) return 4;
    const start = 5 + packet[4];
    if (start > TS_PACKET_SIZE) {
      this.errors++;
      return -1;
    }
    return start;
  }

  private handleEsPacket(packet: Buffer): void {
    const start = this.payloadOffset(packet);
    if (start === -1) {
      // PCR-only packets carry timing a segment must keep: attach them to the unit around them.
      (this.pes ? this.pes.packets : this.orphanPackets).push(packet);
      return;
    }
    const cc = packet[3] & 0x0f;
    const discontinuity = (packet[3] & 0x20) !== 0 && packet[4] > 0 && (packet[5] & 0x80) !== 0;
    if (this.lastCc !== -1 && !discontinuity) {
      if (cc === this.lastCc) return; // a duplicate packet (allowed once by the standard)
      if (cc !== ((this.lastCc + 1) & 0x0f)) {
        // A packet is missing: the open PES lacks data, so it is dropped rather than emitted corrupt.
        this.dropPes();
      }
    }
    this.lastCc = cc;
    const pusi = (packet[1] & 0x40) !== 0;
    if (pusi) {
      this.finishPes();
      this.startPes(packet, start);
      return;
    }
    const pes = this.pes;
    if (!pes) {
      // Payload of a PES whose start we did not see or that was dropped: one error until the next start.
      if (!this.skipping) this.errors++;
      this.skipping = true;
      return;
    }
    pes.packets.push(packet);
    this.addPayload(pes, packet.subarray(start));
  }

  private startPes(packet: Buffer, start: number): void {
    const headerLength = 9 + (packet[start + 8] ?? 0);
    if (
      start + 9 > TS_PACKET_SIZE ||
      packet[start] !== 0 ||
      packet[start + 1] !== 0 ||
      packet[start + 2] !== 1 ||
      start + headerLength > TS_PACKET_SIZE
    ) {
      // Not a PES start, or a header split across packets (FFmpeg never does that).
      this.dropPes();
      return;
    }
    const pesLength = packet.readUInt16BE(start + 4);
    const flags = packet[start + 7] >> 6;
    let pts: number | undefined;
    let dts: number | undefined;
    if (flags & 2 && headerLength >= 14) pts = readTimestamp(packet, start + 9);
    if (flags === 3 && headerLength >= 19) dts = readTimestamp(packet, start + 14);
    let expected = -1;
    if (pesLength !== 0) {
      expected = pesLength - (headerLength - 6);
      if (expected < 0) {
        this.dropPes();
        return;
      }
    }
    const packets = this.orphanPackets;
    this.orphanPackets = [];
    packets.push(packet);
    this.skipping = false;
    const pes: PesInProgress = { pts, dts, expected, collected: 0, payloads: [], packets };
    this.pes = pes;
    this.addPayload(pes, packet.subarray(start + headerLength));
  }

  private addPayload(pes: PesInProgress, payload: Buffer): void {
    if (pes.expected !== -1 && pes.collected + payload.length > pes.expected) {
      payload = payload.subarray(0, pes.expected - pes.collected); // bytes past PES_packet_length are not ES data
    }
    if (payload.length) {
      pes.payloads.push(payload);
      pes.collected += payload.length;
    }
    if (pes.expected !== -1 && pes.collected === pes.expected) this.finishPes();
  }

  /** Counts a problem and discards the open PES; its continuation packets are then skipped silently. */
  private dropPes(): void {
    this.errors++;
    this.pes = undefined;
    this.skipping = true;
  }

  /** Emits the open PES if it is whole; a bounded one that is short was truncated and is dropped. */
  private finishPes(): void {
    const pes = this.pes;
    if (!pes) return;
    this.pes = undefined;
    if ((pes.expected !== -1 && pes.collected < pes.expected) || pes.collected === 0) {
      this.errors++;
      return;
    }
    // dts follows the previous unit's, pts its own dts: each takes the 2^33 multiple nearest to its reference.
    const rawDts = pes.dts ?? pes.pts;
    const dts = rawDts === undefined ? (this.lastDts ?? 0) : unwrap(rawDts, this.lastDts);
    const pts = pes.pts === undefined ? dts : unwrap(pes.pts, dts);
    this.lastDts = dts;
    const data = pes.payloads.length === 1 ? Buffer.from(pes.payloads[0]) : Buffer.concat(pes.payloads, pes.collected);
    this.onUnit({
      pts,
      dts,
      keyframe: this.type === 'h264' ? containsIdr(data) : true,
      data,
      packets: Buffer.concat(pes.packets, pes.packets.length * TS_PACKET_SIZE),
    });
  }

  private handlePat(packet: Buffer): void {
    const section = this.psiSection(packet, 0x00);
    if (!section) return;
    if (this.patSection && section.equals(this.patSection)) return;
    let pmtPid: number | undefined;
    // Program loop: 4 bytes each, between the 8-byte header and the CRC.
    for (let i = 8; i + 4 <= section.length - 4; i += 4) {
      const program = section.readUInt16BE(i);
      if (program !== 0) {
        pmtPid = section.readUInt16BE(i + 2) & 0x1fff;
        break;
      }
    }
    if (pmtPid === undefined) {
      this.errors++;
      return;
    }
    this.patSection = Buffer.from(section);
    this.patPacket = Buffer.from(packet);
    if (pmtPid !== this.pmtPid) {
      this.pmtPid = pmtPid;
      this.pmtSection = undefined;
    }
    this.updateHeaders();
  }

  private handlePmt(packet: Buffer): void {
    const section = this.psiSection(packet, 0x02);
    if (!section) return;
    if (this.pmtSection && section.equals(this.pmtSection)) return;
    const programInfoLength = section.readUInt16BE(10) & 0x0fff;
    let esPid: number | undefined;
    let type: TsStreamType | undefined;
    for (let i = 12 + programInfoLength; i + 5 <= section.length - 4;) {
      const streamType = STREAM_TYPES[section[i]];
      if (streamType) {
        type = streamType;
        esPid = section.readUInt16BE(i + 1) & 0x1fff;
        break;
      }
      i += 5 + (section.readUInt16BE(i + 3) & 0x0fff);
    }
    this.pmtSection = Buffer.from(section);
    this.pmtPacket = Buffer.from(packet);
    if (esPid !== this.esPid) {
      // A new elementary stream: what was collected from the old one ends here.
      this.finishPes();
      this.orphanPackets = [];
      this.esPid = esPid;
      this.lastCc = -1;
    }
    this.type = type;
    this.updateHeaders();
  }

  private updateHeaders(): void {
    this.headers = this.patPacket && this.pmtPacket && this.pmtSection ? Buffer.concat([this.patPacket, this.pmtPacket]) : undefined;
  }

  /**
   * The PSI section in a packet (from table_id to CRC), if it starts there, fits in the packet, has
   * the expected table_id and a correct CRC. A garbage packet on PID 0 must not replace the program.
   */
  private psiSection(packet: Buffer, tableId: number): Buffer | undefined {
    if (!(packet[1] & 0x40)) return undefined; // continuation of a multi-packet section: not written by FFmpeg
    const start = this.payloadOffset(packet);
    if (start === -1) return undefined;
    const sectionStart = start + 1 + packet[start];
    if (sectionStart + 3 > TS_PACKET_SIZE || packet[sectionStart] !== tableId) {
      this.errors++;
      return undefined;
    }
    const sectionEnd = sectionStart + 3 + (packet.readUInt16BE(sectionStart + 1) & 0x0fff);
    if (sectionEnd > TS_PACKET_SIZE || sectionEnd - sectionStart < 16 || crc32Mpeg(packet, sectionStart, sectionEnd) !== 0) {
      this.errors++;
      return undefined;
    }
    return packet.subarray(sectionStart, sectionEnd);
  }
}

/** A 33-bit PTS/DTS from its 5-byte PES encoding. */
function readTimestamp(buf: Buffer, at: number): number {
  return ((buf[at] >> 1) & 0x07) * 2 ** 30 + ((buf[at + 1] << 22) | ((buf[at + 2] >> 1) << 15) | (buf[at + 3] << 7) | (buf[at + 4] >> 1));
}

/** The value congruent to `raw` modulo 2^33 that is nearest to `reference`. */
function unwrap(raw: number, reference: number | undefined): number {
  if (reference === undefined) return raw;
  return raw + Math.round((reference - raw) / TIMESTAMP_WRAP) * TIMESTAMP_WRAP;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
    table[i] = crc >>> 0;
  }
  return table;
})();

/** CRC-32/MPEG-2 over buf[start, end); 0 when the range ends with its own correct CRC. */
export function crc32Mpeg(buf: Buffer, start = 0, end = buf.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf[i]) & 0xff]) >>> 0;
  return crc;
}
