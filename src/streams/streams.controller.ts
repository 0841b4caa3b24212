import { BadRequestException, Controller, Get, MessageEvent, NotFoundException, Param, Query, Sse } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import { concat, defer, map, Observable, of } from 'rxjs';
import { llMasterPlaylistUrl } from '../packaging/hls-names';
import { PackagingService } from '../packaging/packaging.service';
import { TranscoderService } from '../transcode/transcoder.service';
import { StreamInfoDto } from './dto/stream-info.dto';
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
  ) {}

  /** The original design's Server-Sent Events: `init` on connect, then `peerLive` and `peerLeft`. */
  @Sse('live-streams')
  @ApiOperation({
    summary: 'Server-Sent Events: live and left notices',
    description:
      'Named events: `init` {livePeers: [{peerId}]} once on connect, then `peerLive` {peerId} when a ' +
      "stream's master playlist becomes playable and `peerLeft` {peerId} when the stream has ended.",
  })
  @ApiProduces('text/event-stream')
  liveStreams(): Observable<MessageEvent> {
    return defer(() =>
      concat(
        of<MessageEvent>({ type: 'init', data: { livePeers: this.streams.liveIds().map((peerId) => ({ peerId })) } }),
        this.streams.liveNotices.pipe(
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
  list(@Query('state') state?: unknown): StreamInfo[] {
    if (state !== undefined && !STATES.includes(state as StreamState)) {
      throw new BadRequestException(`state must be one of ${STATES.join(', ')}`);
    }
    return this.streams
      .all()
      .filter((stream) => state === undefined || stream.state === state)
      .map((stream) => this.info(stream));
  }

  @Get('streams/:peerId')
  @ApiOperation({ summary: 'One stream' })
  @ApiOkResponse({ type: StreamInfoDto })
  @ApiNotFoundResponse({ description: 'No stream with that id' })
  one(@Param('peerId') peerId: string): StreamInfo {
    const stream = this.streams.get(peerId);
    if (!stream) throw new NotFoundException(`no stream for peer ${peerId}`);
    return this.info(stream);
  }

  private info(stream: StreamRecord): StreamInfo {
    const current = stream.state !== 'ended';
    return streamInfo(stream, current ? this.transcoder.info(stream.id) : undefined, this.packaging.info(stream.id, stream.generation));
  }
}
