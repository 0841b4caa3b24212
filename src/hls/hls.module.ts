import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HlsHealthIndicator } from './hls.health';

@Module({
  imports: [TerminusModule],
  providers: [HlsHealthIndicator],
  exports: [HlsHealthIndicator],
})
export class HlsModule {}
