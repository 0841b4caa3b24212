import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { HlsHealthIndicator } from '../hls/hls.health';
import { MediasoupHealthIndicator } from '../mediasoup/mediasoup.health';
import { EventLoopHealthIndicator } from './event-loop.health';

/** Kubernetes probes. Only composes the indicators that each feature module exports. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly eventLoop: EventLoopHealthIndicator,
    private readonly mediasoup: MediasoupHealthIndicator,
    private readonly hls: HlsHealthIndicator,
  ) {}

  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([() => this.eventLoop.check()]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.mediasoup.check(),
      () => this.hls.checkFfmpeg(),
      () => this.hls.checkDisk(),
    ]);
  }
}
