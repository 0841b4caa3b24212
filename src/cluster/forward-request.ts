import type { Request, Response } from 'express';
import { Agent as HttpAgent, IncomingHttpHeaders, OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { HOP_HEADER } from './node-http';

/** Headers of one connection, not of the message (RFC 9110 §7.6.1), plus Host, which is the target's. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** Kept-alive connections to the other nodes: a player fetches a playlist or segment every second. */
const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 512 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 512 }) };

export interface ForwardOptions {
  /** This node's id: sent as the hop marker (the target answers from what it has) and in `Via`. */
  node: string;
  /**
   * Give up when nothing moves on the connection for this long. Longer than a Low-Latency blocking
   * request may be held (three target durations), which is answered like any other.
   */
  idleTimeoutMs: number;
  /** A 404 from the target is not sent on but reported (the caller has somewhere else to ask). */
  notFoundIsResult?: boolean;
}

export type ForwardResult = { outcome: 'sent'; status: number } | { outcome: 'not-found' } | { outcome: 'failed'; error: string };

/** Methods whose request body is forwarded (WHIP's PATCH carries trickled candidates). */
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Sends the request on to the same path at `base` (another node) and its answer back, streamed both
 * ways: status and headers as they come (but those of the connection), the body piped as it arrives,
 * never buffered whole. If the client goes away first, the request to the target is dropped too, so a
 * blocking playlist request held there is let go. Resolves when the answer is sent (or could not be).
 */
export function forwardRequest(req: Request, res: Response, base: string, options: ForwardOptions): Promise<ForwardResult> {
  return new Promise((resolve) => {
    const url = new URL(req.originalUrl, base);
    const https = url.protocol === 'https:';
    let settled = false;
    const settle = (result: ForwardResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    const upstream = (https ? httpsRequest : httpRequest)(url, {
      method: req.method,
      headers: requestHeaders(req, options.node),
      agent: https ? agents.https : agents.http,
      timeout: options.idleTimeoutMs,
    });
    // The client left (or the answer is complete): nothing more is wanted from the target.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.once('timeout', () => upstream.destroy(new Error(`no answer from ${url.host} within ${options.idleTimeoutMs} ms`)));
    upstream.once('error', (error) => {
      if (res.headersSent) {
        res.destroy(error); // mid-body: the client sees a cut answer, as from the origin itself
        settle({ outcome: 'sent', status: res.statusCode });
      } else {
        settle({ outcome: 'failed', error: error.message });
      }
    });
    upstream.once('response', (answer) => {
      const status = answer.statusCode ?? 502;
      if (status === 404 && options.notFoundIsResult) {
        answer.resume(); // drained, so the connection goes back to the pool
        settle({ outcome: 'not-found' });
        return;
      }
      res.writeHead(status, responseHeaders(answer.headers, options.node));
      answer.pipe(res);
      answer.once('end', () => settle({ outcome: 'sent', status }));
      answer.once('aborted', () => {
        res.destroy();
        settle({ outcome: 'sent', status });
      });
    });
    if (WITH_BODY.has(req.method) && !req.readableEnded) req.pipe(upstream);
    else upstream.end();
  });
}

function requestHeaders(req: Request, node: string): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  const client = req.socket.remoteAddress;
  headers['x-forwarded-for'] = [req.headers['x-forwarded-for'], client].filter(Boolean).join(', ');
  headers['x-forwarded-host'] ??= req.headers.host;
  headers['x-forwarded-proto'] ??= req.protocol;
  headers[HOP_HEADER] = node;
  headers.via = appendVia(req.headers.via, node);
  return headers;
}

function responseHeaders(headers: IncomingHttpHeaders, node: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  out.via = appendVia(headers.via, node);
  return out;
}

const appendVia = (via: string | string[] | undefined, node: string) => [via, `1.1 ${node}`].flat().filter(Boolean).join(', ');
