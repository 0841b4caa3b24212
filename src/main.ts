import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigValidationError } from './config/env.schema';
import { createApp } from './create-app';

async function bootstrap(): Promise<void> {
  const { app, config } = await createApp();
  await app.listen(config.port, config.host);
  const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}`;
  Logger.log(`webrtc-hls listening on ${url} (HLS in ${config.hls.dir}, ICE announces ${config.announcedIp})`, 'Bootstrap');
}

bootstrap().catch((error) => {
  if (error instanceof ConfigValidationError) {
    console.error(error.message);
  } else {
    console.error(error);
  }
  process.exit(1);
});

