import { parseSps, splitAnnexB } from './h264';
import { h264PayloadPictureSize, isH264KeyframeStart, packetizeH264 } from './h264-rtp';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const startCode = Buffer.from([0, 0, 0, 1]);
const annexB = (...nals: Buffer[]) => Buffer.concat(nals.flatMap((nal) => [startCode, nal]));
// An SPS as libx264 wrote it (640x480, constrained baseline), a PPS, an SEI and slices of made-up bytes.
const SPS = hex('67 42c01fd900a03db0110000030001000003003c0f183248');
const PPS = hex('68 ce3880');
const SEI = hex('06 05 02 aabb 80');
const idr = (length: number) => Buffer.concat([hex('65 88'), Buffer.alloc(length - 2, 0x5a)]);

/** What a receiver rebuilds from the payloads (RFC 6184 5.7, 5.8): the NAL units, in order. */
function depacketize(payloads: Buffer[]): Buffer[] {
  const nals: Buffer[] = [];
  let fragments: Buffer[] | undefined;
  for (const p of payloads) {
    const type = p[0] & 0x1f;
    if (type === 24) {
      for (let at = 1; at < p.length; at += 2 + p.readUInt16BE(at)) nals.push(p.subarray(at + 2, at + 2 + p.readUInt16BE(at)));
    } else if (type === 28) {
      if (p[1] & 0x80) fragments = [Buffer.from([(p[0] & 0xe0) | (p[1] & 0x1f)])];
      fragments!.push(p.subarray(2));
      if (p[1] & 0x40) nals.push(Buffer.concat(fragments!));
    } else nals.push(p);
  }
  return nals;
}

describe('packetizeH264', () => {
  it('sends SPS and PPS in one STAP-A, a big IDR in FU-A fragments, and leaves SEI out', () => {
    const slice = idr(3000);
    const payloads = packetizeH264(annexB(SPS, PPS, SEI, slice), 1200);
    expect(payloads.map((p) => p[0] & 0x1f)).toEqual([24, 28, 28, 28]);
    expect(payloads[0][0] & 0x60).toBe(0x60); // NRI of the aggregate: the highest of its units'
    expect(payloads.every((p) => p.length <= 1200)).toBe(true);
    expect(payloads.slice(1).map((p) => p[1] & 0xc0)).toEqual([0x80, 0x00, 0x40]); // S on the first, E on the last
    expect(depacketize(payloads)).toEqual([SPS, PPS, slice]);
  });

  it('puts a unit that fits alone in its own packet, and a unit of exactly the limit whole', () => {
    expect(packetizeH264(annexB(idr(500)), 1200)).toEqual([idr(500)]);
    expect(packetizeH264(annexB(idr(1200)), 1200)).toEqual([idr(1200)]);
    const payloads = packetizeH264(annexB(SPS, PPS, idr(400)), 1200);
    expect(payloads.map((p) => p[0] & 0x1f)).toEqual([24]); // all three fit in one aggregate
    expect(depacketize(payloads)).toEqual([SPS, PPS, idr(400)]);
  });

  it('round-trips a real access unit of x264 as the filler makes them', () => {
    const unit = annexB(SPS, PPS, idr(2500));
    expect(depacketize(packetizeH264(unit))).toEqual(splitAnnexB(unit));
  });
});

describe('isH264KeyframeStart / h264PayloadPictureSize', () => {
  const [stap, firstFragment, middle] = packetizeH264(annexB(SPS, PPS, idr(3000)), 1200);
  const pSliceFragment = Buffer.from([0x5c, 0x81, 0x9a]); // FU-A start of a non-IDR slice

  it('tells the first packet of a keyframe: an SPS or IDR whole, or the first fragment of one', () => {
    expect(isH264KeyframeStart(stap)).toBe(true);
    expect(isH264KeyframeStart(SPS)).toBe(true);
    expect(isH264KeyframeStart(idr(100))).toBe(true);
    expect(isH264KeyframeStart(firstFragment)).toBe(true);
    expect(isH264KeyframeStart(middle)).toBe(false);
    expect(isH264KeyframeStart(pSliceFragment)).toBe(false);
    expect(isH264KeyframeStart(hex('41 9a00'))).toBe(false); // a non-IDR slice
    expect(isH264KeyframeStart(PPS)).toBe(false);
    expect(isH264KeyframeStart(Buffer.alloc(0))).toBe(false);
    expect(isH264KeyframeStart(hex('18 0010'))).toBe(false); // a STAP-A that claims more than it has
  });

  it('reads the picture size from an SPS sent whole or aggregated, and nothing from other packets', () => {
    const { width, height } = parseSps(SPS);
    expect(h264PayloadPictureSize(stap)).toEqual({ width, height });
    expect(h264PayloadPictureSize(SPS)).toEqual({ width, height });
    expect(h264PayloadPictureSize(firstFragment)).toBeUndefined();
    expect(h264PayloadPictureSize(PPS)).toBeUndefined();
    expect(h264PayloadPictureSize(hex('67 42'))).toBeUndefined(); // a truncated SPS
  });
});
