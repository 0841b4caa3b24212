import { Injectable } from '@nestjs/common';
import { ChildProcess, spawn } from 'node:child_process';

export interface SpawnOptions {
  /** Pipes FFmpeg writes its outputs to: fd 3, 4, … (`pipe:3`, `pipe:4`, …). */
  outputPipes: number;
}

/**
 * The one place child processes are spawned, so tests can substitute stand-ins (a script that
 * ignores SIGINT, one that exits at once) for FFmpeg without touching the code that supervises it.
 */
@Injectable()
export class ProcessRunner {
  spawn(binary: string, args: string[], options: SpawnOptions): ChildProcess {
    // stdin closed, stdout carries -progress, stderr the log, then one pipe per output.
    const stdio = ['ignore', 'pipe', 'pipe', ...Array.from({ length: options.outputPipes }, () => 'pipe' as const)] as const;
    return spawn(binary, args, { stdio: [...stdio] });
  }
}
