import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { PackagingModule } from '../packaging/packaging.module';
import { StreamsModule } from '../streams/streams.module';
import { LiveFilesController } from './live-files.controller';
import { LiveProxyMiddleware } from './live-proxy.middleware';
import { LlDeliveryService } from './ll-delivery.service';
import { LlFilesController } from './ll-files.controller';

/**
 * HTTP for what packaging makes: classic playlists and segments from disk, Low-Latency HLS from memory,
 * under /live. In cluster mode, requests for another node's stream go through LiveProxyMiddleware to
 * that node before any controller.
 */
@Module({
  imports: [PackagingModule, StreamsModule],
  // LL first: its route (`/live/:name.ll.:rest`) must be tried before the classic `/live/:file`.
  controllers: [LlFilesController, LiveFilesController],
  providers: [LlDeliveryService, LiveProxyMiddleware],
  exports: [LlDeliveryService],
})
export class DeliveryModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(LiveProxyMiddleware).forRoutes({ path: 'live/*path', method: RequestMethod.ALL });
  }
}
