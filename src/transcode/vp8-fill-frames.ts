import { Logger } from '@nestjs/common';
import type { ChildProcess } from 'node:child_process';
import { errorMessage } from '../common/errors';
import { ivfFrames, keyframeSize, PictureSize } from '../media/vp8';
import { FILLER_COLOR } from './ffmpeg-args';
import type { ProcessRunner } from './process-runner';
/** Sizes kept: a stream uses one or a few (simulcast layers, a browser adapting its resolution). */
const MAX_SIZES = 16;
/** FFmpeg encodes one small picture in about 0.15 s; past this something is wrong. */
const ENCODE_TIMEOUT_MS = 10_000;
/** After a failure, a size is not tried again for this long. */
const RETRY_AFTER_MS = 30_000;
const MAX_DIMENSION = 16383;

/**
 * VP8 keyframes of a plain filler picture, one per picture size, made by FFmpeg's libvpx on first
 * request and kept. A transcoded VP8 stream plays them in its RTP while its camera is off or its
 * publisher sends nothing (see RtpGapFiller), so FFmpeg decodes one stream that never stops and a
 * pause costs no restart. Keyframes only: each one stands alone, whatever the decoder had before.
 * Owns the FFmpeg children it starts; close() ends them.
 */
export class Vp8FillFrames {
  private readonly logger = new Logger('Vp8FillFrames');
  private readonly frames = new Map<string, Buffer>();
  private readonly pending = new Map<string, ChildProcess>();
  private readonly failedAt = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly runner: ProcessRunner,
    private readonly ffmpegPath: string,
  ) {}

  /** The keyframe for this size, or undefined until it is made (asking starts making it). */
  keyframe(size: PictureSize): Buffer | undefined {
    const key = keyOf(size);
    const frame = this.frames.get(key);
    if (frame) return frame;
    this.make(size, key);
    return undefined;
  }

  /** Ends every FFmpeg still encoding; nothing is made after it. */
  close(): void {
    this.closed = true;
    for (const child of this.pending.values()) child.kill('SIGKILL');
    this.pending.clear();
  }

  private make(size: PictureSize, key: string): void {
    if (this.closed || this.pending.has(key) || Date.now() - (this.failedAt.get(key) ?? -Infinity) < RETRY_AFTER_MS) return;
    if (!validSize(size)) return;
    const args = [
      ...['-hide_banner', '-loglevel', 'error', '-nostdin'],
      // The colour source makes even sizes only (and crop keeps them even): an odd one is scaled to.
      ...['-f', 'lavfi', '-i', `color=c=${FILLER_COLOR}:s=${even(size.width)}x${even(size.height)}:r=10`],
      ...['-vf', `scale=${size.width}:${size.height}`],
      ...['-frames:v', '1', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '200k'],
      ...['-f', 'ivf', 'pipe:1'],
    ];
    let child: ChildProcess;
    try {
      child = this.runner.spawn(this.ffmpegPath, args, { outputPipes: 0 });
    } catch (error) {
      this.fail(key, errorMessage(error));
      return;
    }
    this.pending.set(key, child);
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-500)));
    const timer = setTimeout(() => child.kill('SIGKILL'), ENCODE_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      this.fail(key, error.message);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (this.pending.get(key) !== child) return; // closed meanwhile, or failed to start
      this.pending.delete(key);
      const frame = code === 0 ? safeFirstFrame(Buffer.concat(chunks)) : undefined;
      const made = frame && keyframeSize(frame);
      if (!frame || made?.width !== size.width || made.height !== size.height) {
        this.fail(key, `FFmpeg exited (code ${code}, signal ${signal}) without a ${key} keyframe: ${stderr.trim()}`);
        return;
      }
      if (this.frames.size >= MAX_SIZES) this.frames.delete(this.frames.keys().next().value!);
      this.frames.set(key, frame);
    });
  }

  private fail(key: string, why: string): void {
    this.pending.delete(key);
    this.failedAt.set(key, Date.now());
    this.logger.warn(`no filler keyframe for ${key}: ${why}`);
  }
}

function even(n: number): number {
  return n + (n % 2);
}

function keyOf(size: PictureSize): string {
  return `${size.width}x${size.height}`;
}

/** A VP8 picture is 1 to 16383 pixels each way (14-bit sizes). */
function validSize({ width, height }: PictureSize): boolean {
  return (
    Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1 && width <= MAX_DIMENSION && height <= MAX_DIMENSION
  );
}

function safeFirstFrame(file: Buffer): Buffer | undefined {
  try {
    return ivfFrames(file)[0];
  } catch {
    return undefined;
  }
}
