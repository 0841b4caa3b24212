import { Logger } from '@nestjs/common';
import type { ChildProcess } from 'node:child_process';
import { errorMessage } from '../common/errors';
import { containsIdr, extractParameterSets, NalType, nalType, splitAnnexB, spsPictureSize } from '../media/h264';
import type { PictureSize } from '../media/picture-size';
import { ivfFrames, keyframeSize } from '../media/vp8';
import { FILLER_COLOR } from './ffmpeg-args';
import type { ProcessRunner } from './process-runner';

/** Sizes kept: a stream uses one or a few (simulcast layers, a browser adapting its resolution). */
const MAX_SIZES = 16;
/** FFmpeg encodes one small picture in about 0.15 s; past this something is wrong. */
const ENCODE_TIMEOUT_MS = 10_000;
/** After a failure, a size is not tried again for this long. */
const RETRY_AFTER_MS = 30_000;

/** How one codec's filler keyframes are made by FFmpeg and read back. */
export interface FillCodec {
  name: string;
  /** Whether the codec can carry a picture of this size. */
  fits(size: PictureSize): boolean;
  /** FFmpeg's arguments from the encoder on, for `frames` keyframes to stdout. */
  encode(frames: number): string[];
  /** The keyframes in FFmpeg's output, or undefined when it is not what was asked for. */
  read(output: Buffer): Buffer[] | undefined;
  /** The picture size of a keyframe read back. */
  sizeOf(keyframe: Buffer): PictureSize | undefined;
  /** How many keyframes the filler plays in turn. */
  frames: number;
}

/** A VP8 picture is 1 to 16383 pixels each way (14-bit sizes). */
export const VP8_FILL: FillCodec = {
  name: 'VP8',
  fits: ({ width, height }) => inRange(width, 1, 16383) && inRange(height, 1, 16383),
  encode: (frames) => [
    '-frames:v',
    String(frames),
    '-c:v',
    'libvpx',
    '-deadline',
    'realtime',
    '-cpu-used',
    '8',
    '-b:v',
    '200k',
    '-f',
    'ivf',
  ],
  read: (output) => {
    try {
      const frames = ivfFrames(output);
      return frames.length > 0 ? frames : undefined;
    } catch {
      return undefined;
    }
  },
  sizeOf: keyframeSize,
  frames: 1,
};

/**
 * H264 keyframes for a copied stream: constrained baseline (what every browser decodes), one slice
 * whatever the host's cores, each keyframe an access unit of SPS, PPS and IDR slice. Two, because
 * consecutive IDR pictures must differ in idr_pic_id (H.264 7.4.3), which x264 alternates. 4:2:0
 * needs even sizes.
 */
export const H264_FILL: FillCodec = {
  name: 'H264',
  fits: ({ width, height }) => inRange(width, 2, 4096) && inRange(height, 2, 4096) && width % 2 === 0 && height % 2 === 0,
  encode: (frames) => [
    ...['-frames:v', String(frames), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-threads', '1'],
    ...['-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-g', '1', '-f', 'h264'],
  ],
  read: (output) => {
    const units = accessUnits(output);
    // Each an access unit that stands alone: its own SPS, an IDR slice (containsIdr, as the cutter tells keyframes).
    const complete = units.every((unit) => extractParameterSets(unit).sps.length > 0 && containsIdr(unit));
    return units.length > 0 && complete ? units : undefined;
  },
  sizeOf: (keyframe) => {
    const sps = extractParameterSets(keyframe).sps[0];
    return sps && spsPictureSize(sps);
  },
  frames: 2,
};

/**
 * Keyframes of a plain filler picture, one set per picture size, made by FFmpeg on first request and
 * kept. A stream plays them in its RTP while its camera is off or its publisher sends nothing (see
 * RtpGapFiller), so FFmpeg reads one stream that never stops and a pause costs no restart. Keyframes
 * only: each one stands alone, whatever the decoder had before. Owns the FFmpeg children it starts;
 * close() ends them.
 */
export class FillPictures {
  private readonly logger: Logger;
  private readonly made = new Map<string, Buffer[]>();
  private readonly pending = new Map<string, ChildProcess>();
  private readonly failedAt = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly runner: ProcessRunner,
    private readonly ffmpegPath: string,
    private readonly codec: FillCodec,
  ) {
    this.logger = new Logger(`FillPictures ${codec.name}`);
  }

  /** The keyframes for this size, or undefined until they are made (asking starts making them). */
  keyframes(size: PictureSize): Buffer[] | undefined {
    const key = keyOf(size);
    const frames = this.made.get(key);
    if (frames) return frames;
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
    if (!Number.isInteger(size.width) || !Number.isInteger(size.height) || !this.codec.fits(size)) return;
    const args = [
      ...['-hide_banner', '-loglevel', 'error', '-nostdin'],
      // The colour source makes even sizes only (and crop keeps them even): an odd one is scaled to.
      ...['-f', 'lavfi', '-i', `color=c=${FILLER_COLOR}:s=${even(size.width)}x${even(size.height)}:r=10`],
      ...['-vf', `scale=${size.width}:${size.height}`],
      ...this.codec.encode(this.codec.frames),
      'pipe:1',
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
      const frames = code === 0 ? this.codec.read(Buffer.concat(chunks)) : undefined;
      const right = frames?.length === this.codec.frames && frames.every((frame) => sameSize(this.codec.sizeOf(frame), size));
      if (!frames || !right) {
        this.fail(key, `FFmpeg exited (code ${code}, signal ${signal}) without ${this.codec.frames} ${key} keyframes: ${stderr.trim()}`);
        return;
      }
      if (this.made.size >= MAX_SIZES) this.made.delete(this.made.keys().next().value!);
      this.made.set(key, frames);
    });
  }

  private fail(key: string, why: string): void {
    this.pending.delete(key);
    this.failedAt.set(key, Date.now());
    this.logger.warn(`no filler keyframe for ${key}: ${why}`);
  }
}

/**
 * An Annex-B stream's access units, without SEI (x264 writes its version there) or delimiters: a
 * unit starts at the first NAL after a slice, or at a slice that starts a new picture.
 */
function accessUnits(stream: Buffer): Buffer[] {
  const units: Buffer[][] = [];
  let sliceSeen = true;
  for (const nal of splitAnnexB(stream)) {
    const type = nalType(nal);
    if (type === NalType.SEI || type === NalType.AUD) continue;
    const isSlice = type >= NalType.SLICE && type <= NalType.IDR;
    // A new unit at the first non-slice after slices, or at a slice starting a new picture (first_mb_in_slice 0: ue(v) '1').
    if (units.length === 0 || (sliceSeen && (!isSlice || (nal[1] & 0x80) !== 0))) units.push([]);
    sliceSeen = isSlice;
    units.at(-1)!.push(nal);
  }
  const startCode = Buffer.from([0, 0, 0, 1]);
  return units.map((nals) => Buffer.concat(nals.flatMap((nal) => [startCode, nal])));
}

function inRange(n: number, min: number, max: number): boolean {
  return n >= min && n <= max;
}

function sameSize(a: PictureSize | undefined, b: PictureSize): boolean {
  return a?.width === b.width && a.height === b.height;
}

function even(n: number): number {
  return n + (n % 2);
}

function keyOf(size: PictureSize): string {
  return `${size.width}x${size.height}`;
}
