import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SegmentStore } from '../src/packaging/segment-store';
import { startApp, TestApp } from './support/app';

/** A raw GET, so the path reaches the server exactly as written (fetch would normalise `..`). */
function rawGet(
  url: string,
  path: string,
  timeoutMs = 30_000,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    // A body shorter than its Content-Length never ends: fail clearly instead of hanging.
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no complete answer within ${timeoutMs} ms`)));
    req.end();
  });
}

describe('/live serves only HLS files inside the HLS directory', () => {
  let app: TestApp;
  const SECRET = 'TOP-SECRET-OUTSIDE';

  beforeAll(async () => {
    app = await startApp();
    const outside = mkdtempSync(join(tmpdir(), 'outside-'));
    writeFileSync(join(outside, 'secret.m3u8'), SECRET);
    writeFileSync(join(app.hlsDir, '..', 'sibling.m3u8'), SECRET);
    symlinkSync(join(outside, 'secret.m3u8'), join(app.hlsDir, 'link.m3u8'));
    writeFileSync(join(app.hlsDir, 'ok.m3u8'), '#EXTM3U\n');
    writeFileSync(join(app.hlsDir, 'video_ok_001.ts'), Buffer.alloc(188, 0x47));
  });

  afterAll(() => app?.close());

  const attempts = [
    '/live/../sibling.m3u8',
    '/live/..%2fsibling.m3u8',
    '/live/..%2Fsibling.m3u8',
    '/live/%2e%2e%2fsibling.m3u8',
    '/live/%2e%2e/sibling.m3u8',
    '/live/....//sibling.m3u8',
    '/live/..%5csibling.m3u8',
    '/live/%252e%252e%252fsibling.m3u8',
    '/live//etc/passwd',
    '/live/%2fetc%2fpasswd',
    '/live/link.m3u8',
    '/live/.work',
    '/live/',
    '/live/ok.m3u8%00.ts',
    '/live/..',
    '/live/ok.txt',
  ];

  it.each(attempts)('%s never returns a file from outside', async (path) => {
    const response = await rawGet(app.url, path);
    expect([400, 404]).toContain(response.status);
    expect(response.body).not.toContain(SECRET);
    expect(response.body).not.toContain('root:');
  });

  it('serves a playlist with its MIME type, no-cache and open CORS; a segment cacheable', async () => {
    const playlist = await rawGet(app.url, '/live/ok.m3u8');
    expect(playlist.status).toBe(200);
    expect(playlist.headers['content-type']).toContain('application/vnd.apple.mpegurl');
    expect(playlist.headers['cache-control']).toBe('no-cache');
    expect(playlist.headers['access-control-allow-origin']).toBe('*');
    const segment = await rawGet(app.url, '/live/video_ok_001.ts');
    expect(segment.status).toBe(200);
    expect(segment.headers['content-type']).toBe('video/mp2t');
    expect(segment.headers['cache-control']).toContain('max-age');
  });

  it('never serves a playlist cut short while packaging replaces it (rename after a stat)', async () => {
    // Packaging replaces playlists by rename; versions of different lengths, each ending in a marker,
    // as a live playlist grows and slides. Bounded by count; every body read must be one whole version.
    const store = new SegmentStore(app.hlsDir);
    const version = (i: number) => `#EXTM3U\n${'#EXTINF:1.000,\nvideo_race_001.ts\n'.repeat(1 + (i % 7))}#END ${i}\n`;
    await store.writePlaylist('race.m3u8', version(0));
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing && i < 20_000; i++) await store.writePlaylist('race.m3u8', version(i));
    })();
    const cut: string[] = [];
    try {
      for (let round = 0; round < 150; round++) {
        const bodies = await Promise.all(
          Array.from({ length: 10 }, () =>
            rawGet(app.url, '/live/race.m3u8', 5_000).catch((error: Error) => ({ status: 0, body: error.message })),
          ),
        );
        for (const { status, body } of bodies) {
          if (status !== 200) {
            cut.push(`${status}: ${body}`);
            continue;
          }
          const i = Number(/#END (\d+)\n$/.exec(body)?.[1]);
          if (!(body === version(i))) cut.push(body);
        }
      }
    } finally {
      writing = false;
      await writer;
    }
    expect(cut).toEqual([]);
  });
});
