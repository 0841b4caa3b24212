import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { appConfig } from './config/app.config';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { HlsModule } from './hls/hls.module';
import { MediasoupModule } from './mediasoup/mediasoup.module';
import { MetricsModule } from './metrics/metrics.module';
import { PeersModule } from './peers/peers.module';
import { SignalingModule } from './signaling/signaling.module';
import { WebModule } from './web/web.module';

@Module({
  imports: [
    // appConfig validates the environment when loaded: a bad value stops start-up, naming the variable.
    ConfigModule.forRoot({ isGlobal: true, load: [appConfig], ignoreEnvFile: true }),
    EventsModule,
    MediasoupModule,
    PeersModule,
    SignalingModule,
    HlsModule,
    HealthModule,
    WebModule,
    MetricsModule,
  ],
})
export class AppModule {}
