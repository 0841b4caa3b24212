import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { MediasoupHealthIndicator } from './mediasoup.health';
import { WorkerPoolService } from './worker-pool.service';

@Module({
  imports: [TerminusModule],
  providers: [WorkerPoolService, MediasoupHealthIndicator],
  exports: [WorkerPoolService, MediasoupHealthIndicator],
})
export class MediasoupModule {}
