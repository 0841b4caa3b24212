import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** OpenAPI at /api/docs (JSON at /api/docs-json). The socket.io protocol is described in README.md. */
export function setupOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('webrtc-hls')
    .setDescription(
      'Live WebRTC publishers as HLS. REST and Server-Sent Events for live streams, HLS files under /live, ' +
        'Kubernetes probes and Prometheus metrics. Publishing uses WHIP (RFC 9725, /whip) or the socket.io signaling protocol documented in README.md.',
    )
    .setVersion('0.1.0')
    .build();
  SwaggerModule.setup('api/docs', app, () => SwaggerModule.createDocument(app, config), { jsonDocumentUrl: 'api/docs-json' });
}
