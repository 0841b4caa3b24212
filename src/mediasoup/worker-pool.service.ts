import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import * as mediasoup from 'mediasoup';
import { isIPv4 } from 'node:net';
import type { Router } from 'mediasoup/node/lib/Router';
import type { WebRtcServer } from 'mediasoup/node/lib/WebRtcServer';
import type { WebRtcTransport } from 'mediasoup/node/lib/WebRtcTransport';
import type { Worker } from 'mediasoup/node/lib/Worker';
import { appConfig, AppConfig, PortRange } from '../config/app.config';
import { EventBus } from '../events/events';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import { MEDIA_CODECS } from './media-codecs';
import { slicePortRange, webRtcServerPorts } from './port-slices';

/** One worker with the router and WebRtcServers that live on it. Replaced as a whole when the worker dies. */
export interface WorkerSlot {
  readonly id: number;
  readonly worker: Worker;
  readonly router: Router;
  /**
   * Its WebRtcServers (none with WEBRTC_SERVER=false). Several spread the publishers over several
   * UDP sockets: each has its own kernel receive buffer, which keyframe bursts of many publishers
   * overflow (mediasoup 3.12 cannot size it).
   */
  readonly webRtcServers: WebRtcServer[];
  readonly ports: PortRange;
}

/** How long a worker may take to exit after SIGTERM (then SIGKILL) at shutdown. */
const WORKER_EXIT_TIMEOUT_MS = 3000;

/** The first delay lets a group-wide Ctrl-C/SIGTERM, which also hits the workers, be noticed first. */
const REPLACE_DELAYS_MS = [100, 500, 1000, 3000];

/**
 * Owns the mediasoup workers: starts one per configured slot, replaces a worker that dies (the
 * process keeps serving), and announces both on the event bus so dependants can drop what they held.
 */
@Injectable()
export class WorkerPoolService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(WorkerPoolService.name);
  private readonly slots = new Map<number, WorkerSlot>();
  private readonly portSlices: PortRange[];
  private nextIndex = 0;
  private nextServer = 0;
  private closing = false;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly bus: EventBus,
    private readonly lifecycle: LifecycleService,
  ) {
    this.portSlices = slicePortRange(config.mediasoup.rtcPorts, config.mediasoup.workers);
  }

  async onModuleInit(): Promise<void> {
    const started = await Promise.allSettled(this.portSlices.map((_, id) => this.startSlot(id)));
    const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) {
      // Start-up fails as a whole (a port in use, say): the workers that did start must not outlive it.
      await this.onApplicationShutdown();
      throw failed.reason;
    }
    this.logger.log(
      `${this.slots.size} mediasoup worker(s) started (mediasoup ${mediasoup.version}), announcing ${this.config.announcedIp}`,
    );
  }

  /** The configured number of workers. */
  get size(): number {
    return this.portSlices.length;
  }

  /** Slots whose worker is running now. */
  aliveSlots(): WorkerSlot[] {
    return [...this.slots.values()].filter((slot) => !slot.worker.closed);
  }

  slot(id: number): WorkerSlot | undefined {
    const slot = this.slots.get(id);
    return slot && !slot.worker.closed ? slot : undefined;
  }

  /** Round robin over the running workers; throws when none is running (e.g. mid-replacement). */
  pickSlot(): WorkerSlot {
    const alive = this.aliveSlots();
    if (alive.length === 0) throw new Error('no mediasoup worker is running');
    return alive[this.nextIndex++ % alive.length];
  }

  async createWebRtcTransport(slot: WorkerSlot, appData: Record<string, unknown>): Promise<WebRtcTransport> {
    const common = {
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 1_000_000,
      appData,
    };
    if (slot.webRtcServers.length > 0) {
      const webRtcServer = slot.webRtcServers[this.nextServer++ % slot.webRtcServers.length];
      return slot.router.createWebRtcTransport({ ...common, webRtcServer });
    }
    return slot.router.createWebRtcTransport({
      ...common,
      listenIps: [{ ip: this.listenIp(), announcedIp: this.config.announcedIp }],
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    const pids = [...this.slots.values()].map((slot) => slot.worker.pid);
    for (const slot of this.slots.values()) slot.worker.close();
    this.slots.clear();
    // worker.close() only sends SIGTERM and forgets the process: wait until it is really gone, so
    // no worker outlives this process (SIGKILL if one ignores the request).
    let left = await exited(pids, WORKER_EXIT_TIMEOUT_MS);
    if (left.length > 0) {
      this.logger.warn(`worker process(es) ${left.join(', ')} still running after SIGTERM; killing`);
      for (const pid of left) signal(pid, 'SIGKILL');
      left = await exited(left, WORKER_EXIT_TIMEOUT_MS);
    }
    this.logger.log(`${pids.length - left.length} mediasoup worker(s) stopped`);
  }

  /**
   * WebRTC listens where HTTP does: HOST=127.0.0.1 (tests) keeps the worker off other interfaces.
   * Not derived from ANNOUNCED_IP: in a container announcing 127.0.0.1 to a browser on the Docker
   * host, published ports arrive on the container's own interface, not its loopback.
   */
  private listenIp(): string {
    return isIPv4(this.config.host) ? this.config.host : '0.0.0.0';
  }

  private async startSlot(id: number): Promise<void> {
    const ports = this.portSlices[id];
    const worker = await mediasoup.createWorker({
      logLevel: 'warn',
      rtcMinPort: ports.min,
      rtcMaxPort: ports.max,
      appData: { slotId: id },
    });
    try {
      const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
      const webRtcServers: WebRtcServer[] = [];
      if (this.config.mediasoup.webRtcServer) {
        const ip = this.listenIp();
        for (const port of webRtcServerPorts(
          this.config.mediasoup.webRtcServerPort,
          id,
          this.config.mediasoup.webRtcServersPerWorker,
          this.size,
        )) {
          webRtcServers.push(
            await worker.createWebRtcServer({
              listenInfos: [
                { protocol: 'udp', ip, announcedIp: this.config.announcedIp, port },
                { protocol: 'tcp', ip, announcedIp: this.config.announcedIp, port },
              ],
            }),
          );
        }
      }
      // A replacement that finished starting after shutdown began would be left running.
      if (this.closing) throw new Error('the pool is closing');
      this.slots.set(id, { id, worker, router, webRtcServers, ports });
    } catch (error) {
      worker.close();
      throw error;
    }
    worker.on('died', (error) => this.onWorkerDied(id, worker, error));
    this.logger.log(`[worker:${id} pid:${worker.pid}] started, RTC ports ${ports.min}-${ports.max}`);
    this.bus.emit('worker.started', { workerId: id, pid: worker.pid });
  }

  private onWorkerDied(id: number, worker: Worker, error: Error): void {
    if (this.slots.get(id)?.worker !== worker) return;
    this.slots.delete(id);
    if (this.closing || this.lifecycle.shuttingDown) {
      this.logger.log(`[worker:${id} pid:${worker.pid}] exited during shutdown`);
      return;
    }
    this.logger.error(`[worker:${id} pid:${worker.pid}] died: ${error.message}; replacing it`);
    this.bus.emit('worker.died', { workerId: id, pid: worker.pid, error: error.message });
    void this.replace(id, 0);
  }

  private async replace(id: number, attempt: number): Promise<void> {
    const delay = REPLACE_DELAYS_MS[Math.min(attempt, REPLACE_DELAYS_MS.length - 1)];
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (this.closing || this.lifecycle.shuttingDown) return;
    try {
      await this.startSlot(id);
    } catch (error) {
      if (this.closing || this.lifecycle.shuttingDown) return;
      this.logger.error(`[worker:${id}] replacement failed (${(error as Error).message}), retrying`);
      await this.replace(id, attempt + 1);
    }
  }
}

/** Sends a signal; false if the process no longer exists. */
function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

/** Polls until the processes are gone (this process reaps its children); returns those still running. */
async function exited(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let running = pids.filter((pid) => signal(pid, 0));
  while (running.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    running = running.filter((pid) => signal(pid, 0));
  }
  return running;
}
