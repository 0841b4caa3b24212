import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { WorkerPoolService } from './worker-pool.service';

/** Ready only while every configured mediasoup worker is running. */
@Injectable()
export class MediasoupHealthIndicator {
  constructor(
    private readonly pool: WorkerPoolService,
    private readonly indicators: HealthIndicatorService,
  ) {}

  check(key = 'mediasoup') {
    const indicator = this.indicators.check(key);
    const alive = this.pool.aliveSlots().map((slot) => ({ id: slot.id, pid: slot.worker.pid }));
    const details = { workers: alive, expected: this.pool.size };
    return alive.length === this.pool.size ? indicator.up(details) : indicator.down(details);
  }
}
