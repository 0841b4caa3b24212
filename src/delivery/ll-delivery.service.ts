import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Socket } from 'node:net';
import { appConfig, AppConfig } from '../config/app.config';
import { EventBus } from '../events/events';
import { LlName, parseLlName } from '../packaging/hls-names';
import {
  assertDirectivesReachable,
  BlockedRequestLimiter,
  BlockingTarget,
  blockingTargetReached,
  LlHlsError,
  parseDeliveryDirectives,
  WaitAbortedError,
} from '../packaging/ll';
import type { LlRendition } from '../packaging/ll-rendition';
import type { LlStreamPackager } from '../packaging/ll-stream';
import { PackagingService } from '../packaging/packaging.service';

/**
 * A client may hold this many blocked requests on one connection. A player holds one per connection
 * over HTTP/1.1 (hls.js: one per media playlist, each on its own connection); more on one connection
 * means HTTP pipelining, which no player uses for blocking reloads, so it is a flood.
 */
export const BLOCKED_PER_CONNECTION = 4;
/** Blocked requests all clients together may hold (each costs a socket and a waiter, nothing else). */
export const BLOCKED_TOTAL = 20_000;

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

class LlNotFound extends LlHlsError {
  readonly status = 404;
  readonly code = 'NOT_FOUND';
}

/**
 * Serves the Low-Latency layout from memory: playlists with blocking reload (`_HLS_msn`, `_HLS_part`)
 * and delta updates (`_HLS_skip`), init sections, parts (a request for the hinted part blocks until it
 * exists, RFC 8216bis 6.2.6) and whole segments. Blocked requests wait on their playlist's one waiter
 * list (no timer of their own), are limited per connection, and are dropped when the client goes away.
 */
@Injectable()
export class LlDeliveryService {
  private readonly logger = new Logger(LlDeliveryService.name);
  private readonly limiter = new BlockedRequestLimiter({ perClient: BLOCKED_PER_CONNECTION, total: BLOCKED_TOTAL });
  private readonly connections = new WeakMap<Socket, string>();
  private nextConnection = 0;

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly packaging: PackagingService,
    private readonly bus: EventBus,
  ) {}

  /** Requests blocked now (all streams). */
  get blocked(): number {
    return this.limiter.total;
  }

  /** Answers a request for `file` (an LL name); every failure is answered with its status and a clear message. */
  async serve(file: string, req: Request, res: Response): Promise<void> {
    try {
      const name = parseLlName(file);
      if (!name) throw new LlNotFound(`${file} is not a Low-Latency HLS name`);
      const stream = this.packaging.llStream(name.streamId);
      if (!stream) throw new LlNotFound(`no live stream ${name.streamId}`);
      if (name.type === 'master') return this.master(stream, res);
      if (name.type === 'playlist') return await this.playlist(stream, name.rendition, rawQuery(req), req, res);
      return await this.media(stream, name, req, res);
    } catch (error) {
      this.fail(res, error);
    }
  }

  private master(stream: LlStreamPackager, res: Response): void {
    const text = stream.master();
    if (!text) throw new LlNotFound(`the Low-Latency master of ${stream.streamId} is not ready yet (no complete segment)`);
    this.send(res, 200, PLAYLIST_TYPE, 'no-cache', text);
  }

  private async playlist(stream: LlStreamPackager, rendition: string, query: string, req: Request, res: Response): Promise<void> {
    const directives = parseDeliveryDirectives(query);
    const target = stream.servable(rendition);
    if (!target) throw new LlNotFound(`no Low-Latency playlist for ${rendition} of ${stream.streamId} (yet)`);
    let blocked = false;
    if (directives.msn !== undefined && !target.ended) {
      assertDirectivesReachable(directives, target.position(), stream.partTarget);
      blocked = await this.block(stream, rendition, target, { msn: directives.msn, part: directives.part }, req, res);
    }
    const text = stream.playlist(rendition, directives.skip);
    if (text === undefined) throw new LlNotFound(`the Low-Latency playlist of ${rendition} is gone`);
    // The answer to a blocking request names what it waited for, so it may be cached briefly (a CDN
    // collapses the viewers asking for the same part); any other playlist changes with every part.
    const cacheControl = directives.msn !== undefined && !target.ended ? `public, max-age=${blockedMaxAge(stream)}` : 'no-cache';
    this.send(res, 200, PLAYLIST_TYPE, cacheControl, text);
    if (blocked) this.answered(stream, rendition);
  }

  private async media(stream: LlStreamPackager, name: Extract<LlName, { number: number }>, req: Request, res: Response): Promise<void> {
    if (name.epoch !== stream.epoch) throw new LlNotFound(`${name.type} of an earlier publication of ${stream.streamId}`);
    const rendition = stream.rendition(name.rendition);
    if (!rendition) throw new LlNotFound(`no rendition ${name.rendition} of ${stream.streamId}`);
    let data: Buffer | undefined;
    if (name.type === 'init') data = rendition.init(name.number);
    else if (name.type === 'segment') data = rendition.segment(name.number);
    else {
      data = rendition.part(name.number);
      if (!data && name.number === rendition.nextPartNumber && !rendition.ended && stream.servable(name.rendition)) {
        // The preload hint's part: held until it exists (6.2.6), like a blocked playlist request.
        const position = rendition.position();
        const last = position.lastPart;
        const next: BlockingTarget = last ? { msn: last.msn, part: last.index + 1 } : { msn: position.lastCompleteMsn + 1, part: 0 };
        await this.block(stream, name.rendition, rendition, next, req, res);
        data = rendition.part(name.number);
      }
    }
    if (!data) throw new LlNotFound(`${name.type} ${name.number} of ${name.rendition} is not available`);
    const type = `${rendition.kind}/mp4`;
    // Names are never reused (the epoch names the publication): the bytes behind one never change.
    this.send(res, 200, type, 'public, max-age=86400, immutable', data);
  }

  /**
   * Waits until `rendition` reaches `target`; false when it already had. Throws the LL errors: 429 when
   * the connection holds too many, 503 after three target durations, 404 when the stream goes away,
   * WaitAbortedError when the client did.
   */
  private async block(
    stream: LlStreamPackager,
    name: string,
    rendition: LlRendition,
    target: BlockingTarget,
    req: Request,
    res: Response,
  ): Promise<boolean> {
    if (blockingTargetReached(target, rendition.position())) return false;
    const waiters = stream.waitersFor(name);
    if (!waiters) throw new LlNotFound(`the Low-Latency playlist of ${name} is gone`);
    if (req.socket.destroyed) throw new WaitAbortedError('the client went away before the request blocked');
    const release = this.limiter.acquire(this.connectionKey(req));
    const abort = new AbortController();
    const onClose = (): void => abort.abort();
    // 'close' on the response: the answer went out, or the client went away first (then abort).
    res.once('close', onClose);
    try {
      await waiters.wait(target, abort.signal);
    } finally {
      release();
      res.off('close', onClose);
    }
    return true;
  }

  private answered(stream: LlStreamPackager, rendition: string): void {
    const partAt = stream.lastPartTime(rendition);
    if (partAt !== undefined) this.bus.emit('delivery.ll-blocked-answered', { afterUpdateMs: performance.now() - partAt });
  }

  private connectionKey(req: Request): string {
    const socket = req.socket;
    let key = this.connections.get(socket);
    if (!key) {
      key = `c${++this.nextConnection}`;
      this.connections.set(socket, key);
    }
    return key;
  }

  private send(res: Response, status: number, type: string, cacheControl: string, body: string | Buffer): void {
    if (res.destroyed || res.headersSent) return;
    res.status(status);
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', cacheControl);
    res.setHeader('Access-Control-Allow-Origin', this.config.hls.corsOrigin);
    res.end(body);
  }

  private fail(res: Response, error: unknown): void {
    if (error instanceof WaitAbortedError) return; // the client is gone: nobody to answer
    if (!(error instanceof LlHlsError)) {
      this.logger.error(`serving ${res.req.originalUrl}: ${(error as Error)?.stack ?? String(error)}`);
    }
    const status = error instanceof LlHlsError ? error.status : 500;
    const code = error instanceof LlHlsError ? error.code : 'INTERNAL';
    const message = error instanceof LlHlsError ? error.message : 'internal error';
    const body = JSON.stringify({ statusCode: status, error: code, message });
    this.send(res, status, 'application/json; charset=utf-8', 'no-store', body);
  }
}

/** The query string as the client sent it: duplicates and order kept (parseDeliveryDirectives wants it raw). */
function rawQuery(req: Request): string {
  const url = req.originalUrl ?? req.url;
  const at = url.indexOf('?');
  return at < 0 ? '' : url.slice(at + 1);
}

/** Seconds a blocking response may be cached: about one part target, at least a second. */
function blockedMaxAge(stream: LlStreamPackager): number {
  return Math.max(1, Math.round(stream.partTarget));
}
