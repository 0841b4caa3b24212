import { Module } from '@nestjs/common';
import { StreamsModule } from '../streams/streams.module';
import { TranscodeModule } from '../transcode/transcode.module';
import { MediasoupModule } from '../mediasoup/mediasoup.module';
import { PeersModule } from '../peers/peers.module';
import { DeliveryModule } from '../delivery/delivery.module';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

@Module({
  imports: [PeersModule, StreamsModule, TranscodeModule, MediasoupModule, DeliveryModule],
  controllers: [MetricsController],
  providers: [MetricsService],
})
export class MetricsModule {}
