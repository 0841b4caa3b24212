import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { CLUSTER } from './cluster.constants';
import type { Cluster } from './cluster.types';

/**
 * The cluster registry's readiness. While Redis is down the node still serves its own publishers
 * and viewers, so by default this stays `up` and names the degraded dependency with its reason
 * (`degraded: true`), keeping the pod in its Service; `required: true` reports `down` instead.
 */
@Injectable()
export class ClusterHealthIndicator {
  constructor(
    @Inject(CLUSTER) private readonly cluster: Cluster,
    private readonly indicators: HealthIndicatorService,
  ) {}

  check(key = 'redis', { required = false }: { required?: boolean } = {}) {
    const indicator = this.indicators.check(key);
    const status = this.cluster.status();
    const details = { mode: status.mode, node: this.cluster.nodeId, since: new Date(status.since).toISOString() };
    if (status.state === 'up') return indicator.up(details);
    const down = { ...details, degraded: true, error: status.reason ?? 'redis is down' };
    return required ? indicator.down(down) : indicator.up(down);
  }
}
