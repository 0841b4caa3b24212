import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import type { Router } from 'mediasoup/node/lib/Router';
import { appConfig, AppConfig } from '../config/app.config';
import { LifecycleService } from '../events/lifecycle.service';
import { PortPool } from './port-pool';
import { SessionListener, TranscodeSession } from './transcode-session';

/**
 * Owns every FFmpeg run and what feeds it: the FFmpeg port pool and one TranscodeSession per
 * publisher. A session's ports go back to the pool only after its last FFmpeg has exited.
 */
@Injectable()
export class TranscoderService implements OnApplicationShutdown {
  private readonly logger = new Logger(TranscoderService.name);
  private readonly ports: PortPool;
  private readonly sessions = new Map<string, TranscodeSession>();

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly lifecycle: LifecycleService,
  ) {
    this.ports = new PortPool(config.ffmpeg.ports);
  }

  /** Opens a session for a publisher; throws PortsExhaustedError when the FFmpeg port range is full. */
  async open(peerId: string, router: Router, listener: SessionListener): Promise<TranscodeSession> {
    if (this.sessions.has(peerId)) throw new Error(`a transcode session for ${peerId} is already open`);
    const lease = await this.ports.lease();
    const workDir = join(this.config.hls.dir, '.work', peerId);
    const session = new TranscodeSession(peerId, router, lease, this.config, listener, workDir, () => this.lifecycle.shuttingDown);
    this.sessions.set(peerId, session);
    return session;
  }

  /** Stops the session's FFmpeg, closes its consumers and transports, frees its ports. */
  async close(session: TranscodeSession): Promise<void> {
    await session.close();
    if (this.sessions.get(session.peerId) === session) this.sessions.delete(session.peerId);
  }

  /** FFmpeg processes running now. */
  get processCount(): number {
    return this.pids().length;
  }

  pids(): number[] {
    return [...this.sessions.values()].flatMap((session) => session.pids);
  }

  get portsInUse(): number {
    return this.ports.inUse;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sessions.size > 0) this.logger.log(`stopping ${this.sessions.size} FFmpeg session(s)`);
    await Promise.all([...this.sessions.values()].map((session) => this.close(session)));
  }
}
