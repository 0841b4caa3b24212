import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { redactWhipUrl } from '../ingest/whip/whip-options.middleware';

const logger = new Logger('HTTP');

/**
 * One line per HTTP request with status and duration. Playlist and segment requests (a viewer makes
 * two or three a second) go at debug level so they do not flood the log.
 */
export function accessLog(req: Request, res: Response, next: NextFunction): void {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const line = `${req.method} ${redactWhipUrl(req.originalUrl)} ${res.statusCode} ${ms.toFixed(1)} ms`;
    if (req.path.startsWith('/live/')) logger.debug(line);
    else logger.log(line);
  });
  next();
}
