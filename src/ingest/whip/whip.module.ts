import { Module } from '@nestjs/common';
import { MediasoupModule } from '../../mediasoup/mediasoup.module';
import { PeersModule } from '../../peers/peers.module';
import { StreamsModule } from '../../streams/streams.module';
import { TranscodeModule } from '../../transcode/transcode.module';
import { WhipController } from './whip.controller';
import { WhipService } from './whip.service';

/** WHIP ingest (RFC 9725) next to the socket.io one: publishers from OBS, GStreamer, FFmpeg or a browser. */
@Module({
  imports: [MediasoupModule, PeersModule, StreamsModule, TranscodeModule],
  controllers: [WhipController],
  providers: [WhipService],
  exports: [WhipService],
})
export class WhipModule {}
