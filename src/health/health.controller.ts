import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { PackagingHealthIndicator } from '../packaging/packaging.health';
import { TranscodeHealthIndicator } from '../transcode/transcode.health';
import { MediasoupHealthIndicator } from '../mediasoup/mediasoup.health';
import { ClusterHealthIndicator } from '../cluster/cluster.health';
import { CLUSTER } from '../cluster/cluster.constants';
import type { Cluster } from '../cluster/cluster.types';
import { EventLoopHealthIndicator } from './event-loop.health';
import { ApiOperation, ApiTags } from '@nestjs/swagger';

/** Kubernetes probes. Only composes the indicators that each feature module exports. */
@ApiTags('operations')
@Controller('health')
export class HealthController {
  /** The readiness check running now, shared by the probes that arrive meanwhile. */
  private readyInFlight?: Promise<HealthCheckResult>;

  constructor(
    private readonly health: HealthCheckService,
    private readonly eventLoop: EventLoopHealthIndicator,
    private readonly mediasoup: MediasoupHealthIndicator,
    private readonly transcode: TranscodeHealthIndicator,
    private readonly packaging: PackagingHealthIndicator,
    private readonly redis: ClusterHealthIndicator,
    @Inject(CLUSTER) private readonly cluster: Cluster,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: 200 while the event loop is not stalled' })
  @HealthCheck()
  live() {
    return this.health.check([() => this.eventLoop.check()]);
  }

  /**
   * Concurrent probes (kubelet, load balancers, compose) share one run: the checks spawn FFmpeg
   * and write a probe file, and overlapping runs of the disk check removed each other's file.
   */
  @Get('ready')
  @ApiOperation({
    summary:
      'Readiness: 200 when every mediasoup worker runs, FFmpeg runs and the HLS directory is writable with free space; 503 names the failing check',
    description:
      'Also `redis` (cluster mode): while Redis is unreachable it stays up with `degraded: true` and the reason, ' +
      'since the node still serves its own publishers and viewers; a pod must not leave its Service because Redis did.',
  })
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    // Redis only in cluster mode: a single node's readiness is what it always was.
    const redis = this.cluster.status().mode === 'cluster' ? [() => this.redis.check('redis')] : [];
    this.readyInFlight ??= this.health
      .check([() => this.mediasoup.check(), () => this.transcode.checkFfmpeg(), () => this.packaging.checkDisk(), ...redis])
      .finally(() => (this.readyInFlight = undefined));
    return this.readyInFlight;
  }
}
