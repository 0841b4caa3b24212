import { LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { appConfig, AppConfig } from './config/app.config';
import { applyHttpSecurity } from './common/http-security';
import { setupOpenApi } from './common/openapi';
import { accessLog } from './logging/access-log.middleware';
import { JsonLogger } from './logging/json-logger';
import { SignalingIoAdapter } from './ingest/socket-io/signaling-io.adapter';
import { parsedUnlessWhip, WHIP_EXPOSED_HEADERS, whipOptions } from './ingest/whip/whip-options.middleware';

const LEVELS: LogLevel[] = ['error', 'warn', 'log', 'debug', 'verbose'];

export interface CreateAppOptions {
  /**
   * After a signal's shutdown hooks, end with process.exit(0) instead of re-raising the signal
   * (main.ts). As PID 1 in a container (`docker run` without --init) a re-raised SIGTERM that
   * has no handler is ignored by the kernel. Tests keep the default: a signal stays a signal.
   */
  exitAfterShutdown?: boolean;
}

/** Builds the configured application (used by main.ts and by the e2e tests), not yet listening. */
export async function createApp(options: CreateAppOptions = {}): Promise<{ app: NestExpressApplication; config: AppConfig }> {
  // Validate first so a bad variable stops start-up before any worker is spawned.
  const config = appConfig();
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    logger: config.logFormat === 'json' ? new JsonLogger(config.logLevel) : LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1),
    // On close (after the SIGTERM grace period) destroy every open connection. Otherwise
    // server.close() waits for each one to end: browsers keep preconnected sockets that never
    // send a request (Node does not count them as idle), SSE streams and socket.io clients, so
    // shutdown could hang for minutes.
    forceCloseConnections: true,
    // Registered below as Nest would, but not for WHIP, whose bodies its controller reads raw.
    bodyParser: false,
  });
  app.enableShutdownHooks([], { useProcessExit: options.exitAfterShutdown ?? false });
  // Before CORS, which answers every OPTIONS itself: WHIP's OPTIONS also says what the URL accepts.
  app.use(whipOptions);
  app.enableCors({ origin: config.corsOrigins === '*' ? true : config.corsOrigins, exposedHeaders: WHIP_EXPOSED_HEADERS });
  app.useWebSocketAdapter(new SignalingIoAdapter(app, config.corsOrigins));
  app.disable('x-powered-by');
  applyHttpSecurity(app);
  app.use(accessLog);
  app.useBodyParser('json', { type: parsedUnlessWhip('application/json') });
  app.useBodyParser('urlencoded', { extended: true, type: parsedUnlessWhip('application/x-www-form-urlencoded') });
  setupOpenApi(app);
  return { app, config };
}
