import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { StreamsModule } from '../streams/streams.module';
import { LiveFilesController } from './live-files.controller';
import { LiveProxyMiddleware } from './live-proxy.middleware';

/**
 * HTTP for what packaging writes: playlists and segments under /live. In cluster mode, requests for
 * another node's stream go through LiveProxyMiddleware to that node before any controller.
 */
@Module({
  imports: [StreamsModule],
  controllers: [LiveFilesController],
  providers: [LiveProxyMiddleware],
})
export class DeliveryModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(LiveProxyMiddleware).forRoutes({ path: 'live/*path', method: RequestMethod.ALL });
  }
}
