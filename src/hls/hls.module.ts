import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { PeersModule } from '../peers/peers.module';
import { HlsHealthIndicator } from './hls.health';
import { HlsService } from './hls.service';
import { LiveFilesController } from './live-files.controller';
import { StreamsController } from './streams.controller';
import { TranscoderService } from './transcoder.service';

@Module({
  imports: [TerminusModule, PeersModule],
  controllers: [StreamsController, LiveFilesController],
  providers: [HlsService, TranscoderService, HlsHealthIndicator],
  exports: [HlsHealthIndicator, HlsService, TranscoderService],
})
export class HlsModule {}
