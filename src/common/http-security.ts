import type { INestApplication } from '@nestjs/common';
import helmet from 'helmet';

/**
 * Security headers for every HTTP route. The CSP lets the viewer play (hls.js appends to MediaSource
 * through blob: URLs and may run its worker from a blob:) and socket.io connect back; inline styles
 * only for the OpenAPI page. /live stays readable from other origins, as HLS players expect.
 */
export function applyHttpSecurity(app: INestApplication): void {
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'style-src': ["'self'", "'unsafe-inline'"],
          'img-src': ["'self'", 'data:'],
          'media-src': ["'self'", 'blob:'],
          'worker-src': ["'self'", 'blob:'],
          'connect-src': ["'self'"],
          'object-src': ["'none'"],
          'base-uri': ["'none'"],
          'frame-ancestors': ["'self'"],
        },
      },
      // Players on other origins load playlists and segments; CORP same-origin would block them.
      crossOriginResourcePolicy: { policy: 'cross-origin' },
      crossOriginEmbedderPolicy: false,
    }),
  );
}
