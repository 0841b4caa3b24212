import { Module } from '@nestjs/common';
import { PackagingModule } from '../packaging/packaging.module';
import { TranscodeModule } from '../transcode/transcode.module';
import { StreamsController } from './streams.controller';
import { StreamsService } from './streams.service';

/** Stream identity and lifecycle, and the REST/SSE list (which reads what transcode and packaging know). */
@Module({
  imports: [TranscodeModule, PackagingModule],
  controllers: [StreamsController],
  providers: [StreamsService],
  exports: [StreamsService],
})
export class StreamsModule {}
