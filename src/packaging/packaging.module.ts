import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { PackagingHealthIndicator } from './packaging.health';
import { PackagingService } from './packaging.service';

/** Segments, numbering and playlists of every stream, from the units transcoding hands on. */
@Module({
  imports: [TerminusModule],
  providers: [PackagingService, PackagingHealthIndicator],
  exports: [PackagingService, PackagingHealthIndicator],
})
export class PackagingModule {}
