import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { parseMasterPlaylist, parseMediaPlaylist } from './playlist';
import { isGone, processTree, readStat, readUdpSockets, socketInodes } from './proc';
import { metricSum, parsePrometheus } from './prometheus';
import { SseClient, SseParser } from './sse';

describe('shared parsers (plain JS loaded by ts-jest and by the .mjs bench)', () => {
  it('parses a media playlist: segments with sequence numbers, discontinuities, tags before a URI, LL-HLS parts', () => {
    const p = parseMediaPlaylist(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:9',
        '#EXT-X-TARGETDURATION:1',
        '#EXT-X-PART-INF:PART-TARGET=0.200',
        '#EXT-X-MEDIA-SEQUENCE:41',
        '#EXT-X-DISCONTINUITY-SEQUENCE:2',
        '#EXTINF:1.000,',
        'video_p_041.ts',
        '#EXT-X-DISCONTINUITY',
        '#EXTINF:0.966,',
        '#EXT-X-BITRATE:2500',
        'video_p_042.ts',
        '#EXT-X-PART:DURATION=0.200,URI="p043.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.200,URI="p043.1.m4s"',
        '#EXTINF:1.033,',
        'video_p_043.ts',
        '#EXT-X-PART:DURATION=0.200,URI="p044.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p044.1.m4s"',
        '',
      ].join('\n'),
    );
    expect(p).toMatchObject({
      version: 9,
      targetDuration: 1,
      partTarget: 0.2,
      mediaSequence: 41,
      discontinuitySequence: 2,
      discontinuities: 1,
      ended: false,
    });
    expect(p.segments).toEqual([
      { uri: 'video_p_041.ts', duration: 1, discontinuity: false, seq: 41 },
      { uri: 'video_p_042.ts', duration: 0.966, discontinuity: true, seq: 42 },
      { uri: 'video_p_043.ts', duration: 1.033, discontinuity: false, seq: 43 },
    ]);
    expect(p.parts).toEqual([
      { uri: 'p043.0.m4s', duration: 0.2, independent: true, segmentSeq: 43 },
      { uri: 'p043.1.m4s', duration: 0.2, independent: false, segmentSeq: 43 },
      { uri: 'p044.0.m4s', duration: 0.2, independent: true, segmentSeq: undefined },
    ]);
    expect(p.preloadHint).toEqual({ TYPE: 'PART', URI: 'p044.1.m4s' });
    expect(parseMediaPlaylist('#EXTM3U\n#EXTINF:2.5,\na.ts\n#EXT-X-ENDLIST\n')).toMatchObject({
      mediaSequence: 0,
      ended: true,
      segments: [{ uri: 'a.ts', duration: 2.5 }],
    });
  });

  it('parses a master playlist: variants with attributes, renditions and every URI once', () => {
    const m = parseMasterPlaylist(
      '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,URI="p-audio.m3u8"\n' +
        '#EXT-X-STREAM-INF:BANDWIDTH=2800000,CODECS="avc1.42e01f,mp4a.40.2",RESOLUTION=1280x720,AUDIO="aud"\np-video.m3u8\n',
    );
    expect(m.variants).toEqual([
      { uri: 'p-video.m3u8', attributes: { BANDWIDTH: '2800000', CODECS: 'avc1.42e01f,mp4a.40.2', RESOLUTION: '1280x720', AUDIO: 'aud' } },
    ]);
    expect(m.media[0].attributes).toMatchObject({ TYPE: 'AUDIO', 'GROUP-ID': 'aud', URI: 'p-audio.m3u8' });
    expect(m.uris).toEqual(['p-video.m3u8', 'p-audio.m3u8']);
  });

  it('parses Server-Sent Events split anywhere, CRLF across chunks, comments, multi-line and non-JSON data', () => {
    const events: Array<[string, unknown]> = [];
    const parser = new SseParser((type, data) => events.push([type, data]));
    const stream =
      ': keep-alive\r\nevent: peerLive\r\ndata: {"peerId":"a"}\r\n\r\nevent:init\ndata:{"livePeers":\ndata:[]}\n\ndata: plain text\n\nevent: ignored-without-data\n\n';
    for (let i = 0; i < stream.length; i += 3) parser.push(stream.slice(i, i + 3));
    expect(events).toEqual([
      ['peerLive', { peerId: 'a' }],
      ['init', { livePeers: [] }],
      ['message', 'plain text'],
    ]);
  });

  it('SseClient records the events of a live stream and ends when closed', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: init\ndata: {"livePeers":[]}\n\n');
      res.write('event: peerLive\ndata: {"peerId":"p1"}\n\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const seen: string[] = [];
    const sse = new SseClient(url, { onEvent: (e) => seen.push(e.type) });
    try {
      await sse.opened;
      for (let i = 0; i < 200 && !sse.find('peerLive', 'p1'); i++) await new Promise((r) => setTimeout(r, 10));
      expect(sse.find('peerLive', 'p1')?.data).toEqual({ peerId: 'p1' });
      expect(seen).toEqual(['init', 'peerLive']);
    } finally {
      sse.close();
      await sse.ended;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await expect(new SseClient('http://127.0.0.1:1/').opened).rejects.toThrow();
  });

  it('reads Prometheus counters; a metric the server does not expose is undefined, not zero', () => {
    const metrics = parsePrometheus(
      [
        '# HELP a_total A',
        '# TYPE a_total counter',
        'a_total{kind="video"} 3',
        'a_total{kind="audio",note="x \\"y\\""} 4',
        '# TYPE declared_total counter',
        'plain 7',
        '# TYPE h histogram',
        'h_bucket{le="1"} 2',
        'h_sum 1.5',
        'h_count 2',
      ].join('\n'),
    );
    expect(metricSum(metrics, 'a_total')).toBe(7);
    expect(metricSum(metrics, 'a_total', { kind: 'audio' })).toBe(4);
    expect(metrics.get('a_total')?.samples[1].labels).toEqual({ kind: 'audio', note: 'x "y"' });
    expect(metricSum(metrics, 'declared_total')).toBe(0);
    expect(metricSum(metrics, 'plain')).toBe(7);
    expect(metricSum(metrics, 'h_count')).toBe(2);
    expect(metricSum(metrics, 'missing_total')).toBeUndefined();
  });

  it('reads a process tree from /proc and tells when a child is gone', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const tree = processTree(process.pid);
      expect(tree[0]).toMatchObject({ pid: process.pid, ppid: process.ppid });
      expect(tree.find((p) => p.pid === child.pid)).toMatchObject({ comm: 'sleep', ppid: process.pid });
      expect(readStat(child.pid!)!.startTicks).toBeGreaterThan(0);
      expect(isGone(child.pid!)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((resolve) => child.once('exit', resolve));
    expect(isGone(child.pid!)).toBe(true);
  });

  it('finds another process’s UDP socket by inode and counts the datagrams its full receive buffer dropped', async () => {
    // The child binds a UDP socket with a small receive buffer, prints its port, then blocks its
    // event loop: nothing reads, the buffer fills and the kernel drops the rest.
    const script =
      "const s = require('node:dgram').createSocket('udp4');" +
      "s.bind(0, '127.0.0.1', () => { s.setRecvBufferSize(4096); console.log(s.address().port);" +
      // (a pipe write is synchronous on Linux: the port is out before the loop blocks)
      'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000); });';
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const sender = createSocket('udp4');
    try {
      const port = await new Promise<number>((resolve) => child.stdout!.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
      const theirs = [...readUdpSockets().values()].find((s) => s.port === port);
      expect(theirs).toBeDefined();
      expect(socketInodes(child.pid!).has(theirs!.inode)).toBe(true);
      expect(socketInodes(process.pid).has(theirs!.inode)).toBe(false);
      const payload = Buffer.alloc(1000);
      for (let i = 0; i < 100; i++) await new Promise((resolve) => sender.send(payload, port, '127.0.0.1', resolve));
      const after = readUdpSockets().get(theirs!.inode)!;
      expect(after.drops).toBeGreaterThan(0);
      expect(after.rxQueue).toBeGreaterThan(0);
    } finally {
      sender.close();
      child.kill('SIGKILL');
    }
  });
});
