import { Module } from '@nestjs/common';
import { MediasoupModule } from '../mediasoup/mediasoup.module';
import { PeersService } from './peers.service';

@Module({
  imports: [MediasoupModule],
  providers: [PeersService],
  exports: [PeersService],
})
export class PeersModule {}
