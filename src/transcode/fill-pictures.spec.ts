import { execFileSync } from 'node:child_process';
import { ChildProcess } from 'node:child_process';
import { extractParameterSets, parseSps, splitAnnexB } from '../media/h264';
import { keyframeSize } from '../media/vp8';
import { ProcessRunner, SpawnOptions } from './process-runner';
import { FillPictures, H264_FILL, VP8_FILL } from './fill-pictures';

/** Real FFmpeg, with every child it starts seen by the test. */
class WatchedRunner extends ProcessRunner {
  readonly children: ChildProcess[] = [];
  private readonly closed = new Map<ChildProcess, Promise<void>>();
  spawn(binary: string, args: string[], options: SpawnOptions): ChildProcess {
    const child = super.spawn(binary, args, options);
    this.children.push(child);
    this.closed.set(child, new Promise((resolve) => child.once('close', () => resolve())));
    return child;
  }
  /** Resolves once the child's streams have closed (after its owner's own 'close' listener). */
  exited(child: ChildProcess): Promise<void> {
    return this.closed.get(child)!;
  }
}

/** Decodes one VP8 keyframe with FFmpeg: its mean luma (0-255). */
function meanLuma(frame: Buffer): number {
  const ivf = Buffer.alloc(32 + 12);
  ivf.write('DKIF', 0, 'latin1');
  ivf.writeUInt16LE(32, 6);
  ivf.write('VP80', 8, 'latin1');
  ivf.writeUInt32LE(30, 16); // time base 1/30
  ivf.writeUInt32LE(1, 20);
  ivf.writeUInt32LE(frame.length, 32);
  const gray = execFileSync(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-f', 'ivf', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'],
    {
      input: Buffer.concat([ivf, frame]),
    },
  );
  return gray.reduce((sum, v) => sum + v, 0) / gray.length;
}

describe('FillPictures, VP8 (real FFmpeg)', () => {
  let runner: WatchedRunner;
  let frames: FillPictures;
  beforeEach(() => {
    runner = new WatchedRunner();
    frames = new FillPictures(runner, 'ffmpeg', VP8_FILL);
  });
  afterEach(() => frames.close());

  it('makes one black keyframe per size, once, and keeps it', async () => {
    const size = { width: 640, height: 360 };
    expect(frames.keyframes(size)).toBeUndefined();
    expect(frames.keyframes(size)).toBeUndefined(); // asked twice while it is being made: one FFmpeg
    expect(runner.children).toHaveLength(1);
    await runner.exited(runner.children[0]);
    const keyframes = frames.keyframes(size)!;
    expect(keyframes).toHaveLength(1);
    expect(keyframeSize(keyframes[0])).toEqual(size);
    expect(meanLuma(keyframes[0])).toBeLessThan(20); // black, as FFmpeg's filler runs draw it
    expect(frames.keyframes(size)).toBe(keyframes);
    expect(runner.children).toHaveLength(1);

    expect(frames.keyframes({ width: 321, height: 241 })).toBeUndefined(); // odd sizes too
    await runner.exited(runner.children[1]);
    expect(keyframeSize(frames.keyframes({ width: 321, height: 241 })![0])).toEqual({ width: 321, height: 241 });
  });

  it('tries nothing for sizes VP8 cannot carry, and does not retry a failure at once', async () => {
    expect(frames.keyframes({ width: 0, height: 10 })).toBeUndefined();
    expect(frames.keyframes({ width: 20_000, height: 10 })).toBeUndefined();
    expect(runner.children).toHaveLength(0);
    const failing = new FillPictures(runner, '/nonexistent/ffmpeg', VP8_FILL);
    expect(failing.keyframes({ width: 64, height: 64 })).toBeUndefined();
    await runner.exited(runner.children[0]);
    expect(failing.keyframes({ width: 64, height: 64 })).toBeUndefined();
    expect(runner.children).toHaveLength(1);
    failing.close();
  });

  it('close() ends an FFmpeg still encoding, and nothing is made after it', async () => {
    frames.keyframes({ width: 1920, height: 1080 });
    const child = runner.children[0];
    frames.close();
    await runner.exited(child);
    expect(child.signalCode === 'SIGKILL' || child.exitCode !== null).toBe(true);
    expect(frames.keyframes({ width: 1920, height: 1080 })).toBeUndefined();
    expect(runner.children).toHaveLength(1);
  });
});

/** Decodes an H264 Annex-B stream with FFmpeg: the mean luma (0-255) of each picture. */
function h264MeanLumas(stream: Buffer, width: number, height: number): number[] {
  const gray = execFileSync(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-f', 'h264', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'],
    {
      input: stream,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const pictures: number[] = [];
  for (let at = 0; at + width * height <= gray.length; at += width * height) {
    pictures.push(gray.subarray(at, at + width * height).reduce((sum, v) => sum + v, 0) / (width * height));
  }
  return pictures;
}

describe('FillPictures, H264 (real FFmpeg)', () => {
  let runner: WatchedRunner;
  let pictures: FillPictures;
  beforeEach(() => {
    runner = new WatchedRunner();
    pictures = new FillPictures(runner, 'ffmpeg', H264_FILL);
  });
  afterEach(() => pictures.close());

  it('makes two black IDR access units per size, constrained baseline, one slice each, with different idr_pic_id', async () => {
    const size = { width: 640, height: 360 };
    expect(pictures.keyframes(size)).toBeUndefined();
    await runner.exited(runner.children[0]);
    const keyframes = pictures.keyframes(size)!;
    expect(keyframes).toHaveLength(2);
    for (const keyframe of keyframes) {
      const types = splitAnnexB(keyframe).map((nal) => nal[0] & 0x1f);
      expect(types).toEqual([7, 8, 5]); // SPS, PPS, one IDR slice: no SEI, whatever the host's cores
      const sps = parseSps(extractParameterSets(keyframe).sps[0]);
      expect({ width: sps.width, height: sps.height }).toEqual(size);
      expect(sps.profileIdc).toBe(66);
      expect(sps.constraintFlags & 0x40).toBe(0x40); // constraint_set1: constrained baseline
    }
    // The same picture, but consecutive IDRs must not be byte-identical slices (idr_pic_id alternates).
    expect(splitAnnexB(keyframes[0])[2].equals(splitAnnexB(keyframes[1])[2])).toBe(false);
    // Played in turn, as the filler plays them: every picture decodes, black.
    const lumas = h264MeanLumas(Buffer.concat([...keyframes, ...keyframes, ...keyframes]), size.width, size.height);
    expect(lumas).toHaveLength(6);
    for (const luma of lumas) expect(luma).toBeLessThan(20);
  });

  it('tries nothing for sizes 4:2:0 H264 cannot carry', () => {
    expect(pictures.keyframes({ width: 321, height: 240 })).toBeUndefined();
    expect(pictures.keyframes({ width: 0, height: 240 })).toBeUndefined();
    expect(pictures.keyframes({ width: 8192, height: 240 })).toBeUndefined();
    expect(runner.children).toHaveLength(0);
  });
});
