import { Inject, Injectable, Logger, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { CLUSTER } from '../cluster/cluster.constants';
import type { Cluster } from '../cluster/cluster.types';
import { findHolder } from '../cluster/find-holder';
import { fromAnotherNode } from '../cluster/node-http';
import { appConfig, AppConfig } from '../config/app.config';
import { LIVE_PREFIX, servableFile, streamOfFile } from '../packaging/hls-names';
import { StreamsService } from '../streams/streams.service';
import { forwardRequest } from '../cluster/forward-request';

/** Names every answer's node (also through the proxy: the origin's header is passed on). */
export const SERVED_BY_HEADER = 'x-served-by';

/**
 * Longer than any Low-Latency blocking request is held (three target durations, ≤ 30 s), so a
 * proxied one ends as it would at its origin.
 */
const PROXY_IDLE_TIMEOUT_MS = 35_000;

interface Place {
  node: string;
  address: string;
}

/**
 * Cluster mode: a /live request for a stream another node has is answered by that node, through
 * this one (streamed, headers kept), so a viewer may use any node. A stream continued here from
 * another node (its publisher reconnected here) is served by the node it came from for what it
 * listed there (earlier segments) and until this node has its first playlist.
 *
 * Requests that come from another node are answered from what this node has, never sent on again.
 * A single node (no REDIS_URL) passes every request through untouched.
 */
@Injectable()
export class LiveProxyMiddleware implements NestMiddleware {
  private readonly logger = new Logger(LiveProxyMiddleware.name);

  constructor(
    @Inject(CLUSTER) private readonly cluster: Cluster,
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly streams: StreamsService,
  ) {}

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (this.cluster.status().mode === 'single' || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    const self = this.cluster.nodeId;
    res.setHeader(SERVED_BY_HEADER, self);
    const path = new URL(req.originalUrl, 'http://localhost').pathname;
    const name = path.startsWith(`${LIVE_PREFIX}/`) ? path.slice(LIVE_PREFIX.length + 1) : '';
    const id = streamOfFile(name);
    if (!id || fromAnotherNode(req.headers)) return next();
    try {
      if (this.cluster.holds(id)) {
        const previous = this.streams.previousHolderOf(id);
        if (previous && previous.node !== self && !(await this.isHere(name))) await this.send(req, res, previous, undefined, next);
        else next();
        return;
      }
      const holder = await findHolder(this.cluster, id);
      if (!holder || holder.node === self) return next();
      const from = holder.meta.continuedFrom as Place | undefined;
      const fallback =
        from && typeof from.node === 'string' && typeof from.address === 'string' && from.node !== holder.node ? from : undefined;
      await this.send(req, res, holder, fallback, next);
    } catch (error) {
      next(error);
    }
  }

  /** To `place`; if it has no such file and the stream came from `fallback`, to that node (or here). */
  private async send(req: Request, res: Response, place: Place, fallback: Place | undefined, next: NextFunction): Promise<void> {
    const self = this.cluster.nodeId;
    const options = { node: self, idleTimeoutMs: PROXY_IDLE_TIMEOUT_MS };
    let result = await forwardRequest(req, res, place.address, { ...options, notFoundIsResult: fallback !== undefined });
    if (result.outcome === 'not-found' && fallback) {
      if (fallback.node === self) return next();
      place = fallback;
      result = await forwardRequest(req, res, place.address, options);
    }
    if (result.outcome === 'failed') {
      this.logger.warn(`${req.method} ${req.originalUrl}: node ${place.node} (${place.address}) did not answer: ${result.error}`);
      if (!res.headersSent)
        res
          .status(502)
          .json({ statusCode: 502, message: `node ${place.node}, which has this stream, did not answer`, error: 'Bad Gateway' });
    }
  }

  /** Whether this node has the file itself (playlists and segments on disk; other layouts are taken as here). */
  private async isHere(name: string): Promise<boolean> {
    if (!servableFile(name)) return true;
    const stats = await lstat(join(this.config.hls.dir, name)).catch(() => undefined);
    return stats?.isFile() ?? false;
  }
}
