import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, TestApp } from './support/app';

jest.setTimeout(90_000);

const ROOT = join(__dirname, '..');

async function get(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

describe('health probes (real app, real mediasoup worker and FFmpeg)', () => {
  describe('a healthy app on a random port', () => {
    let app: TestApp;

    beforeAll(async () => {
      app = await startApp({ MEDIASOUP_WORKERS: '2' });
    });
    afterAll(async () => {
      await app?.close();
      if (app) rmSync(app.hlsDir, { recursive: true, force: true });
    });

    it('listens on 127.0.0.1 and a port the OS picked', () => {
      expect(app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(Number(new URL(app.url).port)).toBeGreaterThan(0);
    });

    it('GET /health/live answers 200 with the event loop check', async () => {
      const { status, body } = await get(`${app.url}/health/live`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ status: 'ok', info: { eventLoop: { status: 'up' } } });
      expect(body.info.eventLoop.maxDelayMs).toEqual(expect.any(Number));
    });

    it('GET /health/ready answers 200: both workers, FFmpeg, and the HLS directory', async () => {
      const { status, body } = await get(`${app.url}/health/ready`);
      expect(status).toBe(200);
      expect(body.status).toBe('ok');
      expect(body.info.mediasoup).toMatchObject({ status: 'up', expected: 2 });
      expect(body.info.mediasoup.workers).toHaveLength(2);
      expect(body.info.ffmpeg).toMatchObject({ status: 'up', version: expect.stringMatching(/^ffmpeg version /) });
      expect(body.info.disk).toMatchObject({ status: 'up', dir: app.hlsDir });
      expect(body.info.disk.freeMB).toBeGreaterThanOrEqual(body.info.disk.minFreeMB);
    });

    it('concurrent readiness probes all answer 200 (kubelet and a load balancer may probe at once)', async () => {
      for (let round = 0; round < 5; round++) {
        const answers = await Promise.all(Array.from({ length: 10 }, () => get(`${app.url}/health/ready`)));
        expect(answers.filter((answer) => answer.status !== 200).map((answer) => answer.body)).toEqual([]);
      }
    });

    it('readiness answers 503 naming the disk check once the HLS directory is replaced by a regular file', async () => {
      // As root, chmod would not stop writes; a file where the directory was stops them for anyone.
      rmSync(app.hlsDir, { recursive: true, force: true });
      writeFileSync(app.hlsDir, 'not a directory');
      try {
        const { status, body } = await get(`${app.url}/health/ready`);
        expect(status).toBe(503);
        expect(body.status).toBe('error');
        expect(Object.keys(body.error)).toEqual(['disk']);
        expect(body.error.disk).toMatchObject({ status: 'down', dir: app.hlsDir, error: expect.stringMatching(/EEXIST|ENOTDIR/) });
        // The other checks still pass and say so.
        expect(body.info).toMatchObject({ mediasoup: { status: 'up' }, ffmpeg: { status: 'up' } });
        // Liveness does not depend on the disk: restarting the process would not help.
        expect((await get(`${app.url}/health/live`)).status).toBe(200);
      } finally {
        rmSync(app.hlsDir, { force: true });
      }
      // The check creates the directory again, and readiness recovers without a restart.
      const { status } = await get(`${app.url}/health/ready`);
      expect(status).toBe(200);
    });
  });

  describe('a free-space floor above what the disk has', () => {
    let app: TestApp;

    beforeAll(async () => {
      // 2^40 MB (a zettabyte): more than any disk here.
      app = await startApp({ MEDIASOUP_WORKERS: '1', HLS_MIN_FREE_MB: String(2 ** 40) });
    });
    afterAll(async () => {
      await app?.close();
      if (app) rmSync(app.hlsDir, { recursive: true, force: true });
    });

    it('readiness answers 503 naming the disk check, with free and required MB', async () => {
      const { status, body } = await get(`${app.url}/health/ready`);
      expect(status).toBe(503);
      expect(Object.keys(body.error)).toEqual(['disk']);
      expect(body.error.disk).toMatchObject({
        status: 'down',
        error: 'free disk space below the floor',
        minFreeMB: 2 ** 40,
        freeMB: expect.any(Number),
      });
      expect((await get(`${app.url}/health/live`)).status).toBe(200);
    });
  });

  describe('node dist/main.js with a bad environment', () => {
    /** Runs the built server with `env` added; resolves when it exits (kills it after 30 s). */
    function runDist(env: Record<string, string>): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
      const hlsDir = mkdtempSync(join(tmpdir(), 'webrtc-hls-badenv-'));
      const child = spawn(process.execPath, ['dist/main.js'], {
        cwd: ROOT,
        env: { ...process.env, HOST: '127.0.0.1', ANNOUNCED_IP: '127.0.0.1', HLS_DIR: hlsDir, MEDIASOUP_WORKERS: '1', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const deadline = setTimeout(() => child.kill('SIGKILL'), 30_000);
      return new Promise((resolve) =>
        child.on('close', (code, signal) => {
          clearTimeout(deadline);
          rmSync(hlsDir, { recursive: true, force: true });
          resolve({ code, signal, stdout, stderr });
        }),
      );
    }

    it('PORT=abc: exit code 1, a message naming PORT and what it accepts, no worker started', async () => {
      const result = await runDist({ PORT: 'abc' });
      expect(result).toMatchObject({ code: 1, signal: null });
      expect(result.stderr).toContain('Invalid configuration:');
      expect(result.stderr).toContain('PORT="abc": PORT must be an integer number');
      expect(result.stderr).toMatch(/must not be greater than 65535/);
      // Validation runs before anything starts, and its message is the whole story (no stack).
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.stdout).not.toContain('mediasoup worker');
    });

    it('every bad variable is listed at once', async () => {
      const result = await runDist({ PORT: '99999', LOG_LEVEL: 'chatty', FFMPEG_MIN_PORT: '40000', FFMPEG_MAX_PORT: '40099' });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('PORT="99999"');
      expect(result.stderr).toContain('LOG_LEVEL="chatty": LOG_LEVEL must be one of the following values');
      expect(result.stderr).toContain("must lie outside Linux's ephemeral range 32768-60999");
    });
  });
});
