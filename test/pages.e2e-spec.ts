import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Server } from 'socket.io';
import { PeersService } from '../src/peers/peers.service';
import { SignalingGateway } from '../src/ingest/socket-io/signaling.gateway';
import { startApp, TestApp, waitFor } from './support/app';
import { launchChromium } from './support/browser';

jest.setTimeout(120_000);

const ROOT = join(__dirname, '..');
const ARTIFACTS = join(ROOT, 'test-artifacts');

/** Text and data-state of a status element, for assertions and for timeout messages. */
async function stateOf(page: Page, selector: string): Promise<{ state: string | null; text: string }> {
  return page.$eval(selector, (element) => ({ state: element.getAttribute('data-state'), text: element.textContent ?? '' }));
}

/** Polls until `selector`'s data-state is one of `wanted`; a timeout names the last state and any #message. */
async function waitForState(page: Page, selector: string, wanted: string | string[], timeoutMs = 20_000): Promise<void> {
  const states = ([] as string[]).concat(wanted);
  let seen = '(nothing)';
  try {
    await waitFor(
      `${selector} to be ${states.join('|')}`,
      async () => {
        const { state, text } = await stateOf(page, selector);
        seen = `${state}: ${text}`;
        return state !== null && states.includes(state);
      },
      timeoutMs,
      100,
    );
  } catch (error) {
    const message = await page.textContent('#message').catch(() => null);
    throw new Error(`${(error as Error).message}; last seen "${seen}"${message ? `; #message: "${message}"` : ''}`, { cause: error });
  }
}

interface PlaybackState {
  currentTime: number;
  videoWidth: number;
  readyState: number;
  buffered: string;
  status: string;
}

/** Polls `#player` until it has shown frames past `minTime` s; a timeout says what the player was doing. */
async function waitForPlayback(page: Page, minTime: number, timeoutMs: number): Promise<PlaybackState> {
  let last: PlaybackState | undefined;
  try {
    return await waitFor(
      `#player past ${minTime} s`,
      async () => {
        last = await page.evaluate(() => {
          const v = document.querySelector<HTMLVideoElement>('#player')!;
          const ranges = Array.from(
            { length: v.buffered.length },
            (_, i) => `${v.buffered.start(i).toFixed(1)}-${v.buffered.end(i).toFixed(1)}`,
          );
          const status = document.querySelector('#player-status')!;
          return {
            currentTime: v.currentTime,
            videoWidth: v.videoWidth,
            readyState: v.readyState,
            buffered: ranges.join(' '),
            status: `${status.getAttribute('data-state')}: ${status.textContent}`,
          };
        });
        return last.videoWidth > 0 && last.currentTime > minTime ? last : undefined;
      },
      timeoutMs,
      100,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen ${JSON.stringify(last)}`, { cause: error });
  }
}

describe('publish and watch pages (real app, Chromium with fake devices)', () => {
  let app: TestApp;
  let browser: Browser;
  /** Uncaught page errors and CSP refusals: any of these is a bug in the pages or their headers. */
  const problems: string[] = [];
  let publisher: Page;
  let viewer: Page;
  let peerId: string;

  function track(page: Page, name: string): Page {
    page.on('pageerror', (error) => problems.push(`${name}: uncaught ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) {
        problems.push(`${name}: ${message.text()}`);
      }
    });
    return page;
  }

  beforeAll(async () => {
    // The pages are served from public/app/, which only the build writes.
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs')], { cwd: ROOT, stdio: 'pipe' });
    mkdirSync(ARTIFACTS, { recursive: true });
    app = await startApp();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('serves the pages and their bundles, and nothing else from disk', async () => {
    for (const path of ['/', '/publish', '/watch', '/watch/AbC-12_x']) {
      const response = await fetch(`${app.url}${path}`);
      expect([path, response.status]).toEqual([path, 200]);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    }
    const script = await fetch(`${app.url}/app/watch.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${app.url}/app/hls.worker.js`)).status).toBe(200);
    for (const path of [
      '/app/..%2F..%2Fpackage.json',
      '/app/%2E%2E%2Fpackage.json',
      '/app/.hidden.js',
      '/app/missing.js',
      '/app/publish.html',
      '/watch/..%2F..%2Fpackage.json',
      '/watch/a.b',
    ]) {
      const response = await fetch(`${app.url}${path}`);
      expect([path, response.status]).toEqual([path, 404]);
      expect(await response.text()).not.toContain('"name": "webrtc-hls"');
    }
  });

  it('explains a denied camera', async () => {
    const page = track(await browser.newPage(), 'denied');
    await page.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
    await page.goto(`${app.url}/publish`);
    await waitForState(page, '#status', 'media-error');
    expect(await page.textContent('#message')).toMatch(/denied/);
    expect(await page.isVisible('#retry-media')).toBe(true);
    expect(await page.isDisabled('#go-live')).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'publish-denied.png') });
    await page.close();
  });

  it('publisher connects (ICE/DTLS), sends media and pauses/resumes the camera on the server', async () => {
    publisher = track(await browser.newPage({ viewport: { width: 1200, height: 820 } }), 'publisher');
    await publisher.goto(`${app.url}/`);
    await waitForState(publisher, '#status', 'ready');
    expect(await publisher.$$eval('#camera option', (options) => options.length)).toBeGreaterThan(0);
    expect(await publisher.inputValue('#codec')).toBe('H264');

    await publisher.click('#go-live');
    await waitForState(publisher, '#transport-state', 'connected', 30_000);
    await waitForState(publisher, '#status', ['connected', 'live']);
    peerId = (await publisher.textContent('#peer-id'))!.trim();
    expect(peerId).toMatch(/^[A-Za-z0-9_-]+$/);
    await waitFor('outgoing bitrate', async () => Number(await publisher.getAttribute('#bitrate', 'data-kbps')) > 50, 15_000);

    const peers = app.app.get(PeersService);
    expect(peers.producer(peerId, 'video')?.rtpParameters.codecs[0].mimeType).toBe('video/H264');
    expect(peers.producer(peerId, 'audio')).toBeDefined();
    await publisher.click('#toggle-video');
    await waitFor('server-side video producer paused', () => peers.producer(peerId, 'video')?.paused === true, 20_000);
    expect(await publisher.getAttribute('#toggle-video', 'aria-pressed')).toBe('false');
    await publisher.click('#toggle-video');
    await waitFor('server-side video producer resumed', () => peers.producer(peerId, 'video')?.paused === false, 20_000);
    await publisher.screenshot({ path: join(ARTIFACTS, 'publish-connected.png') });
    expect(problems).toEqual([]);
  });

  it('publisher goes live and shows the links to share', async () => {
    expect(peerId).toBeDefined();
    await waitForState(publisher, '#status', 'live', 45_000);
    expect(await publisher.isVisible('#live-badge')).toBe(true);
    expect(await publisher.getAttribute('#hls-link', 'href')).toBe(`${app.url}/watch/${peerId}`);
    expect(await publisher.getAttribute('#playlist-link', 'href')).toBe(`${app.url}/live/${peerId}.m3u8`);
    await waitFor('server output details', async () => /H264/.test((await publisher.textContent('#server-info')) ?? ''), 10_000);
    await publisher.screenshot({ path: join(ARTIFACTS, 'publish-live.png') });
  });

  it('viewer lists the stream live, plays it with hls.js and shows how far behind live it is', async () => {
    viewer = track(await browser.newPage({ viewport: { width: 1200, height: 760 } }), 'viewer');
    await viewer.goto(`${app.url}/watch`);
    const entry = `#stream-list li[data-peer-id="${peerId}"]`;
    await waitFor('the stream in the list', () => viewer.$(entry), 20_000);
    await waitFor('its details', async () => /H264/.test((await viewer.textContent(`${entry} .stream-meta`)) ?? ''), 10_000);
    await viewer.click(`${entry} button`);
    expect(viewer.url()).toBe(`${app.url}/watch/${peerId}`);

    const { currentTime } = await waitForPlayback(viewer, 0, 45_000);
    await waitForPlayback(viewer, currentTime + 2, 20_000);
    await waitForState(viewer, '#player-status', 'playing');
    const latency = await waitFor(
      'latency shown',
      async () => Number((await viewer.getAttribute('#latency', 'data-seconds')) || NaN) || undefined,
      10_000,
    );
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(30);
    // After a stall (a busy machine) the player catches up by playing faster; give it time to.
    let behind: string | null = null;
    await waitFor(
      'at the live edge',
      async () => {
        behind = await viewer.textContent('#latency');
        return (await viewer.getAttribute('#live-edge', 'data-at-edge')) === 'true';
      },
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; behind live: ${behind}`);
    });
    await viewer.screenshot({ path: join(ARTIFACTS, 'watch-playing.png') });
  });

  it('/watch/<peerId> starts that stream by itself', async () => {
    const direct = track(await browser.newPage(), 'direct viewer');
    await direct.goto(`${app.url}/watch/${peerId}`);
    await waitForPlayback(direct, 1, 45_000);
    expect(await direct.getAttribute('#player', 'data-peer-id')).toBe(peerId);
    await direct.close();
  });

  it('stop: the stream leaves the list and the viewer says it ended', async () => {
    await publisher.click('#stop');
    await waitForState(publisher, '#status', 'stopped');
    expect(await publisher.isVisible('#share')).toBe(false);
    await waitFor(
      'the entry gone from the list',
      async () => (await viewer.$(`#stream-list li[data-peer-id="${peerId}"]`)) === null,
      20_000,
    );
    await waitForState(viewer, '#player-status', 'ended');
    expect(await viewer.isVisible('#no-streams')).toBe(true);
    await viewer.screenshot({ path: join(ARTIFACTS, 'watch-ended.png') });
    expect(problems).toEqual([]);
  });

  it('tells the publisher when the server connection is lost', async () => {
    await publisher.click('#go-live');
    await waitForState(publisher, '#transport-state', 'connected', 30_000);
    const second = (await publisher.textContent('#peer-id'))!.trim();
    expect(second).not.toBe(peerId);
    // The gateway's socket.io server, so the server (not the page) drops the connection.
    const io = (app.app.get(SignalingGateway) as unknown as { server: Server }).server;
    io.in(second).disconnectSockets(true);
    await waitForState(publisher, '#status', 'error');
    expect(await publisher.textContent('#message')).toMatch(/Lost the connection/);
    expect(await publisher.isEnabled('#go-live')).toBe(true);
    await publisher.screenshot({ path: join(ARTIFACTS, 'publish-connection-lost.png') });
  });

  it.each(['VP8', 'VP9'])('publishes %s when chosen, and applies a new quality preset while live', async (codec) => {
    const page = track(await browser.newPage(), `publisher ${codec}`);
    await page.goto(`${app.url}/publish`);
    await waitForState(page, '#status', 'ready');
    await page.selectOption('#codec', codec);
    await page.click('#go-live');
    // "connected" = ICE/DTLS up and every producer acknowledged by the server.
    await waitForState(page, '#status', ['connected', 'live'], 30_000);
    expect(await stateOf(page, '#transport-state')).toMatchObject({ state: 'connected' });
    const id = (await page.textContent('#peer-id'))!.trim();
    expect(app.app.get(PeersService).producer(id, 'video')?.rtpParameters.codecs[0].mimeType).toBe(`video/${codec}`);
    await page.selectOption('#preset', '360p');
    await waitFor('640×360 going out', async () => ((await page.textContent('#bitrate')) ?? '').includes('640×360'), 15_000);
    await page.click('#stop');
    await waitForState(page, '#status', 'stopped');
    await page.close();
  });

  it('/watch/<unknown> waits for the stream instead of failing', async () => {
    const page = track(await browser.newPage(), 'waiting viewer');
    await page.goto(`${app.url}/watch/not-live-yet`);
    await waitForState(page, '#player-status', 'waiting');
    await page.close();
    expect(problems).toEqual([]);
  });
});
