import type { Browser, Page } from 'playwright-core';
import { startApp, TestApp, waitFor } from './app';
import { launchChromium } from './browser';
import { SseClient } from './hls';
import { PublishOptions, publishFromChromium } from './publisher';

export interface HlsFixture {
  readonly app: TestApp;
  readonly browser: Browser;
  readonly sse: SseClient;
  /** Publishes from a Chromium page and waits for SSE `peerLive`. */
  goLive(options: PublishOptions, timeoutMs?: number): Promise<{ page: Page; peerId: string; liveAfterMs: number }>;
  waitForLeft(peerId: string): Promise<unknown>;
}

/**
 * The app, a Chromium and an SSE client for a describe block, with the hooks that start and stop
 * them; pages left open by a failed test are closed before the next.
 */
export function useHlsFixture(env: Record<string, string> = {}): HlsFixture {
  let app: TestApp;
  let browser: Browser;
  let sse: SseClient;

  beforeAll(async () => {
    app = await startApp(env);
    browser = await launchChromium();
    sse = new SseClient(`${app.url}/api/live-streams`);
  });

  afterEach(async () => {
    for (const context of browser?.contexts() ?? []) await context.close();
  });

  afterAll(async () => {
    sse?.close();
    await browser?.close();
    await app?.close();
  });

  return {
    get app() {
      return app;
    },
    get browser() {
      return browser;
    },
    get sse() {
      return sse;
    },
    async goLive(options, timeoutMs = 20_000) {
      const { page, peerId, producedAt } = await publishFromChromium(browser, app.url, options);
      await waitFor(`SSE peerLive for ${peerId}`, () => sse.find('peerLive', peerId), timeoutMs);
      return { page, peerId, liveAfterMs: Date.now() - producedAt };
    },
    waitForLeft(peerId) {
      return waitFor(`SSE peerLeft for ${peerId}`, () => sse.find('peerLeft', peerId), 15_000);
    },
  };
}
