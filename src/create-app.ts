import { LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { appConfig, AppConfig } from './config/app.config';
import { SignalingIoAdapter } from './signaling/signaling-io.adapter';

const LEVELS: LogLevel[] = ['error', 'warn', 'log', 'debug', 'verbose'];

/** Builds the configured application (used by main.ts and by the e2e tests), not yet listening. */
export async function createApp(): Promise<{ app: NestExpressApplication; config: AppConfig }> {
  // Validate first so a bad variable stops start-up before any worker is spawned.
  const config = appConfig();
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    logger: LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1),
  });
  app.enableShutdownHooks();
  app.enableCors({ origin: config.corsOrigins === '*' ? true : config.corsOrigins });
  app.useWebSocketAdapter(new SignalingIoAdapter(app, config.corsOrigins));
  app.disable('x-powered-by');
  return { app, config };
}
