import { ParameterSetWatch } from '../media/h264';
import { TsAccessUnit, TsDemuxer } from '../media/ts-demuxer';
import type { FfmpegCommand } from './ffmpeg-args';
import { FfmpegExit, FfmpegProcess, FfmpegState } from './ffmpeg-process';
import type { MediaUnit } from './media-unit';
import type { ProcessRunner } from './process-runner';
import { SegmentCutter } from './segment-cutter';

export interface RunSink {
  /** A unit of a rendition, with its segment index; in order per rendition. */
  onUnit(rendition: string, unit: MediaUnit): void;
  /** Segment `index` started (at once, as its keyframe arrives). */
  onCut(index: number): void;
  /** FFmpeg reported RTP packets missed or frames dropped (increments). */
  onLoss?(missedPackets: number, droppedFrames: number): void;
  /** A video rendition waits for a keyframe (it missed one at a cut). */
  onKeyframeNeeded(rendition: string): void;
}

export interface RunMember {
  command: FfmpegCommand;
  /** FFmpeg's RTP/RTCP ports for this process: it is listening once all are bound. */
  ports: number[];
}

interface Member {
  process: FfmpegProcess;
  ports: number[];
  drained: Promise<void>;
}

/**
 * The FFmpeg processes of one run, handled as one: normally a single process for both kinds; the
 * `legacy` profile runs one per kind. Each process's output pipes are demuxed and cut into segments
 * here, so the run hands on access units that already know their segment. One member exiting ends
 * the run.
 */
export class FfmpegRun {
  readonly startedAt = Date.now();
  readonly exited: Promise<FfmpegExit>;
  /** Every member exited and every unit of every pipe was handed on. */
  readonly drained: Promise<void>;
  /** When a unit last came out of any pipe. */
  lastUnitAt = Date.now();
  private readonly members: Member[];

  constructor(
    runner: ProcessRunner,
    binary: string,
    members: RunMember[],
    targetSeconds: number,
    private readonly sink: RunSink,
    onLine: (line: string) => void,
  ) {
    this.members = members.map(({ command, ports }, index) => {
      const process = new FfmpegProcess(runner, binary, command.args, command.outputs.length, onLine, (missed, dropped) =>
        this.sink.onLoss?.(missed, command.convertsFrameRate ? 0 : dropped),
      );
      const cutter = new SegmentCutter<TsAccessUnit & { programHeaders: Buffer; formatChange: boolean }>(
        command.outputs.map((o) => ({ name: o.rendition, kind: o.kind })),
        { targetSeconds },
        (rendition, unit, segment) => {
          this.lastUnitAt = Date.now();
          this.sink.onUnit(rendition, { ...unit, segment });
        },
        // Only the first process's cuts drive keyframe requests (it has the video).
        (cut) => index === 0 && this.sink.onCut(cut),
        (rendition) => this.sink.onKeyframeNeeded(rendition),
      );
      const demuxers = command.outputs.map((output, i) => {
        // A copied layer's picture size can change within a run (the browser adapts): the cutter starts
        // a segment there and packaging tells players (see MediaUnit.formatChange).
        const formats = output.kind === 'video' ? new ParameterSetWatch() : undefined;
        const demuxer = new TsDemuxer((unit) =>
          cutter.push(output.rendition, {
            ...unit,
            programHeaders: demuxer.programHeaders!,
            formatChange: formats?.changes(unit) ?? false,
          }),
        );
        process.outputs[i].on('data', (chunk: Buffer) => demuxer.push(chunk));
        return demuxer;
      });
      const drained = process.drained.then(() => {
        for (const demuxer of demuxers) demuxer.end();
        cutter.end();
      });
      return { process, ports, drained };
    });
    this.exited = Promise.race(this.members.map((m) => m.process.exited));
    this.drained = Promise.all(this.members.map((m) => m.drained)).then(() => undefined);
  }

  get state(): FfmpegState {
    const states = this.members.map((m) => m.process.state);
    for (const state of ['exited', 'stopping', 'starting'] as const) if (states.includes(state)) return state;
    return 'listening';
  }

  /** Whether any of its processes binds RTP ports (a run of filler alone binds none). */
  get bindsPorts(): boolean {
    return this.members.some((m) => m.ports.length > 0);
  }

  get pids(): number[] {
    return this.members.map((m) => m.process.pid).filter((pid): pid is number => pid !== undefined);
  }

  get missedPackets(): number {
    return this.members.reduce((sum, m) => sum + m.process.missedPackets, 0);
  }

  get droppedFrames(): number {
    return this.members.reduce((sum, m) => sum + m.process.droppedFrames, 0);
  }

  get tail(): string {
    return this.members.map((m) => m.process.tail).join('\n');
  }

  async waitUntilListening(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.waitUntilListening(m.ports)));
  }

  /** Stops every process and waits until their last units are handed on. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.stop()));
    await this.drained;
  }
}
