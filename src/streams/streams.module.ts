import { Module } from '@nestjs/common';
import { PackagingModule } from '../packaging/packaging.module';
import { PeersModule } from '../peers/peers.module';
import { TranscodeModule } from '../transcode/transcode.module';
import { StreamsController } from './streams.controller';
import { StreamsService } from './streams.service';

/** Stream identity and lifecycle, and the REST/SSE list (which reads what transcode and packaging know). */
@Module({
  imports: [PeersModule, TranscodeModule, PackagingModule],
  controllers: [StreamsController],
  providers: [StreamsService],
  exports: [StreamsService],
})
export class StreamsModule {}
