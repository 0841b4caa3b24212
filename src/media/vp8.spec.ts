import { isVp8KeyframeStart, ivfFrames, keyframeSize, packetizeVp8, vp8KeyframeSize, vp8PayloadStart } from './vp8';

/** A VP8 keyframe's first bytes: tag (P=0, shown, partition size 0x123), start code, 14-bit sizes with scale bits. */
const keyframe = Buffer.from([0x10, 0x24, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x45, 0xd0, 0x42, 0xaa]);
// 0x4500 & 0x3fff = 0x500 = 1280 (scale bits 01 ignored); 0x42d0 & 0x3fff = 0x2d0 = 720.

describe('VP8 in RTP', () => {
  it('reads the payload descriptor with and without its optional fields', () => {
    expect(vp8PayloadStart(Buffer.from([0x10, 0xaa]))).toEqual({ frameStart: true, offset: 1 });
    expect(vp8PayloadStart(Buffer.from([0x00, 0xaa]))).toEqual({ frameStart: false, offset: 1 });
    expect(vp8PayloadStart(Buffer.from([0x11, 0xaa]))).toMatchObject({ frameStart: false }); // partition 1
    // X with I (15-bit picture ID), L and T: 1 + 1 + 2 + 1 + 1.
    expect(vp8PayloadStart(Buffer.from([0x90, 0xe0, 0x80, 0x01, 0x05, 0x20, 0xaa]))).toEqual({ frameStart: true, offset: 6 });
    // X with a 7-bit picture ID only.
    expect(vp8PayloadStart(Buffer.from([0x90, 0x80, 0x7f, 0xaa]))).toEqual({ frameStart: true, offset: 3 });
    expect(vp8PayloadStart(Buffer.alloc(0))).toBeUndefined();
    expect(vp8PayloadStart(Buffer.from([0x90]))).toBeUndefined();
  });

  it('tells a keyframe and its size from the first packet of a frame only', () => {
    const first = Buffer.concat([Buffer.from([0x90, 0x80, 0x05]), keyframe]);
    expect(isVp8KeyframeStart(first)).toBe(true);
    expect(vp8KeyframeSize(first)).toEqual({ width: 1280, height: 720 });
    const inter = Buffer.from([0x10, 0x01, 0x00, 0x00]);
    expect(isVp8KeyframeStart(inter)).toBe(false);
    expect(vp8KeyframeSize(inter)).toBeUndefined();
    const continuation = Buffer.concat([Buffer.from([0x00]), keyframe]);
    expect(isVp8KeyframeStart(continuation)).toBe(false);
    expect(vp8KeyframeSize(continuation)).toBeUndefined();
    const badStartCode = Buffer.from(keyframe);
    badStartCode[4] = 0x02;
    expect(keyframeSize(badStartCode)).toBeUndefined();
  });

  it('packetizes a frame into payloads of at most the given size, S=1 on the first', () => {
    const frame = Buffer.from(Array.from({ length: 2500 }, (_, i) => i % 251));
    const payloads = packetizeVp8(frame, 1200);
    expect(payloads.map((p) => p.length)).toEqual([1200, 1200, 103]);
    expect(payloads.map((p) => p[0])).toEqual([0x10, 0x00, 0x00]);
    expect(Buffer.concat(payloads.map((p) => p.subarray(1)))).toEqual(frame);
    expect(packetizeVp8(Buffer.alloc(10))).toHaveLength(1);
  });
});

describe('ivfFrames', () => {
  it('reads the frames after the file header', () => {
    const header = Buffer.alloc(32);
    header.write('DKIF', 0, 'latin1');
    header.writeUInt16LE(32, 6);
    const frame = (data: number[]) => {
      const head = Buffer.alloc(12);
      head.writeUInt32LE(data.length, 0);
      return Buffer.concat([head, Buffer.from(data)]);
    };
    const file = Buffer.concat([header, frame([1, 2, 3]), frame([4]), frame([5, 6]).subarray(0, 13)]);
    expect(ivfFrames(file)).toEqual([Buffer.from([1, 2, 3]), Buffer.from([4])]); // the cut-off one left out
    expect(() => ivfFrames(Buffer.alloc(40))).toThrow(/not an IVF/);
  });
});
