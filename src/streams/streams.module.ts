import { Module } from '@nestjs/common';
import { PackagingModule } from '../packaging/packaging.module';
import { PeersModule } from '../peers/peers.module';
import { TranscodeModule } from '../transcode/transcode.module';
import { ClusterController } from './cluster.controller';
import { StreamDirectoryService } from './stream-directory.service';
import { StreamsController } from './streams.controller';
import { StreamsService } from './streams.service';

/**
 * Stream identity and lifecycle, and the REST/SSE list (which reads what transcode and packaging
 * know). In cluster mode a stream's id is claimed cluster-wide, and the list is the cluster's.
 */
@Module({
  imports: [PeersModule, TranscodeModule, PackagingModule],
  controllers: [StreamsController, ClusterController],
  providers: [StreamsService, StreamDirectoryService],
  exports: [StreamsService, StreamDirectoryService],
})
export class StreamsModule {}
