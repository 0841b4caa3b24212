import { Module } from '@nestjs/common';
import { HlsModule } from '../hls/hls.module';
import { MediasoupModule } from '../mediasoup/mediasoup.module';
import { PeersModule } from '../peers/peers.module';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

@Module({
  imports: [PeersModule, HlsModule, MediasoupModule],
  controllers: [MetricsController],
  providers: [MetricsService],
})
export class MetricsModule {}
