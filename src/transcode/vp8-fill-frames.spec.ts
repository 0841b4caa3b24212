import { execFileSync } from 'node:child_process';
import { ChildProcess } from 'node:child_process';
import { keyframeSize } from '../media/vp8';
import { ProcessRunner, SpawnOptions } from './process-runner';
import { Vp8FillFrames } from './vp8-fill-frames';

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

describe('Vp8FillFrames (real FFmpeg)', () => {
  let runner: WatchedRunner;
  let frames: Vp8FillFrames;
  beforeEach(() => {
    runner = new WatchedRunner();
    frames = new Vp8FillFrames(runner, 'ffmpeg');
  });
  afterEach(() => frames.close());

  it('makes one black keyframe per size, once, and keeps it', async () => {
    const size = { width: 640, height: 360 };
    expect(frames.keyframe(size)).toBeUndefined();
    expect(frames.keyframe(size)).toBeUndefined(); // asked twice while it is being made: one FFmpeg
    expect(runner.children).toHaveLength(1);
    await runner.exited(runner.children[0]);
    const keyframe = frames.keyframe(size)!;
    expect(keyframeSize(keyframe)).toEqual(size);
    expect(meanLuma(keyframe)).toBeLessThan(20); // black, as FFmpeg's filler runs draw it
    expect(frames.keyframe(size)).toBe(keyframe);
    expect(runner.children).toHaveLength(1);

    expect(frames.keyframe({ width: 321, height: 241 })).toBeUndefined(); // odd sizes too
    await runner.exited(runner.children[1]);
    expect(keyframeSize(frames.keyframe({ width: 321, height: 241 })!)).toEqual({ width: 321, height: 241 });
  });

  it('tries nothing for sizes VP8 cannot carry, and does not retry a failure at once', async () => {
    expect(frames.keyframe({ width: 0, height: 10 })).toBeUndefined();
    expect(frames.keyframe({ width: 20_000, height: 10 })).toBeUndefined();
    expect(runner.children).toHaveLength(0);
    const failing = new Vp8FillFrames(runner, '/nonexistent/ffmpeg');
    expect(failing.keyframe({ width: 64, height: 64 })).toBeUndefined();
    await runner.exited(runner.children[0]);
    expect(failing.keyframe({ width: 64, height: 64 })).toBeUndefined();
    expect(runner.children).toHaveLength(1);
    failing.close();
  });

  it('close() ends an FFmpeg still encoding, and nothing is made after it', async () => {
    frames.keyframe({ width: 1920, height: 1080 });
    const child = runner.children[0];
    frames.close();
    await runner.exited(child);
    expect(child.signalCode === 'SIGKILL' || child.exitCode !== null).toBe(true);
    expect(frames.keyframe({ width: 1920, height: 1080 })).toBeUndefined();
    expect(runner.children).toHaveLength(1);
  });
});
