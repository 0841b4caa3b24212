import { BadRequestException, Controller, Get, Headers, Inject, MessageEvent, NotFoundException, Param, Query, Sse } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import { concat, defer, map, Observable, of } from 'rxjs';
import { CLUSTER } from '../cluster/cluster.constants';
import type { Cluster } from '../cluster/cluster.types';
import { HOP_HEADER } from '../cluster/node-http';
import { llMasterPlaylistUrl } from '../packaging/hls-names';
import { PackagingService } from '../packaging/packaging.service';
import { TranscoderService } from '../transcode/transcoder.service';
import { StreamInfoDto } from './dto/stream-info.dto';
import { StreamDirectoryService } from './stream-directory.service';
import { StreamInfo, streamInfo } from './stream-info';
import { StreamRecord, StreamState, StreamsService } from './streams.service';

const STATES: StreamState[] = ['starting', 'live', 'parked', 'ended'];

@ApiTags('streams')
@Controller('api')
export class StreamsController {
  constructor(
    private readonly streams: StreamsService,
    private readonly transcoder: TranscoderService,
    private readonly packaging: PackagingService,
    private readonly directory: StreamDirectoryService,
    @Inject(CLUSTER) private readonly cluster: Cluster,
  ) {}

  /** The original design's Server-Sent Events: `init` on connect, then `peerLive` and `peerLeft`. */
  @Sse('live-streams')
  @ApiOperation({
    summary: 'Server-Sent Events: live and left notices',
    description:
      'Named events: `init` {livePeers: [{peerId}]} once on connect, then `peerLive` {peerId} when a ' +
      "stream's master playlist becomes playable and `peerLeft` {peerId} when the stream has ended, and " +
      '`publisherChanged` {peerId} when another publisher took a stream over. In cluster mode (REDIS_URL), ' +
      'for every stream of every node.',
  })
  @ApiProduces('text/event-stream')
  liveStreams(): Observable<MessageEvent> {
    return defer(() =>
      concat(
        of<MessageEvent>({ type: 'init', data: { livePeers: this.directory.liveIds().map((peerId) => ({ peerId })) } }),
        this.directory.notices.pipe(
          map(({ type, peerId }): MessageEvent => ({
            type,
            // peerLive also names the Low-Latency master (an extra field: clients of the original event ignore it).
            data: type === 'peerLive' ? { peerId, llMasterUrl: llMasterPlaylistUrl(peerId) } : { peerId },
          })),
        ),
      ),
    );
  }

  @Get('streams')
  @ApiOperation({ summary: 'Every stream: starting, live, parked, or ended and kept for the retention time (with its recording)' })
  @ApiQuery({ name: 'state', required: false, enum: STATES })
  @ApiOkResponse({ type: StreamInfoDto, isArray: true })
  @ApiBadRequestResponse({ description: 'Unknown state' })
  async list(@Query('state') state?: unknown, @Headers(HOP_HEADER) hop?: string): Promise<StreamInfo[]> {
    if (state !== undefined && !STATES.includes(state as StreamState)) {
      throw new BadRequestException(`state must be one of ${STATES.join(', ')}`);
    }
    const here = this.streams
      .all()
      .filter((stream) => state === undefined || stream.state === state)
      .map((stream) => this.info(stream));
    // Another node asking for this node's part of the list gets just that.
    if (hop !== undefined || !this.clustered) return here;
    return [...here, ...(await this.directory.otherNodesStreams(state as StreamState | undefined))];
  }

  @Get('streams/:peerId')
  @ApiOperation({ summary: 'One stream (in cluster mode, wherever it is)' })
  @ApiOkResponse({ type: StreamInfoDto })
  @ApiNotFoundResponse({ description: 'No stream with that id' })
  async one(@Param('peerId') peerId: string, @Headers(HOP_HEADER) hop?: string): Promise<StreamInfo> {
    const stream = this.streams.get(peerId);
    if (stream) return this.info(stream);
    const elsewhere = hop === undefined && this.clustered ? await this.directory.otherNodeStream(peerId) : undefined;
    if (!elsewhere) throw new NotFoundException(`no stream for peer ${peerId}`);
    return elsewhere;
  }

  private get clustered(): boolean {
    return this.cluster.status().mode === 'cluster';
  }

  private info(stream: StreamRecord): StreamInfo {
    const current = stream.state !== 'ended';
    const node = this.clustered ? this.cluster.nodeId : undefined;
    return streamInfo(
      stream,
      current ? this.transcoder.info(stream.id) : undefined,
      this.packaging.info(stream.id, stream.generation),
      node,
    );
  }
}
