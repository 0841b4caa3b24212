import { BadRequestException, Controller, Get, Inject, NotFoundException, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { appConfig, AppConfig } from '../config/app.config';

/** Only plain playlist and segment names: no separators, no dots but the extension, no dotfiles. */
const FILE_NAME = /^[A-Za-z0-9_-]{1,128}\.(m3u8|ts)$/;

/**
 * Serves the HLS directory at /live. Names are checked before the disk is touched, and sendFile's
 * root keeps the path inside the directory. CORS is open by default, as players expect of HLS.
 */
@Controller('live')
export class LiveFilesController {
  constructor(@Inject(appConfig.KEY) private readonly config: AppConfig) {}

  @Get(':file')
  serve(@Param('file') file: string, @Res() res: Response): void {
    const match = FILE_NAME.exec(file);
    if (!match) throw new BadRequestException('not an HLS file name');
    const playlist = match[1] === 'm3u8';
    res.sendFile(
      file,
      {
        root: this.config.hls.dir,
        dotfiles: 'deny',
        headers: {
          'Content-Type': playlist ? 'application/vnd.apple.mpegurl' : 'video/mp2t',
          // Playlists change every segment; a segment never changes once listed.
          'Cache-Control': playlist ? 'no-cache' : 'public, max-age=3600, immutable',
          'Access-Control-Allow-Origin': this.config.hls.corsOrigin,
        },
      },
      (error?: Error) => {
        if (error && !res.headersSent) res.status(404).json(new NotFoundException(`${file} not found`).getResponse());
      },
    );
  }
}
