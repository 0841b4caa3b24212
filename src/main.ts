import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { ConfigValidationError } from './config/env.schema';
import { createApp } from './create-app';

async function bootstrap(): Promise<void> {
  const { app, config } = await createApp({ exitAfterShutdown: true });
  await app.listen(config.port, config.host);
  // The bound address, not the configured one: with PORT=0 this is the port the OS picked.
  const { address, port } = app.getHttpServer().address() as AddressInfo;
  const host = address === '0.0.0.0' || address === '::' ? 'localhost' : address.includes(':') ? `[${address}]` : address;
  Logger.log(`webrtc-hls listening on http://${host}:${port} (HLS in ${config.hls.dir}, ICE announces ${config.announcedIp})`, 'Bootstrap');
}

bootstrap().catch((error) => {
  // A bad variable prints the validation's own list (every variable, no stack): that is the message.
  if (error instanceof ConfigValidationError) {
    console.error(error.message);
  } else {
    console.error(error);
  }
  process.exit(1);
});
