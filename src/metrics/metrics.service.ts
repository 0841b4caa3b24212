import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BusEvents, OnBusEvent } from '../events/events';
import { StreamsService } from '../streams/streams.service';
import { TranscoderService } from '../transcode/transcoder.service';
import { WorkerPoolService } from '../mediasoup/worker-pool.service';
import { PeersService } from '../peers/peers.service';
import { LlDeliveryService } from '../delivery/ll-delivery.service';

/**
 * Prometheus metrics. Counters and the histogram follow the event bus; gauges ask the owner of each
 * resource when scraped. Labels stay low-cardinality: no peer ids.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  private readonly signalingRequests = new Counter({
    name: 'webrtc_hls_signaling_requests_total',
    help: 'Signaling requests by event and result',
    labelNames: ['event', 'result'] as const,
    registers: [this.registry],
  });
  private readonly ffmpegRestarts = new Counter({
    name: 'webrtc_hls_ffmpeg_restarts_total',
    help: 'FFmpeg runs started after the first one of a stream (pause/resume, late producer, crash)',
    registers: [this.registry],
  });
  private readonly segments = new Counter({
    name: 'webrtc_hls_segments_written_total',
    help: 'HLS segments written',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  private readonly segmentBytes = new Counter({
    name: 'webrtc_hls_segment_bytes_total',
    help: 'Bytes of HLS segments written',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  private readonly workerDeaths = new Counter({
    name: 'webrtc_hls_mediasoup_worker_deaths_total',
    help: 'mediasoup workers that died (and were replaced)',
    registers: [this.registry],
  });
  private readonly hlsFailures = new Counter({
    name: 'webrtc_hls_stream_start_failures_total',
    help: 'Publishers whose HLS could not start (e.g. FFmpeg ports exhausted)',
    registers: [this.registry],
  });
  private readonly ingestPackets = new Counter({
    name: 'webrtc_hls_ingest_rtp_packets_total',
    help: "RTP packets received from publishers by the streams' producers (mediasoup producer stats)",
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  private readonly ingestLost = new Counter({
    name: 'webrtc_hls_ingest_rtp_packets_lost_total',
    help: "RTP packets lost between publishers and mediasoup (producer stats' packetsLost)",
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  private readonly ffmpegMissed = new Counter({
    name: 'webrtc_hls_ffmpeg_rtp_missed_packets_total',
    help: 'RTP packets FFmpeg reported missing ("RTP: missed N packets", lines of at most 1000) between mediasoup and FFmpeg',
    registers: [this.registry],
  });
  private readonly ffmpegDropped = new Counter({
    name: 'webrtc_hls_ffmpeg_dropped_frames_total',
    help: 'Frames FFmpeg dropped (drop_frames of -progress)',
    registers: [this.registry],
  });
  private readonly writeFailures = new Counter({
    name: 'webrtc_hls_packaging_write_failures_total',
    help: 'HLS disk work that failed: segments (listed as EXT-X-GAP), playlists, removals of old segments',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });
  private readonly readFailures = new Counter({
    name: 'webrtc_hls_delivery_read_failures_total',
    help: 'Playlists or segments that could not be read for a viewer (I/O errors, not missing files)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  private readonly leavingTimeouts = new Counter({
    name: 'webrtc_hls_peer_leaving_timeouts_total',
    help: 'Peers whose transports closed before every peer.leaving listener had finished (FFmpeg may then stop slowly)',
    registers: [this.registry],
  });
  private readonly layerFailures = new Counter({
    name: 'webrtc_hls_simulcast_layer_failures_total',
    help: 'setPreferredLayers calls that failed on a simulcast feed',
    registers: [this.registry],
  });
  private readonly timeToLive = new Histogram({
    name: 'webrtc_hls_produce_to_live_seconds',
    help: 'From the first producer of a publisher to its playable master playlist (peerLive)',
    buckets: [0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 20],
    registers: [this.registry],
  });

  private readonly llBlockedAnswered = new Histogram({
    name: 'webrtc_hls_ll_blocked_answer_seconds',
    help: 'Low-Latency HLS: from a playlist update (its new part) to the answer of a request blocked for it',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });

  constructor(
    peers: PeersService,
    streams: StreamsService,
    transcoder: TranscoderService,
    pool: WorkerPoolService,
    llDelivery: LlDeliveryService,
  ) {
    collectDefaultMetrics({ register: this.registry });
    // Every known label set from the start (at 0), so a rate() or a sum finds them before the first event.
    for (const kind of ['video', 'audio']) {
      this.ingestPackets.inc({ kind }, 0);
      this.ingestLost.inc({ kind }, 0);
    }
    for (const op of ['segment', 'playlist', 'remove']) this.writeFailures.inc({ op }, 0);
    for (const type of ['playlist', 'segment']) this.readFailures.inc({ type }, 0);
    new Gauge({
      name: 'webrtc_hls_peers',
      help: 'Connected signaling peers',
      registers: [this.registry],
      collect() {
        this.set(peers.all().length);
      },
    });
    new Gauge({
      name: 'webrtc_hls_producers',
      help: 'Producers by kind and codec',
      labelNames: ['kind', 'codec'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const peer of peers.all()) {
          for (const producer of peer.producers.values()) {
            const codec = producer.rtpParameters.codecs[0]?.mimeType.split('/')[1] ?? 'unknown';
            this.inc({ kind: producer.kind, codec });
          }
        }
      },
    });
    new Gauge({
      name: 'webrtc_hls_live_streams',
      help: 'HLS streams whose master playlist is playable',
      registers: [this.registry],
      collect() {
        this.set(streams.liveIds().length);
      },
    });
    new Gauge({
      name: 'webrtc_hls_ffmpeg_processes',
      help: 'FFmpeg processes running',
      registers: [this.registry],
      collect() {
        this.set(transcoder.processCount);
      },
    });
    new Gauge({
      name: 'webrtc_hls_simulcast_renditions',
      help: 'Copied simulcast renditions by whether the layer they carry flows now',
      labelNames: ['flowing'] as const,
      registers: [this.registry],
      collect() {
        const { flowing, stopped } = transcoder.videoRenditions();
        this.set({ flowing: 'true' }, flowing);
        this.set({ flowing: 'false' }, stopped);
      },
    });
    new Gauge({
      name: 'webrtc_hls_ffmpeg_ports_in_use',
      help: 'FFmpeg receive port blocks (four ports each) leased',
      registers: [this.registry],
      collect() {
        this.set(transcoder.portsInUse);
      },
    });
    new Gauge({
      name: 'webrtc_hls_ll_blocked_requests',
      help: 'Low-Latency HLS playlist and part requests blocked now, waiting for their part',
      registers: [this.registry],
      collect() {
        this.set(llDelivery.blocked);
      },
    });
    new Gauge({
      name: 'webrtc_hls_mediasoup_workers_alive',
      help: 'mediasoup workers running',
      registers: [this.registry],
      collect() {
        this.set(pool.aliveSlots().length);
      },
    });
    new Gauge({
      name: 'webrtc_hls_mediasoup_worker_cpu_seconds',
      help: 'CPU time used by each mediasoup worker (user + system), from worker.getResourceUsage()',
      labelNames: ['worker'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        await Promise.all(
          pool.aliveSlots().map(async (slot) => {
            const usage = await slot.worker.getResourceUsage().catch(() => undefined);
            if (usage) this.set({ worker: String(slot.id) }, (usage.ru_utime + usage.ru_stime) / 1000);
          }),
        );
      },
    });
  }

  @OnBusEvent('signaling.handled')
  onSignaling({ event, ok }: BusEvents['signaling.handled']): void {
    this.signalingRequests.inc({ event, result: ok ? 'ok' : 'error' });
  }

  @OnBusEvent('transcode.restarted')
  onRestart(): void {
    this.ffmpegRestarts.inc();
  }

  @OnBusEvent('packaging.segment-written')
  onSegment({ kind, bytes }: BusEvents['packaging.segment-written']): void {
    this.segments.inc({ kind });
    this.segmentBytes.inc({ kind }, bytes);
  }

  @OnBusEvent('delivery.ll-blocked-answered')
  onLlBlockedAnswered({ afterUpdateMs }: BusEvents['delivery.ll-blocked-answered']): void {
    this.llBlockedAnswered.observe(afterUpdateMs / 1000);
  }

  @OnBusEvent('transcode.ingest-counted')
  onIngestCounted({ kind, packets, lost }: BusEvents['transcode.ingest-counted']): void {
    this.ingestPackets.inc({ kind }, packets);
    this.ingestLost.inc({ kind }, lost);
  }

  @OnBusEvent('transcode.ffmpeg-loss')
  onFfmpegLoss({ missedPackets, droppedFrames }: BusEvents['transcode.ffmpeg-loss']): void {
    this.ffmpegMissed.inc(missedPackets);
    this.ffmpegDropped.inc(droppedFrames);
  }

  @OnBusEvent('transcode.layer-failed')
  onLayerFailed(): void {
    this.layerFailures.inc();
  }

  @OnBusEvent('packaging.write-failed')
  onWriteFailed({ op }: BusEvents['packaging.write-failed']): void {
    this.writeFailures.inc({ op });
  }

  @OnBusEvent('delivery.read-failed')
  onReadFailed({ type }: BusEvents['delivery.read-failed']): void {
    this.readFailures.inc({ type });
  }

  @OnBusEvent('peer.leaving-timed-out')
  onLeavingTimedOut(): void {
    this.leavingTimeouts.inc();
  }

  @OnBusEvent('worker.died')
  onWorkerDied(): void {
    this.workerDeaths.inc();
  }

  @OnBusEvent('stream.failed')
  onHlsFailed(): void {
    this.hlsFailures.inc();
  }

  @OnBusEvent('stream.live')
  onLive({ elapsedMs }: BusEvents['stream.live']): void {
    this.timeToLive.observe(elapsedMs / 1000);
  }
}
