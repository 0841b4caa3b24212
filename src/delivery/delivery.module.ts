import { Module } from '@nestjs/common';
import { LiveFilesController } from './live-files.controller';

/** HTTP for what packaging writes: playlists and segments under /live. */
@Module({
  controllers: [LiveFilesController],
})
export class DeliveryModule {}
