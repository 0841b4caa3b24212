import { Controller, Get, Logger, NotFoundException, OnModuleInit, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PAGE_CONTENT_SECURITY_POLICY } from '../common/http-security';

/** Built by scripts/build-web.mjs; two levels up from both src/web/ (tests) and dist/web/ (production). */
export const WEB_ROOT = resolve(__dirname, '..', '..', 'public', 'app');

/** A bundle file name: no slashes, no leading dot, no `..`, and only the types the build writes. */
const ASSET_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(js|css|map|txt)$/;
/** socket.io ids, which are the peer ids. */
const PEER_ID = /^[A-Za-z0-9_-]{1,64}$/;

const PAGE_HEADERS = {
  'Cache-Control': 'no-cache',
  'Content-Security-Policy': PAGE_CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
};

/**
 * The publisher page (`/`, `/publish`), the viewer page (`/watch`, `/watch/<peerId>`) and their
 * bundles under `/app/`. Only fixed pages and pattern-checked file names reach the disk.
 */
@Controller()
export class WebController implements OnModuleInit {
  private readonly logger = new Logger(WebController.name);

  onModuleInit(): void {
    if (!existsSync(join(WEB_ROOT, 'publish.html'))) {
      this.logger.warn(`web pages not built (${WEB_ROOT} is missing them): run npm run build:web`);
    }
  }

  @Get(['/', 'publish'])
  publish(@Res() res: Response): void {
    this.sendPage(res, 'publish.html');
  }

  @Get('watch')
  watchList(@Res() res: Response): void {
    this.sendPage(res, 'watch.html');
  }

  @Get('watch/:peerId')
  watchOne(@Param('peerId') peerId: string, @Res() res: Response): void {
    if (!PEER_ID.test(peerId)) throw new NotFoundException('no such stream page');
    this.sendPage(res, 'watch.html');
  }

  @Get('app/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    if (!ASSET_NAME.test(file)) throw new NotFoundException('no such file');
    // File names are not content-hashed, so browsers revalidate (ETag) instead of caching blindly.
    res.sendFile(
      file,
      { root: WEB_ROOT, dotfiles: 'deny', headers: { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' } },
      (error) => {
        if (error && !res.headersSent) res.status(404).json({ statusCode: 404, message: 'no such file' });
      },
    );
  }

  private sendPage(res: Response, page: 'publish.html' | 'watch.html'): void {
    res.sendFile(page, { root: WEB_ROOT, headers: PAGE_HEADERS }, (error) => {
      if (!error || res.headersSent) return;
      this.logger.warn(`cannot send ${page}: ${error.message}`);
      res.status(503).type('text/plain').send('The web pages are not built on this server: run `npm run build:web`, then reload.');
    });
  }
}
