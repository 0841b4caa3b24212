import type { INestApplication } from '@nestjs/common';
import helmet from 'helmet';

/**
 * The one Content-Security-Policy, as directives. The viewer plays through MediaSource blob: URLs and
 * hls.js may run its worker from a blob:; socket.io, SSE and /live are same-origin.
 */
const DIRECTIVES: Record<string, string[]> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'media-src': ["'self'", 'blob:'],
  'worker-src': ["'self'", 'blob:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'frame-ancestors': ["'self'"],
  'form-action': ["'self'"],
};

/** Every route but the pages: the OpenAPI page needs inline styles. */
const API_DIRECTIVES = { ...DIRECTIVES, 'style-src': ["'self'", "'unsafe-inline'"] };

/** The header value for our own pages (strictest: no inline styles). */
export const PAGE_CONTENT_SECURITY_POLICY = Object.entries(DIRECTIVES)
  .map(([name, values]) => `${name} ${values.join(' ')}`)
  .join('; ');

/** Security headers for every HTTP route. /live stays readable from other origins, as HLS players expect. */
export function applyHttpSecurity(app: INestApplication): void {
  app.use(
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: API_DIRECTIVES },
      // Players on other origins load playlists and segments; CORP same-origin would block them.
      crossOriginResourcePolicy: { policy: 'cross-origin' },
      crossOriginEmbedderPolicy: false,
    }),
  );
}
