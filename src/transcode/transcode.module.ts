import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { PeersModule } from '../peers/peers.module';
import { ProcessRunner } from './process-runner';
import { TranscodeHealthIndicator } from './transcode.health';
import { TranscoderService } from './transcoder.service';

/** FFmpeg and what feeds it: plain transports, ports, keyframe requests; hands access units on. */
@Module({
  imports: [TerminusModule, PeersModule],
  providers: [TranscoderService, ProcessRunner, TranscodeHealthIndicator],
  exports: [TranscoderService, TranscodeHealthIndicator],
})
export class TranscodeModule {}
