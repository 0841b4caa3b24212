import { Controller, Get, Inject, NotFoundException, Param } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CLUSTER } from '../cluster/cluster.constants';
import type { Cluster, ClusterStatus, NodeRecord, StreamRecord } from '../cluster/cluster.types';
import { StreamsService } from './streams.service';

/** The cluster as this node sees it, for operators, and what another node asks before a takeover. */
@ApiTags('cluster')
@Controller('api/cluster')
export class ClusterController {
  constructor(
    @Inject(CLUSTER) private readonly cluster: Cluster,
    private readonly streams: StreamsService,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      "This node, Redis's state and the registry's last look: live nodes (address, capacity, load) and which node holds which stream",
    description: 'Single node (REDIS_URL unset): `mode: single` and empty lists. While Redis is away, the last look before the outage.',
  })
  overview(): { node: string; status: ClusterStatus; nodes: NodeRecord[]; streams: StreamRecord[] } {
    const { nodes, streams } = this.cluster.view();
    return { node: this.cluster.nodeId, status: this.cluster.status(), nodes, streams };
  }

  @Get('streams/:id/publisher')
  @ApiOperation({
    summary:
      'Who publishes a stream held on this node and for how long it has sent nothing (silentMs null: parked, no publisher; publisherId null and silentMs 0: one is being admitted)',
    description: 'Asked by another node whose publisher wants the name: a holder silent for 2 s may be taken over.',
  })
  @ApiOkResponse({ schema: { example: { streamId: 'studio-1', publisherId: 'Nbm4Zqc4p_B15RMwAAAA', silentMs: 0 } } })
  @ApiNotFoundResponse({ description: 'This node does not hold that stream' })
  publisher(@Param('id') id: string): { streamId: string; publisherId: string | null; silentMs: number | null } {
    const activity = this.streams.holderActivity(id);
    if (!activity) throw new NotFoundException(`this node holds no stream ${id}`);
    return { streamId: id, ...activity };
  }
}
