import { io, Socket } from 'socket.io-client';
import type { types } from 'mediasoup-client';

/** The server's answer to a failed request (every client→server event answers through its ack). */
export interface AckError {
  error: string;
  code: string;
}

export interface TransportParameters {
  id: string;
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
}

/** Request name → [payload, successful answer]: the server's protocol, spelled once. */
export interface SignalingRequests {
  getRouterRtpCapabilities: [Record<string, never>, { rtpCapabilities: types.RtpCapabilities }];
  createWebRtcTransport: [{ isConsumer: boolean }, TransportParameters];
  connectTransport: [{ transportId: string; dtlsParameters: types.DtlsParameters }, { connected: true }];
  transportProduce: [{ kind: types.MediaKind; rtpParameters: types.RtpParameters; appData?: types.AppData }, { id: string }];
  transportConsume: [
    { rtpCapabilities: types.RtpCapabilities; remoteProducerId: string },
    { id: string; producerId: string; kind: types.MediaKind; rtpParameters: types.RtpParameters },
  ];
  resumeConsumer: [{ consumerId: string }, { resumed: true }];
  getProducers: [Record<string, never>, { producers: Array<{ peerId: string; producerId: string }> }];
  pauseProducer: [{ kind: types.MediaKind }, { paused: boolean }];
  resumeProducer: [{ kind: types.MediaKind }, { paused: boolean }];
}

/** Server → client broadcasts. `error` carries the reason the server is about to disconnect us. */
export interface SignalingBroadcasts {
  connectionSuccess: { socketId: string };
  newProducer: { producerId: string; producerSocketId: string };
  producerChange: { kind: types.MediaKind; peerId: string; paused: boolean };
  peerLeft: { peerId: string };
  error: AckError;
}

export type RequestName = keyof SignalingRequests;

/**
 * A request that failed: the server's `{error, code}`, or our own TIMEOUT / DISCONNECTED / NOT
 * CONNECTED (no answer in time, or a connection that is gone).
 */
export class SignalingError extends Error {
  constructor(
    readonly request: string,
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'SignalingError';
  }
}

const isAckError = (value: unknown): value is AckError =>
  typeof value === 'object' && value !== null && typeof (value as AckError).error === 'string';

/**
 * A promise per request over the socket.io protocol. One instance is one peer (peer id = socket id);
 * it does not reconnect, because the server closes a peer's transports and producers when its socket
 * goes, so a new connection is a new peer that must start over.
 */
export class SignalingClient {
  private readonly socket: Socket;
  private peer: string | undefined;
  private closedByUs = false;

  private constructor(socket: Socket) {
    this.socket = socket;
  }

  /** Connects and resolves once the server has greeted us with `connectionSuccess`. */
  static connect(url: string = location.origin, timeoutMs = 10000): Promise<SignalingClient> {
    const socket = io(url, { reconnection: false, timeout: timeoutMs, autoConnect: false });
    const client = new SignalingClient(socket);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new SignalingError('connect', `no answer from the server in ${timeoutMs / 1000} s`, 'TIMEOUT')),
        timeoutMs,
      );
      const fail = (error: SignalingError) => {
        clearTimeout(timer);
        socket.off('connectionSuccess');
        socket.disconnect();
        reject(error);
      };
      socket.once('connectionSuccess', ({ socketId }: { socketId: string }) => {
        clearTimeout(timer);
        socket.off('connect_error');
        client.peer = socketId;
        resolve(client);
      });
      // The server refuses a peer it cannot place (no media worker) with `error` and a disconnect.
      socket.once('error', (answer: unknown) => {
        if (!client.peer)
          fail(
            new SignalingError(
              'connect',
              isAckError(answer) ? answer.error : 'refused by the server',
              isAckError(answer) ? answer.code : 'REFUSED',
            ),
          );
      });
      socket.once('connect_error', (error: Error) =>
        fail(new SignalingError('connect', `cannot reach the server: ${error.message}`, 'UNREACHABLE')),
      );
      socket.connect();
    });
  }

  /** This peer's id (the socket id the server greeted us with). */
  get peerId(): string {
    if (!this.peer) throw new Error('not connected');
    return this.peer;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Sends a request; resolves with its answer, rejects with SignalingError on `{error}`, timeout or disconnect. */
  async request<K extends RequestName>(name: K, payload: SignalingRequests[K][0], timeoutMs = 10000): Promise<SignalingRequests[K][1]> {
    if (!this.socket.connected) throw new SignalingError(name, 'not connected to the server', 'NOT_CONNECTED');
    let answer: unknown;
    try {
      answer = await this.socket.timeout(timeoutMs).emitWithAck(name, payload);
    } catch {
      if (this.socket.connected) throw new SignalingError(name, `no answer within ${timeoutMs / 1000} s`, 'TIMEOUT');
      throw new SignalingError(name, 'the connection was lost', 'DISCONNECTED');
    }
    if (isAckError(answer)) throw new SignalingError(name, answer.error, answer.code);
    return answer as SignalingRequests[K][1];
  }

  on<K extends keyof SignalingBroadcasts>(name: K, listener: (payload: SignalingBroadcasts[K]) => void): void {
    this.socket.on(name as string, listener as (payload: unknown) => void);
  }

  /** Called once when the connection goes; `byUs` tells our own close() from a lost connection. */
  onDisconnect(listener: (reason: string, byUs: boolean) => void): void {
    this.socket.on('disconnect', (reason) => listener(reason, this.closedByUs));
  }

  close(): void {
    this.closedByUs = true;
    this.socket.disconnect();
  }
}
