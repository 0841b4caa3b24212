import { Module } from '@nestjs/common';
import { PackagingModule } from '../packaging/packaging.module';
import { LiveFilesController } from './live-files.controller';
import { LlDeliveryService } from './ll-delivery.service';
import { LlFilesController } from './ll-files.controller';

/** HTTP for what packaging makes: classic playlists and segments from disk, Low-Latency HLS from memory, under /live. */
@Module({
  imports: [PackagingModule],
  // LL first: its route (`/live/:name.ll.:rest`) must be tried before the classic `/live/:file`.
  controllers: [LlFilesController, LiveFilesController],
  providers: [LlDeliveryService],
  exports: [LlDeliveryService],
})
export class DeliveryModule {}
