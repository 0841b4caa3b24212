import { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { ServerOptions } from 'socket.io';
import { SOCKET_MAX_HTTP_BUFFER_SIZE } from './parse-payload';

/** socket.io on the HTTP port with the configured CORS origins and a bounded message size. */
export class SignalingIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly corsOrigins: string[] | '*',
  ) {
    super(app);
  }

  createIOServer(port: number, options?: ServerOptions) {
    return super.createIOServer(port, {
      ...options,
      maxHttpBufferSize: SOCKET_MAX_HTTP_BUFFER_SIZE,
      cors: { origin: this.corsOrigins === '*' ? true : this.corsOrigins, credentials: true },
    });
  }
}
