import express from 'express';
import type { Server } from 'node:http';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { forwardRequest, ForwardResult } from './forward-request';
import { HOP_HEADER } from './node-http';

/** A real HTTP server on 127.0.0.1 and a free port. */
async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** Resolves with the event's value once `condition` holds for it. */
function until<T>(register: (listener: (value: T) => void) => void, condition: (value: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => register((value) => condition(value) && resolve(value)));
}

describe('forwardRequest (between two real HTTP servers)', () => {
  let origin: { server: Server; url: string };
  let proxy: { server: Server; url: string };
  let originApp: express.Express;
  const results: ForwardResult[] = [];
  /** What the origin saw of the last request. */
  let seen: { method: string; url: string; headers: Record<string, unknown>; body: string } | undefined;
  let releaseStream: (() => void) | undefined;
  let originRequestClosed: Promise<void> | undefined;

  beforeAll(async () => {
    originApp = express();
    originApp.use((req, res, next) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        seen = { method: req.method, url: req.originalUrl, headers: req.headers, body };
        next();
      });
    });
    originApp.get('/live/file.m3u8', (_req, res) => {
      res.setHeader('Content-Type', 'application/vnd.apple.mpegurl');
      res.setHeader('Cache-Control', 'no-cache');
      res.setHeader('X-Served-By', 'origin');
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.end('#EXTM3U\n');
    });
    // Sends a first chunk, then waits for the test to release the rest.
    originApp.get('/live/slow.ts', (req, res) => {
      res.setHeader('Content-Type', 'video/mp2t');
      res.write(Buffer.alloc(188, 0x47));
      originRequestClosed = new Promise((resolve) => res.once('close', () => resolve()));
      releaseStream = () => res.end(Buffer.alloc(188, 0x47));
    });
    originApp.get('/live/missing.ts', (_req, res) => void res.status(404).json({ message: 'no' }));
    originApp.patch('/whip/s/r', (_req, res) => void res.status(204).end());
    origin = await listen(originApp);

    const proxyApp = express();
    proxyApp.use(async (req, res) => {
      const result = await forwardRequest(req, res, origin.url, {
        node: 'proxy-node',
        idleTimeoutMs: 5000,
        notFoundIsResult: req.path === '/live/missing.ts',
      });
      results.push(result);
      if (result.outcome === 'not-found') res.status(404).send('reported');
      if (result.outcome === 'failed') res.status(502).send(result.error);
    });
    proxy = await listen(proxyApp);
  });

  afterAll(async () => {
    await close(proxy.server);
    await close(origin.server);
  });

  it('passes status, headers (repeated ones too) and body on, marks the hop, adds Via', async () => {
    const response = await fetch(`${proxy.url}/live/file.m3u8?_HLS_msn=3`, { headers: { 'x-client': 'yes', connection: 'keep-alive' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('#EXTM3U\n');
    expect(response.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-served-by')).toBe('origin');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(response.headers.get('via')).toBe('1.1 proxy-node');
    expect(seen).toMatchObject({ method: 'GET', url: '/live/file.m3u8?_HLS_msn=3' });
    expect(seen!.headers).toMatchObject({
      'x-client': 'yes',
      [HOP_HEADER]: 'proxy-node',
      via: '1.1 proxy-node',
      'x-forwarded-for': '127.0.0.1',
    });
    expect(seen!.headers.host).toBe(new URL(origin.url).host);
  });

  it('streams the answer: the client has the first bytes before the origin has sent the rest', async () => {
    const firstBytes = new Promise<number>((resolve, reject) => {
      const req = request(`${proxy.url}/live/slow.ts`, (res) => res.once('data', (chunk: Buffer) => resolve(chunk.length)));
      req.once('error', reject);
      req.end();
    });
    expect(await firstBytes).toBe(188); // the origin still holds the answer open
    releaseStream!();
  });

  it('lets go of the request at the origin when the client goes away', async () => {
    const req = request(`${proxy.url}/live/slow.ts`);
    req.on('error', () => undefined); // destroyed on purpose
    req.end();
    await until<unknown>((listener) => req.once('response', listener));
    const closed = originRequestClosed!;
    req.destroy();
    await closed; // the proxy dropped its request: a blocking request held there is freed
  });

  it('reports a 404 instead of sending it when asked to (the caller has somewhere else to ask)', async () => {
    const response = await fetch(`${proxy.url}/live/missing.ts`);
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('reported');
    expect(results.at(-1)).toEqual({ outcome: 'not-found' });
  });

  it('forwards a request body (a WHIP PATCH) as it comes', async () => {
    const response = await fetch(`${proxy.url}/whip/s/r`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/trickle-ice-sdpfrag', 'if-match': '"etag"' },
      body: 'a=ice-ufrag:x\r\na=ice-pwd:y\r\n',
    });
    expect(response.status).toBe(204);
    expect(seen).toMatchObject({ method: 'PATCH', body: 'a=ice-ufrag:x\r\na=ice-pwd:y\r\n' });
    expect(seen!.headers).toMatchObject({ 'content-type': 'application/trickle-ice-sdpfrag', 'if-match': '"etag"' });
  });

  it('reports an origin that does not answer', async () => {
    const gone = await listen(express());
    await close(gone.server);
    const app = express();
    app.use(async (req, res) => {
      const result = await forwardRequest(req, res, gone.url, { node: 'proxy-node', idleTimeoutMs: 5000 });
      res.status(502).json(result);
    });
    const { server, url } = await listen(app);
    try {
      const response = await fetch(`${url}/live/file.m3u8`);
      expect(response.status).toBe(502);
      expect(await response.json()).toEqual({ outcome: 'failed', error: expect.stringContaining('ECONNREFUSED') });
    } finally {
      await close(server);
    }
  });
});
