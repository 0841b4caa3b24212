import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Liveness: the event loop has not been blocked for long since the previous probe. */
@Injectable()
export class EventLoopHealthIndicator implements OnModuleDestroy {
  static readonly MAX_DELAY_MS = 2000;
  private readonly histogram = monitorEventLoopDelay({ resolution: 20 });

  constructor(private readonly indicators: HealthIndicatorService) {
    this.histogram.enable();
  }

  check(key = 'eventLoop') {
    const maxDelayMs = Math.round(this.histogram.max / 1e6);
    const p99DelayMs = Math.round(this.histogram.percentile(99) / 1e6);
    this.histogram.reset();
    const details = { maxDelayMs, p99DelayMs, limitMs: EventLoopHealthIndicator.MAX_DELAY_MS };
    const indicator = this.indicators.check(key);
    return maxDelayMs <= EventLoopHealthIndicator.MAX_DELAY_MS ? indicator.up(details) : indicator.down(details);
  }

  onModuleDestroy(): void {
    this.histogram.disable();
  }
}
