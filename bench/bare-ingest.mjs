// A bare mediasoup router behind the same socket.io protocol subset as our server (getRouterRtpCapabilities,
// createWebRtcTransport, connectTransport, transportProduce), for checking the load generator on its own:
// real ICE-lite/DTLS/SRTP into mediasoup, and producer.getStats() to prove the bytes arrived.
// Not the service: no HLS, no limits beyond one send transport and one producer per kind.
//
//   const ingest = await startBareIngest({ port: 4199 });
//   ... publish({ serverUrl: ingest.url }) ...
//   await ingest.producerStats();   // [{ peerId, kind, mimeType, byteCount, packetCount, ... }]
//   await ingest.close();
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** Same codecs as src/mediasoup/media-codecs.ts. */
const MEDIA_CODECS = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } },
  { kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '4d001f', 'level-asymmetry-allowed': 1 } },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
];

export async function startBareIngest({ port = 4199, host = '127.0.0.1', rtcPort = 20900, workerLogLevel = 'warn' } = {}) {
  const mediasoup = require('mediasoup');
  const { Server } = require('socket.io');
  const worker = await mediasoup.createWorker({ logLevel: workerLogLevel, rtcMinPort: rtcPort + 10, rtcMaxPort: rtcPort + 90 });
  const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
  const webRtcServer = await worker.createWebRtcServer({
    listenInfos: [
      { protocol: 'udp', ip: host, port: rtcPort },
      { protocol: 'tcp', ip: host, port: rtcPort },
    ],
  });
  let api = null;
  // GET /stats: producerStats() and the worker's rusage, for a generator running in another process.
  const http = createServer(async (req, res) => {
    if (req.url?.startsWith('/socket.io')) return; // socket.io answers those
    if (req.method === 'GET' && req.url === '/stats' && api) {
      const body = JSON.stringify({ producers: await api.producerStats(), worker: await worker.getResourceUsage(), workerPid: worker.pid });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    res.writeHead(404).end();
  });
  const ioServer = new Server(http, { cors: { origin: '*' } });
  const peers = new Map();

  ioServer.on('connection', (socket) => {
    const peer = { transport: null, producers: new Map() };
    peers.set(socket.id, peer);
    socket.emit('connectionSuccess', { socketId: socket.id });
    const on = (event, fn) =>
      socket.on(event, async (...args) => {
        const ack = typeof args[args.length - 1] === 'function' ? args.pop() : () => {};
        try {
          ack(await fn(args[0]));
        } catch (e) {
          ack({ error: e.message, code: 'BAD_REQUEST' });
        }
      });
    on('getRouterRtpCapabilities', async () => ({ rtpCapabilities: router.rtpCapabilities }));
    on('createWebRtcTransport', async ({ isConsumer }) => {
      if (isConsumer || peer.transport) throw new Error('bare ingest: one send transport only');
      peer.transport = await router.createWebRtcTransport({ webRtcServer, enableUdp: true, enableTcp: true, preferUdp: true });
      const t = peer.transport;
      return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
    });
    on('connectTransport', async ({ transportId, dtlsParameters }) => {
      if (peer.transport?.id !== transportId) throw new Error('unknown transport');
      await peer.transport.connect({ dtlsParameters });
      return { connected: true };
    });
    on('transportProduce', async ({ kind, rtpParameters }) => {
      if (peer.producers.has(kind)) throw new Error(`already producing ${kind}`);
      const producer = await peer.transport.produce({ kind, rtpParameters });
      peer.producers.set(kind, producer);
      return { id: producer.id };
    });
    socket.on('disconnect', () => {
      peer.transport?.close();
      peers.delete(socket.id);
    });
  });

  await new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, resolve);
  });

  api = {
    url: `http://${host}:${port}`,
    worker,
    router,
    /** The live mediasoup Producer objects, for tests that consume them. */
    producers() {
      return [...peers.entries()].flatMap(([peerId, peer]) => [...peer.producers.values()].map((producer) => ({ peerId, producer })));
    },
    /** Per producer: what mediasoup received (RtpStreamRecv stats) plus the transport's ICE/DTLS state. */
    async producerStats() {
      const out = [];
      for (const [peerId, peer] of peers) {
        for (const [kind, producer] of peer.producers) {
          const stats = await producer.getStats();
          const s = stats.find((x) => x.type === 'inbound-rtp') ?? stats[0] ?? {};
          out.push({
            peerId,
            kind,
            mimeType: s.mimeType,
            byteCount: s.byteCount ?? 0,
            packetCount: s.packetCount ?? 0,
            packetsLost: s.packetsLost ?? 0,
            bitrate: s.bitrate ?? 0,
            score: s.score,
            iceState: peer.transport.iceState,
            dtlsState: peer.transport.dtlsState,
          });
        }
      }
      return out;
    },
    async workerUsage() {
      return worker.getResourceUsage();
    },
    async close() {
      ioServer.close();
      http.close();
      worker.close();
    },
  };
  return api;
}

// CLI: node bench/bare-ingest.mjs [--port 4199] [--seconds 600]   (stops by itself after --seconds)
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
  const ingest = await startBareIngest({ port: Number(arg('--port', 4199)) });
  const seconds = Number(arg('--seconds', 600));
  console.log(`bare ingest on ${ingest.url} (mediasoup worker pid ${ingest.worker.pid}), stopping in ${seconds} s`);
  const stop = async () => {
    await ingest.close();
    process.exit(0);
  };
  setTimeout(stop, seconds * 1000);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
