import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { MediasoupModule } from '../../mediasoup/mediasoup.module';
import { PeersModule } from '../../peers/peers.module';
import { StreamsModule } from '../../streams/streams.module';
import { TranscodeModule } from '../../transcode/transcode.module';
import { WhipController } from './whip.controller';
import { WhipProxyMiddleware } from './whip-proxy.middleware';
import { WhipService } from './whip.service';

/**
 * WHIP ingest (RFC 9725) next to the socket.io one: publishers from OBS, GStreamer, FFmpeg or a browser.
 * In cluster mode a session's DELETE/PATCH reaching another node goes to the node holding its stream.
 */
@Module({
  imports: [MediasoupModule, PeersModule, StreamsModule, TranscodeModule],
  controllers: [WhipController],
  providers: [WhipService, WhipProxyMiddleware],
  exports: [WhipService],
})
export class WhipModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(WhipProxyMiddleware)
      .forRoutes(
        { path: 'whip/:stream/:session', method: RequestMethod.DELETE },
        { path: 'whip/:stream/:session', method: RequestMethod.PATCH },
      );
  }
}
