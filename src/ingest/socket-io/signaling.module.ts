import { Module } from '@nestjs/common';
import { PeersModule } from '../../peers/peers.module';
import { SignalingGateway } from './signaling.gateway';

@Module({
  imports: [PeersModule],
  providers: [SignalingGateway],
})
export class SignalingModule {}
