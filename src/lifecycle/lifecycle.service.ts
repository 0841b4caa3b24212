import { BeforeApplicationShutdown, Injectable, OnModuleDestroy } from '@nestjs/common';

/** Signals that stop the app (Nest's shutdown hooks listen to these too) and that a terminal or
 * `kill -- -pgid` sends to the whole process group: Ctrl-C, Ctrl-\, hangup, termination. */
const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];

/**
 * Knows whether the process is going down. A terminal's Ctrl-C (or `timeout`) signals the whole
 * process group, so workers and FFmpeg children may exit before Nest's shutdown hooks run; their
 * owners ask here instead of restarting them.
 */
@Injectable()
export class LifecycleService implements BeforeApplicationShutdown, OnModuleDestroy {
  private stopping = false;
  private readonly onSignal = () => {
    this.stopping = true;
  };

  constructor() {
    for (const signal of SIGNALS) process.on(signal, this.onSignal);
  }

  get shuttingDown(): boolean {
    return this.stopping;
  }

  beforeApplicationShutdown(): void {
    this.stopping = true;
  }

  onModuleDestroy(): void {
    this.stopping = true;
    for (const signal of SIGNALS) process.off(signal, this.onSignal);
  }
}
