import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { ProcessRunner } from './process-runner';

export type FfmpegState = 'starting' | 'listening' | 'stopping' | 'exited';

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when stop() asked for it; anything else is a crash. */
  requested: boolean;
}

const STDERR_TAIL_LINES = 40;
/** With no packets arriving FFmpeg needs ~9 s to honour one SIGINT; a second one ends it at once. */
const SECOND_SIGINT_MS = 300;
const SIGKILL_MS = 3000;
const PORT_POLL_MS = 20;
/** One "RTP: missed N packets" line with more than this is FFmpeg's bookkeeping, not loss (see onStderr). */
const MAX_MISSED_PER_LINE = 1000;

/**
 * One FFmpeg process: spawn, readiness from evidence (its UDP ports bound), progress and errors parsed
 * from its output, its output pipes, and a stop that escalates SIGINT → SIGINT → SIGKILL. It never
 * restarts itself: its owner decides that.
 */
export class FfmpegProcess {
  state: FfmpegState = 'starting';
  readonly startedAt = Date.now();
  lastProgressAt = Date.now();
  /** RTP loss FFmpeg reported ("RTP: missed N packets"); counted, not kept in the tail. */
  missedPackets = 0;
  /** Frames FFmpeg dropped (from -progress). */
  droppedFrames = 0;
  readonly exited: Promise<FfmpegExit>;
  /** The output pipes, fd 3 onwards, in the order of the command's outputs. */
  readonly outputs: Readable[];
  /** Resolves once the process has exited and every output pipe has been read to its end. */
  readonly drained: Promise<void>;
  private readonly child: ChildProcess;
  private readonly stderrTail: string[] = [];
  private stopRequested = false;

  constructor(
    runner: ProcessRunner,
    binary: string,
    readonly args: string[],
    outputCount: number,
    private readonly onLine: (line: string) => void = () => undefined,
    /** Called with what was added to missedPackets / droppedFrames, as FFmpeg reports it. */
    private readonly onLoss: (missedPackets: number, droppedFrames: number) => void = () => undefined,
  ) {
    this.child = runner.spawn(binary, args, { outputPipes: outputCount });
    this.outputs = Array.from({ length: outputCount }, (_, i) => this.child.stdio[3 + i] as Readable);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.remember(`spawn error: ${error.message}`);
        this.state = 'exited';
        resolve({ code: null, signal: null, requested: this.stopRequested });
      });
      this.child.once('exit', (code, signal) => {
        this.state = 'exited';
        resolve({ code, signal, requested: this.stopRequested });
      });
    });
    const ended = this.outputs.map(
      (output) =>
        new Promise<void>((resolve) => {
          output.once('close', resolve);
          output.once('error', () => resolve());
        }),
    );
    this.drained = Promise.all([this.exited, ...ended]).then(() => undefined);
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.onProgress(line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.onStderr(line));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last lines FFmpeg wrote to stderr, for failure reports. */
  get tail(): string {
    return this.stderrTail.join('\n');
  }

  /**
   * Resolves once every port is bound by some socket (ours are reserved, so it is FFmpeg's). The
   * deadline is generous: on a busy host FFmpeg has been measured taking over 5 s to get there.
   */
  async waitUntilListening(ports: number[], timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.state === 'starting') {
      const bound = await boundUdpPorts();
      if (ports.every((port) => bound.has(port))) {
        this.state = 'listening';
        return;
      }
      if (Date.now() > deadline) throw new Error(`FFmpeg did not bind ports ${ports.join(',')} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, PORT_POLL_MS));
    }
    if (this.state === 'exited') throw new Error(`FFmpeg exited while starting:\n${this.tail}`);
  }

  /** Idempotent; resolves when the process has exited. */
  async stop(): Promise<FfmpegExit> {
    if (this.state !== 'exited') {
      this.stopRequested = true;
      this.state = 'stopping';
      this.signal('SIGINT');
      const second = setTimeout(() => this.signal('SIGINT'), SECOND_SIGINT_MS);
      const kill = setTimeout(() => this.signal('SIGKILL'), SIGKILL_MS);
      await this.exited;
      clearTimeout(second);
      clearTimeout(kill);
    }
    return this.exited;
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.state !== 'exited') this.child.kill(signal);
  }

  private onProgress(line: string): void {
    const [key, value] = line.split('=', 2);
    if (key === 'out_time_us') this.lastProgressAt = Date.now();
    else if (key === 'drop_frames') {
      // -progress repeats the process's running total.
      const total = Number(value) || 0;
      if (total > this.droppedFrames) {
        const added = total - this.droppedFrames;
        this.droppedFrames = total;
        this.onLoss(0, added);
      }
    }
  }

  private onStderr(line: string): void {
    const missed = /RTP: missed (\d+) packets/.exec(line);
    if (missed) {
      // Counted only when it can be loss: FFmpeg adds 65535 to a negative gap (a late or repeated
      // packet), and no loss on loopback is that large in one go. (Gaps of thousands that grew by one
      // per packet were mediasoup's bandwidth probes on the video port: see ffmpeg-rtp-capabilities.)
      const count = Number(missed[1]);
      if (count <= MAX_MISSED_PER_LINE) {
        this.missedPackets += count;
        this.onLoss(count, 0);
      }
    } else if (!/max delay reached/.test(line)) this.remember(line);
    this.onLine(line);
  }

  private remember(line: string): void {
    this.stderrTail.push(line);
    if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
  }
}

/** Local UDP ports currently bound, from /proc/net/udp and udp6. */
async function boundUdpPorts(): Promise<Set<number>> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local) ports.add(parseInt(local.split(':')[1], 16));
    }
  }
  return ports;
}
