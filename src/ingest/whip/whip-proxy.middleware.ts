import { Inject, Injectable, Logger, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { CLUSTER } from '../../cluster/cluster.constants';
import type { Cluster } from '../../cluster/cluster.types';
import { findHolder } from '../../cluster/find-holder';
import { forwardRequest } from '../../cluster/forward-request';
import { fromAnotherNode } from '../../cluster/node-http';
import { WHIP_PATH } from './whip-resource';

/** Where WHIP lives (`POST /whip/<stream>`, a session at `/whip/<stream>/<session>`). */
const WHIP_PREFIX = `${WHIP_PATH}/`;

/** Longer than a PATCH that restarts ICE takes at the node holding the session. */
const WHIP_PROXY_TIMEOUT_MS = 30_000;

/**
 * Cluster mode: a WHIP session lives on the node that answered its POST, and its URL names the stream
 * (`/whip/<stream>/<session>`). A DELETE or PATCH of it that the load balancer sends to another node
 * is forwarded to the node holding the stream, body and headers as they are, and its answer sent
 * back. A POST publishes on whichever node it reaches (the name's claim decides, as for socket.io).
 * Requests from another node, and a single node, are answered here.
 */
@Injectable()
export class WhipProxyMiddleware implements NestMiddleware {
  private readonly logger = new Logger(WhipProxyMiddleware.name);

  constructor(@Inject(CLUSTER) private readonly cluster: Cluster) {}

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (this.cluster.status().mode === 'single' || (req.method !== 'DELETE' && req.method !== 'PATCH') || fromAnotherNode(req.headers)) {
      return next();
    }
    const path = new URL(req.originalUrl, 'http://localhost').pathname;
    const [stream, session, ...rest] = path.startsWith(WHIP_PREFIX) ? path.slice(WHIP_PREFIX.length).split('/') : [];
    if (!stream || !session || rest.length > 0 || this.cluster.holds(stream)) return next();
    try {
      const holder = await findHolder(this.cluster, stream);
      if (!holder || holder.node === this.cluster.nodeId) return next();
      const result = await forwardRequest(req, res, holder.address, { node: this.cluster.nodeId, idleTimeoutMs: WHIP_PROXY_TIMEOUT_MS });
      if (result.outcome === 'failed' && !res.headersSent) {
        this.logger.warn(`${req.method} /whip/${stream}/…: node ${holder.node} (${holder.address}) did not answer: ${result.error}`);
        res.status(502).json({ error: `node ${holder.node}, which holds stream "${stream}", did not answer`, code: 'BAD_GATEWAY' });
      }
    } catch (error) {
      next(error);
    }
  }
}
