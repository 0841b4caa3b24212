import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { appConfig, AppConfig } from './config/app.config';
import { ClusterModule } from './cluster/cluster.module';
import { SEGMENT_MAX_AGE_SECONDS } from './packaging/hls-names';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { MediasoupModule } from './mediasoup/mediasoup.module';
import { MetricsModule } from './metrics/metrics.module';
import { PeersModule } from './peers/peers.module';
import { SignalingModule } from './ingest/socket-io/signaling.module';
import { WhipModule } from './ingest/whip/whip.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { StreamsModule } from './streams/streams.module';
import { ContinuityModule } from './streams/continuity.module';
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
    // REDIS_URL unset: LocalCluster, a cluster of this node alone (nothing to connect to).
    ClusterModule.forRootAsync({
      inject: [appConfig.KEY],
      useFactory: (config: AppConfig) => {
        const { redisUrl, nodeId, address, capacity, keyPrefix } = config.cluster;
        // A name's numbering is kept as long as a CDN may keep one of its segments (max-age=3600): a
        // segment URL never names two different segments while a cache could still hold the first.
        const continuityTtlMs = Math.max(SEGMENT_MAX_AGE_SECONDS * 1000, 4 * config.streams.reconnectGraceMs);
        return redisUrl ? { redisUrl, nodeId, address, capacity, keyPrefix, continuityTtlMs } : null;
      },
    }),
    ContinuityModule,
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
