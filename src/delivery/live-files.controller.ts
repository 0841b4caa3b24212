import { BadRequestException, Controller, Get, Inject, Logger, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appConfig, AppConfig } from '../config/app.config';
import { errorMessage } from '../common/errors';
import { EventBus } from '../events/events';
import { SEGMENT_MAX_AGE_SECONDS, servableFile } from '../packaging/hls-names';

/** A file that vanished between listing and reading is normal (a segment slid out); the rest is trouble. */
const EXPECTED_CODES = new Set(['ENOENT', 'ENOTDIR', 'ECONNABORTED', 'ECONNRESET', 'EPIPE']);

/**
 * Serves the HLS directory at /live. Names are checked before the disk is touched, and sendFile's
 * root keeps the path inside the directory. CORS is open by default, as players expect of HLS.
 * Playlists are read whole, from one open: they are replaced by a rename every segment, and sendFile
 * (send) takes the length from one stat and reads from a second open, so a rename between the two
 * served the new playlist cut at the old one's length (seen: hls.js stopped on a URI cut in half).
 */
@ApiTags('hls')
@Controller('live')
export class LiveFilesController {
  private readonly logger = new Logger(LiveFilesController.name);

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly bus: EventBus,
  ) {}

  @Get(':file')
  @ApiOperation({
    summary: 'HLS playlists and segments: <peerId>.m3u8 (master), <peerId>-video.m3u8, <peerId>-audio.m3u8, video_<peerId>_NNN.ts',
  })
  @ApiParam({ name: 'file', example: 'Nbm4Zqc4p_B15RMwAAAA.m3u8' })
  @ApiProduces('application/vnd.apple.mpegurl', 'video/mp2t')
  @ApiOkResponse({ description: 'The file; playlists are Cache-Control: no-cache, segments cacheable' })
  @ApiBadRequestResponse({ description: 'Not an HLS file name (path separators, dots, other extensions)' })
  @ApiNotFoundResponse({ description: 'No such file' })
  async serve(@Param('file') file: string, @Res() res: Response): Promise<void> {
    const type = servableFile(file);
    if (!type) throw new BadRequestException('not an HLS file name');
    // Only regular files: a symlink planted in the directory must not lead out of it.
    const playlist = type === 'playlist';
    const stats = await lstat(join(this.config.hls.dir, file)).catch((error) => this.readFailed(file, playlist, error));
    if (!stats?.isFile()) throw new NotFoundException(`${file} not found`);
    const headers = {
      'Content-Type': playlist ? 'application/vnd.apple.mpegurl' : 'video/mp2t',
      // Playlists change every segment; a segment never changes once listed.
      'Cache-Control': playlist ? 'no-cache' : `public, max-age=${SEGMENT_MAX_AGE_SECONDS}, immutable`,
      'Access-Control-Allow-Origin': this.config.hls.corsOrigin,
    };
    if (playlist) {
      const body = await readFile(join(this.config.hls.dir, file)).catch((error) => this.readFailed(file, playlist, error));
      if (!body) throw new NotFoundException(`${file} not found`);
      res.set(headers).send(body);
      return;
    }
    // Segments are written once, before any playlist names them: streamed from disk.
    res.sendFile(file, { root: this.config.hls.dir, dotfiles: 'deny', headers }, (error?: Error) => {
      if (!error) return;
      this.readFailed(file, playlist, error);
      if (!res.headersSent) res.status(404).json(new NotFoundException(`${file} not found`).getResponse());
    });
  }

  /** Logs and counts a read that failed for a reason other than the file being gone or the client leaving. */
  private readFailed(file: string, playlist: boolean, error: unknown): undefined {
    const code = (error as NodeJS.ErrnoException)?.code;
    if (code && EXPECTED_CODES.has(code)) return undefined;
    if ((error as { status?: number })?.status === 404) return undefined; // send's own "not found"
    this.logger.warn(`reading ${file} failed: ${errorMessage(error)}`);
    this.bus.emit('delivery.read-failed', { type: playlist ? 'playlist' : 'segment', error: errorMessage(error) });
    return undefined;
  }
}
