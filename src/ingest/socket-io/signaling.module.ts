import { Module } from '@nestjs/common';
import { PeersModule } from '../../peers/peers.module';
import { StreamsModule } from '../../streams/streams.module';
import { SignalingGateway } from './signaling.gateway';

@Module({
  imports: [PeersModule, StreamsModule],
  providers: [SignalingGateway],
})
export class SignalingModule {}
