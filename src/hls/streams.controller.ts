import { Controller, Get, MessageEvent, NotFoundException, Param, Sse } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { concat, defer, map, Observable, of } from 'rxjs';
import { StreamInfoDto } from './dto/stream-info.dto';
import { StreamInfo } from './hls-stream';
import { HlsService } from './hls.service';

@ApiTags('streams')
@Controller('api')
export class StreamsController {
  constructor(private readonly hls: HlsService) {}

  /** The original design's Server-Sent Events: `init` on connect, then `peerLive` and `peerLeft`. */
  @Sse('live-streams')
  @ApiOperation({
    summary: 'Server-Sent Events: live and left notices',
    description:
      'Named events: `init` {livePeers: [{peerId}]} once on connect, then `peerLive` {peerId} when a ' +
      "publisher's master playlist becomes playable and `peerLeft` {peerId} when its stream has ended.",
  })
  @ApiProduces('text/event-stream')
  liveStreams(): Observable<MessageEvent> {
    return defer(() =>
      concat(
        of<MessageEvent>({ type: 'init', data: { livePeers: this.hls.livePeers().map((peerId) => ({ peerId })) } }),
        this.hls.liveNotices.pipe(map(({ type, peerId }): MessageEvent => ({ type, data: { peerId } }))),
      ),
    );
  }

  @Get('streams')
  @ApiOperation({ summary: 'Every stream: live, starting, or ended and kept for the retention time' })
  @ApiOkResponse({ type: StreamInfoDto, isArray: true })
  streams(): StreamInfo[] {
    return this.hls.streams();
  }

  @Get('streams/:peerId')
  @ApiOperation({ summary: "One publisher's stream" })
  @ApiOkResponse({ type: StreamInfoDto })
  @ApiNotFoundResponse({ description: 'No stream for that peer id' })
  stream(@Param('peerId') peerId: string): StreamInfo {
    const stream = this.hls.stream(peerId);
    if (!stream) throw new NotFoundException(`no stream for peer ${peerId}`);
    return stream;
  }
}
