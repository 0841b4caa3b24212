import type { Browser, Page } from 'playwright-core';
import { readdir } from 'node:fs/promises';
import { waitFor } from './app';
import { readPlaylist } from './hls';
import { openTestPage } from './pages';

import type { PublishOptions } from '../browser/harness';

export type { PublishOptions };

/**
 * A Chromium page publishing through the harness; resolves once the producers exist. `auth` is the
 * socket.io handshake's `{ stream, token }` (a named stream).
 */
export async function publishFromChromium(
  browser: Browser,
  appUrl: string,
  options: PublishOptions,
  auth?: { stream?: string; token?: string },
): Promise<{ page: Page; peerId: string; producedAt: number }> {
  const page = await openTestPage(browser, appUrl, 'harness');
  const peerId: string = await page.evaluate((a) => (window as any).harness.connect(location.origin, a), auth);
  await page.evaluate((o) => (window as any).harness.publish(o), options as Record<string, unknown>);
  // publish() resolves when transportProduce has been answered.
  return { page, peerId, producedAt: Date.now() };
}

/** A page playing `url` with hls.js (`lowLatency`: in its lowLatencyMode, for a Low-Latency master). */
export async function playWithHlsJs(browser: Browser, appUrl: string, url: string, options: { lowLatency?: boolean } = {}): Promise<Page> {
  const viewer = await openTestPage(browser, appUrl, 'player');
  await viewer.evaluate(([u, o]) => (window as any).player.play(u, o), [url, options] as const);
  return viewer;
}

export interface PlayerState {
  currentTime: number;
  videoWidth: number;
  latency?: number;
  fatalErrors: unknown[];
  ended: boolean;
  duration: number;
  /** Master playlist loads (1 unless something reloaded the player). */
  manifestLoads: number;
  /** Longest time the picture stood still after playing began (ms), sampled in the page. */
  longestStallMs: number;
}

export async function playerState(viewer: Page): Promise<PlayerState> {
  return viewer.evaluate(() => (window as any).player.state());
}

/** Wall-clock stretches (ms since the epoch) in which the player's currentTime did not advance. */
export interface Stall {
  from: number;
  to: number;
}

/** Every stall since the player first played (sampled in the page every 100 ms), the one in progress included. */
export async function playerStalls(viewer: Page): Promise<{ stalls: Stall[]; playingSince?: number }> {
  return viewer.evaluate(() => (window as any).player.stalls());
}

/** The longest stall overlapping [from, to] (ms since the epoch), in ms; 0 when there was none. */
export function longestStall(stalls: Stall[], from = -Infinity, to = Infinity): number {
  return Math.max(0, ...stalls.filter((s) => s.to >= from && s.from <= to).map((s) => s.to - s.from));
}

/** Waits until the player has played `seconds` of real picture (videoWidth > 0); a timeout says what the player saw. */
export async function waitUntilPlaying(viewer: Page, seconds = 1, timeoutMs = 30_000): Promise<Awaited<ReturnType<typeof playerState>>> {
  try {
    return await waitFor(
      `hls.js playing past ${seconds} s`,
      async () => {
        const state = await playerState(viewer);
        return state.currentTime > seconds && state.videoWidth > 0 ? state : undefined;
      },
      timeoutMs,
    );
  } catch (error) {
    const state = await playerState(viewer).catch(() => undefined);
    throw new Error(`${(error as Error).message}; player: ${JSON.stringify(state)}`, { cause: error });
  }
}

/** Waits until the media playlist has `count` more segments than it has now. */
export async function waitForNewSegments(dir: string, name: string, count: number, timeoutMs = 20_000): Promise<void> {
  const start = (await readPlaylist(dir, name))?.segments.at(-1)?.uri ?? '';
  let seen = 0;
  let last = start;
  await waitFor(
    `${count} new segments in ${name}`,
    async () => {
      const list = await readPlaylist(dir, name);
      const uris = list?.segments.map((s) => s.uri) ?? [];
      const index = uris.indexOf(last);
      seen += index >= 0 ? uris.length - 1 - index : uris.length;
      last = uris.at(-1) ?? last;
      return seen >= count;
    },
    timeoutMs,
    200,
  );
}

/** Files in the HLS directory that belong to `peerId`. */
export async function filesOf(dir: string, peerId: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => name.includes(peerId));
}
