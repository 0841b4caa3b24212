import { Controller, Get, MessageEvent, NotFoundException, Param, Sse } from '@nestjs/common';
import { concat, defer, map, Observable, of } from 'rxjs';
import { StreamInfo } from './hls-stream';
import { HlsService } from './hls.service';

@Controller('api')
export class StreamsController {
  constructor(private readonly hls: HlsService) {}

  /** The original design's Server-Sent Events: `init` on connect, then `peerLive` and `peerLeft`. */
  @Sse('live-streams')
  liveStreams(): Observable<MessageEvent> {
    return defer(() =>
      concat(
        of<MessageEvent>({ type: 'init', data: { livePeers: this.hls.livePeers().map((peerId) => ({ peerId })) } }),
        this.hls.liveNotices.pipe(map(({ type, peerId }): MessageEvent => ({ type, data: { peerId } }))),
      ),
    );
  }

  @Get('streams')
  streams(): StreamInfo[] {
    return this.hls.streams();
  }

  @Get('streams/:peerId')
  stream(@Param('peerId') peerId: string): StreamInfo {
    const stream = this.hls.stream(peerId);
    if (!stream) throw new NotFoundException(`no stream for peer ${peerId}`);
    return stream;
  }
}
