import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { appConfig, AppConfig } from '../config/app.config';
import { PackagingModule } from '../packaging/packaging.module';
import { TranscodeModule } from '../transcode/transcode.module';
import { MediasoupModule } from '../mediasoup/mediasoup.module';
import { EventLoopHealthIndicator } from './event-loop.health';
import { HealthController } from './health.controller';

@Module({
  imports: [
    // Readiness answers 503 (shutting_down) during this grace period before the server closes.
    // Taken from the validated config (not process.env at import time), so the default and
    // validation of SHUTDOWN_GRACE_MS apply here too.
    TerminusModule.forRootAsync({
      inject: [appConfig.KEY],
      useFactory: (config: AppConfig) => ({ gracefulShutdownTimeoutMs: config.shutdownGraceMs }),
    }),
    MediasoupModule,
    TranscodeModule,
    PackagingModule,
  ],
  controllers: [HealthController],
  providers: [EventLoopHealthIndicator],
})
export class HealthModule {}
