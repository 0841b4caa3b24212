import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HlsModule } from '../hls/hls.module';
import { MediasoupModule } from '../mediasoup/mediasoup.module';
import { EventLoopHealthIndicator } from './event-loop.health';
import { HealthController } from './health.controller';

@Module({
  imports: [
    // Readiness answers 503 (shutting_down) during this grace period before the server closes.
    TerminusModule.forRoot({ gracefulShutdownTimeoutMs: Number(process.env.SHUTDOWN_GRACE_MS ?? 1000) }),
    MediasoupModule,
    HlsModule,
  ],
  controllers: [HealthController],
  providers: [EventLoopHealthIndicator],
})
export class HealthModule {}
