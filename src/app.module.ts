import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { appConfig } from './config/app.config';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { MediasoupModule } from './mediasoup/mediasoup.module';
import { MetricsModule } from './metrics/metrics.module';
import { PeersModule } from './peers/peers.module';
import { SignalingModule } from './ingest/socket-io/signaling.module';
import { WhipModule } from './ingest/whip/whip.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { StreamsModule } from './streams/streams.module';
import { TranscodeModule } from './transcode/transcode.module';
import { PackagingModule } from './packaging/packaging.module';
import { DeliveryModule } from './delivery/delivery.module';
import { WebModule } from './web/web.module';

@Module({
  imports: [
    // appConfig validates the environment when loaded: a bad value stops start-up, naming the variable.
    ConfigModule.forRoot({ isGlobal: true, load: [appConfig], ignoreEnvFile: true }),
    EventsModule,
    LifecycleModule,
    MediasoupModule,
    PeersModule,
    SignalingModule,
    WhipModule,
    StreamsModule,
    TranscodeModule,
    PackagingModule,
    DeliveryModule,
    HealthModule,
    WebModule,
    MetricsModule,
  ],
})
export class AppModule {}
