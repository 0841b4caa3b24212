import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/create-app';
import type { AppConfig } from '../../src/config/app.config';
import { randomPortEnv } from './ports';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  url: string;
  hlsDir: string;
  close(): Promise<void>;
}

/**
 * Boots the real application on 127.0.0.1 and a random port, with its own HLS directory.
 * `env` overrides variables for this app only (restored after start-up).
 */
export async function startApp(env: Record<string, string> = {}, attempt = 1): Promise<TestApp> {
  try {
    return await startAppOnce(env);
  } catch (error) {
    // Another process took a port of the block between our check and the worker's bind: another block.
    if (attempt < 4 && /address already in use/i.test(String(error))) return startApp(env, attempt + 1);
    throw error;
  }
}

async function startAppOnce(env: Record<string, string>): Promise<TestApp> {
  const hlsDir = env.HLS_DIR ?? mkdtempSync(join(tmpdir(), 'webrtc-hls-test-'));
  const vars: Record<string, string> = { PORT: '0', HLS_DIR: hlsDir, ...randomPortEnv(), ...env };
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  Object.assign(process.env, vars);
  try {
    const { app, config } = await createApp();
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    return { app, config, url: `http://127.0.0.1:${port}`, hlsDir, close: () => app.close() };
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** Polls `probe` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 15000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** What /api/streams/<id> says of a stream, as a user of the API sees it. */
export async function streamInfo(app: TestApp, streamId: string): Promise<any> {
  const response = await fetch(`${app.url}/api/streams/${encodeURIComponent(streamId)}`);
  if (!response.ok) throw new Error(`GET /api/streams/${streamId}: ${response.status}`);
  return response.json();
}
