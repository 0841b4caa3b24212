import { Inject, Logger } from '@nestjs/common';
import { MESSAGE_METADATA } from '@nestjs/websockets/constants';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { Server, Socket } from 'socket.io';
import { types as mediasoupTypes } from 'mediasoup';
import type { DtlsParameters } from 'mediasoup/node/lib/WebRtcTransport';
import type { RtpCapabilities, RtpParameters } from 'mediasoup/node/lib/RtpParameters';
import { appConfig, AppConfig } from '../../config/app.config';
import { ClientError, errorMessage, RateLimitedError } from '../../common/errors';
import { BusEvents, EventBus, OnBusEvent } from '../../events/events';
import { RateLimiter } from './rate-limiter';
import { PeersService } from '../../peers/peers.service';
import { StreamsService } from '../../streams/streams.service';
import { publishIntent } from '../publish-intent';
import {
  ConnectTransportDto,
  CreateWebRtcTransportDto,
  ProducerKindDto,
  ResumeConsumerDto,
  TransportConsumeDto,
  TransportProduceDto,
} from './dto/signaling.dto';
import { checkPayloadLimits, parsePayload } from './parse-payload';

export interface AckError {
  error: string;
  code: string;
}

/**
 * The original design's socket.io protocol, unchanged: every client→server event answers through
 * its ack, errors included (`{ error, code }`), and an event sent without an ack still takes effect.
 */
@WebSocketGateway()
export class SignalingGateway implements OnGatewayInit, OnGatewayConnection {
  private readonly logger = new Logger(SignalingGateway.name);
  @WebSocketServer() private readonly server: Server;

  private readonly limiters = new WeakMap<Socket, RateLimiter>();

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly peers: PeersService,
    private readonly streams: StreamsService,
    private readonly bus: EventBus,
  ) {}

  /**
   * The handshake may name a stream and carry a publish token (`io(url, { auth: { stream, token } })`).
   * A bad name or a token that does not verify is refused here: the client gets `connect_error` with
   * the reason as its message (and `data.code`). Without either, the connection is the original one.
   */
  afterInit(server: Server): void {
    server.use((socket, next) => {
      const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
      publishIntent(this.config, auth.stream, auth.token).then(
        (intent) => {
          socket.data.intent = intent;
          next();
        },
        (error) => {
          const refusal = new Error(errorMessage(error)) as Error & { data?: unknown };
          refusal.data = { code: errorCode(error) };
          this.logger.warn(`connection refused (${errorCode(error)}): ${errorMessage(error)}`);
          next(refusal);
        },
      );
    });
  }

  handleConnection(socket: Socket): void {
    try {
      this.peers.join(socket.id);
    } catch (error) {
      socket.emit('error', { error: errorMessage(error), code: 'UNAVAILABLE' });
      socket.disconnect(true);
      return;
    }
    if (socket.data.intent) this.streams.registerPublisher(socket.id, socket.data.intent);
    // A client that calls disconnect() ended on purpose; a closed or timed-out connection is gone
    // and its named stream waits for it (the reconnect grace period).
    socket.on('disconnect', (reason) => {
      const intentional =
        reason === 'client namespace disconnect' || (reason === 'server namespace disconnect' && socket.data.endedOnPurpose === true);
      void this.peers.leave(socket.id, `disconnected (${reason})`, intentional);
    });
    socket.onAny((event: string, ...args: unknown[]) => this.answerUnknown(socket, event, args));
    socket.emit('connectionSuccess', { socketId: socket.id });
  }

  @SubscribeMessage('getRouterRtpCapabilities')
  getRouterRtpCapabilities(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    // Takes any argument (the original front end sends `{}` or nothing); only the limits apply.
    return this.answer(socket, 'getRouterRtpCapabilities', body, async () => ({
      rtpCapabilities: this.peers.rtpCapabilities(socket.id),
    }));
  }

  @SubscribeMessage('createWebRtcTransport')
  createWebRtcTransport(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return this.answer(socket, 'createWebRtcTransport', body, async () => {
      const { isConsumer } = parsePayload(CreateWebRtcTransportDto, body);
      return this.peers.createTransport(socket.id, isConsumer);
    });
  }

  @SubscribeMessage('connectTransport')
  connectTransport(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return this.answer(socket, 'connectTransport', body, async () => {
      const { transportId, dtlsParameters } = parsePayload(ConnectTransportDto, body);
      await this.peers.connectTransport(socket.id, transportId, dtlsParameters as DtlsParameters);
      return { connected: true };
    });
  }

  @SubscribeMessage('transportProduce')
  transportProduce(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return this.answer(socket, 'transportProduce', body, async () => {
      const { kind, rtpParameters } = parsePayload(TransportProduceDto, body);
      await this.streams.admitPublisher(socket.id);
      const id = await this.peers.produce(socket.id, kind, rtpParameters as unknown as RtpParameters);
      return { id };
    });
  }

  @SubscribeMessage('transportConsume')
  transportConsume(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return this.answer(socket, 'transportConsume', body, async () => {
      const { rtpCapabilities, remoteProducerId } = parsePayload(TransportConsumeDto, body);
      return this.peers.consume(socket.id, remoteProducerId, rtpCapabilities as RtpCapabilities);
    });
  }

  @SubscribeMessage('resumeConsumer')
  resumeConsumer(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return this.answer(socket, 'resumeConsumer', body, async () => {
      const { consumerId } = parsePayload(ResumeConsumerDto, body);
      await this.peers.resumeConsumer(socket.id, consumerId);
      return { resumed: true };
    });
  }

  @SubscribeMessage('getProducers')
  getProducers(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return this.answer(socket, 'getProducers', body, async () => ({
      producers: this.peers.producersExcept(socket.id),
    }));
  }

  @SubscribeMessage('pauseProducer')
  pauseProducer(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return this.setPaused(socket, 'pauseProducer', body, true);
  }

  @SubscribeMessage('resumeProducer')
  resumeProducer(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    return this.setPaused(socket, 'resumeProducer', body, false);
  }

  @OnBusEvent('producer.created')
  onProducerCreated({ peerId, producerId }: BusEvents['producer.created']): void {
    this.server?.except(peerId).emit('newProducer', { producerId, producerSocketId: peerId });
  }

  @OnBusEvent('producer.paused')
  onProducerPaused({ peerId, kind }: BusEvents['producer.paused']): void {
    this.server?.except(peerId).emit('producerChange', { kind, peerId, paused: true });
  }

  @OnBusEvent('producer.resumed')
  onProducerResumed({ peerId, kind }: BusEvents['producer.resumed']): void {
    this.server?.except(peerId).emit('producerChange', { kind, peerId, paused: false });
  }

  @OnBusEvent('peer.left')
  onPeerLeft({ peerId, reason }: BusEvents['peer.left']): void {
    this.server?.except(peerId).emit('peerLeft', { peerId });
    if (reason === 'worker-died') {
      // Its media is gone with the worker; the client must reconnect to land on the replacement.
      const socket = this.server?.sockets.sockets.get(peerId);
      socket?.emit('error', { error: 'media worker failed; reconnect', code: 'WORKER_DIED' });
      socket?.disconnect(true);
    }
  }

  /** Its transport received nothing for the publisher timeout: the publisher is gone, and told so if it can hear. */
  @OnBusEvent('peer.timed-out')
  onPeerTimedOut({ peerId, silentMs }: BusEvents['peer.timed-out']): void {
    const socket = this.server?.sockets.sockets.get(peerId);
    if (!socket) return;
    socket.emit('error', { error: `no media or connectivity checks received for ${silentMs} ms`, code: 'TRANSPORT_FAILED' });
    socket.disconnect(true);
  }

  /** Another publisher took its stream over: it no longer publishes, and is told so. */
  @OnBusEvent('stream.publisher-changed')
  onPublisherChanged({ streamId, previousPublisherId }: BusEvents['stream.publisher-changed']): void {
    const socket = previousPublisherId ? this.server?.sockets.sockets.get(previousPublisherId) : undefined;
    if (!socket) return;
    socket.emit('error', { error: `another publisher took stream "${streamId}" over`, code: 'STREAM_TAKEN_OVER' });
    socket.data.endedOnPurpose = true;
    socket.disconnect(true);
  }

  /**
   * This node no longer holds its stream in the cluster: another node took it over (its publisher
   * there continues it), or held the name when Redis came back. Its publisher here is told and let go.
   */
  @OnBusEvent('stream.lost')
  onStreamLost({ streamId, publisherId, reason, node }: BusEvents['stream.lost']): void {
    const socket = publisherId ? this.server?.sockets.sockets.get(publisherId) : undefined;
    if (!socket) return;
    const where = node ? `node ${node}` : 'another node';
    if (reason === 'taken-over') {
      socket.emit('error', { error: `another publisher took stream "${streamId}" over on ${where}`, code: 'STREAM_TAKEN_OVER' });
    } else {
      socket.emit('error', {
        error: `stream "${streamId}" is published on ${where} (both accepted it while Redis was unreachable)`,
        code: 'STREAM_IN_USE',
      });
    }
    socket.data.endedOnPurpose = true;
    socket.disconnect(true);
  }

  /** Its stream could not be transcoded (e.g. FFmpeg's port range is full): tell the publisher alone. */
  @OnBusEvent('stream.failed')
  onStreamFailed({ publisherId, error }: BusEvents['stream.failed']): void {
    this.server?.to(publisherId).emit('error', { error: `HLS unavailable: ${error}`, code: 'HLS_FAILED' });
  }

  private setPaused(socket: Socket, event: string, body: unknown, paused: boolean) {
    return this.answer(socket, event, body, async () => {
      const { kind } = parsePayload(ProducerKindDto, body);
      await this.peers.setProducerPaused(socket.id, kind, paused);
      return { paused };
    });
  }

  private rateLimit(socket: Socket): void {
    let limiter = this.limiters.get(socket);
    if (!limiter) this.limiters.set(socket, (limiter = new RateLimiter()));
    if (!limiter.take()) throw new RateLimitedError('too many requests: slow down (limit: 150 at once, 30 per second)');
  }

  /** Like the reference server's request switch, an event nobody handles is refused, not left unanswered. */
  private answerUnknown(socket: Socket, event: string, args: unknown[]): void {
    if (subscribedEvents().has(event)) return;
    const ack = args.at(-1);
    let answer: AckError;
    try {
      // Unknown events cost a token like any other: a client looping on made-up names is cut off too.
      this.rateLimit(socket);
      this.logger.warn(`[peer:${socket.id}] unknown event ${JSON.stringify(String(event)).slice(0, 80)}`);
      answer = { error: `unknown event ${String(event).slice(0, 80)}`, code: 'BAD_REQUEST' };
    } catch (error) {
      answer = { error: errorMessage(error), code: errorCode(error) };
    }
    // The name is the client's: one label for all of them keeps the metric's cardinality bounded.
    this.bus.emit('signaling.handled', { event: 'unknown', ok: false });
    if (typeof ack === 'function') ack(answer);
  }

  /**
   * Runs one request; every failure becomes `{ error, code }` for the ack (and a log line). Nest
   * drops the value when the client sent no ack, so an ack-less event still runs to completion.
   */
  private async answer<T>(socket: Socket, event: string, body: unknown, work: () => Promise<T>): Promise<T | AckError> {
    try {
      this.rateLimit(socket);
      checkPayloadLimits(body);
      const result = await work();
      this.bus.emit('signaling.handled', { event, ok: true });
      return result;
    } catch (error) {
      const code = errorCode(error);
      const message = errorMessage(error);
      // A flood would flood the log too; refusals are counted in the metrics instead.
      if (code === 'RATE_LIMITED') this.logger.debug(`[peer:${socket.id}] ${event} refused: ${message}`);
      else this.logger.warn(`[peer:${socket.id}] ${event} failed (${code}): ${message}`);
      this.bus.emit('signaling.handled', { event, ok: false });
      return { error: message, code };
    }
  }
}

/** Our own errors carry their code; mediasoup rejects bad arguments with TypeError and unknown codecs with UnsupportedError. */
function errorCode(error: unknown): string {
  if (error instanceof ClientError) return error.code;
  if (error instanceof mediasoupTypes.UnsupportedError) return 'UNSUPPORTED';
  if (error instanceof TypeError) return 'BAD_REQUEST';
  return 'INTERNAL';
}

let subscribed: Set<string> | undefined;

/** The events SignalingGateway handles, read from its own @SubscribeMessage decorators. */
function subscribedEvents(): Set<string> {
  subscribed ??= new Set(
    Object.values(Object.getOwnPropertyDescriptors(SignalingGateway.prototype))
      .map(({ value }) => (typeof value === 'function' ? Reflect.getMetadata(MESSAGE_METADATA, value) : undefined))
      .filter((event): event is string => typeof event === 'string'),
  );
  return subscribed;
}
