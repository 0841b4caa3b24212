import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { mediaTypeOf, SDP_TYPE, SDPFRAG_TYPE } from './whip-http';
import { WHIP_PATH } from './whip-resource';

/** The response headers a browser-based WHIP client needs to read (Location, ETag, Link…) across origins. */
export const WHIP_EXPOSED_HEADERS = ['Location', 'ETag', 'Link', 'Accept-Patch', 'Accept-Post', 'Retry-After', 'WWW-Authenticate'];

/**
 * OPTIONS on a WHIP URL (RFC 9725 §4.2: CORS preflights, and clients asking what we take). Registered
 * before the CORS middleware, which answers every OPTIONS with 204 and its Access-Control-* headers:
 * this adds what WHIP says about the URL.
 */
export function whipOptions(req: Request, res: Response, next: NextFunction): void {
  if (req.method === 'OPTIONS' && req.path.startsWith(`${WHIP_PATH}/`)) {
    const segments = req.path
      .slice(WHIP_PATH.length + 1)
      .split('/')
      .filter(Boolean);
    if (segments.length === 1) {
      res.setHeader('Accept-Post', SDP_TYPE);
      res.setHeader('Allow', 'POST, OPTIONS');
    } else if (segments.length === 2) {
      res.setHeader('Accept-Patch', SDPFRAG_TYPE);
      res.setHeader('Allow', 'PATCH, DELETE, OPTIONS');
    }
  }
  next();
}

/**
 * The `type` test of the JSON and form body parsers: their media type, on every route but WHIP's.
 * WHIP bodies (SDP offers, fragments) are read raw by its controller, with its own size limit and a
 * 415 for a wrong Content-Type; the JSON parser would answer an offer sent as application/json with
 * its own 400 first.
 */
export function parsedUnlessWhip(mediaType: string): (req: IncomingMessage) => boolean {
  return (req) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path === WHIP_PATH || path.startsWith(`${WHIP_PATH}/`)) return false;
    return mediaTypeOf(req.headers['content-type']) === mediaType;
  };
}

/** A WHIP session URL names its unguessable id: logs keep only its start. */
export function redactWhipUrl(url: string): string {
  return url.replace(/^(\/whip\/[^/?#]+\/)([A-Za-z0-9_-]{4})[A-Za-z0-9_-]*/, '$1$2…');
}
