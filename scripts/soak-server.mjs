#!/usr/bin/env node
// The service under `npm run soak`: the real application from dist/ (as dist/main.js runs it), in a
// process of its own so that its RSS, file descriptors, sockets and children are its own, plus an IPC
// channel for what only this process can see: mediasoup's router dumps and the FFmpeg pids.
// Forked by scripts/soak.mjs; configured by the environment like dist/main.js.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
require('reflect-metadata');
const { createApp } = require('../dist/create-app.js');
const { WorkerPoolService } = require('../dist/mediasoup/worker-pool.service.js');
const { TranscoderService } = require('../dist/transcode/transcoder.service.js');

const { app, config } = await createApp({ exitAfterShutdown: true });
await app.listen(config.port, config.host);
const pool = app.get(WorkerPoolService);
const transcoder = app.get(TranscoderService);

process.on('message', async (message) => {
  if (message?.type !== 'inspect') return;
  const slots = pool.aliveSlots();
  const dumps = await Promise.all(slots.map((slot) => slot.router.dump().catch(() => undefined)));
  process.send({
    type: 'inspect',
    id: message.id,
    workers: slots.map((slot) => ({ id: slot.id, pid: slot.worker.pid })),
    transports: dumps.reduce((sum, dump) => sum + (dump?.transportIds.length ?? 0), 0),
    producers: dumps.reduce((sum, dump) => sum + (dump ? Object.keys(dump.mapProducerIdConsumerIds ?? {}).length : 0), 0),
    consumers: dumps.reduce((sum, dump) => sum + (dump ? Object.keys(dump.mapConsumerIdProducerId ?? {}).length : 0), 0),
    ffmpegPids: transcoder.pids(),
    ffmpegPortsInUse: transcoder.portsInUse,
  });
});
process.send({ type: 'ready', port: app.getHttpServer().address().port });
