import type { WebRtcTransport } from 'mediasoup/node/lib/WebRtcTransport';

interface Watched {
  transport: WebRtcTransport;
  bytes: number;
  /** When the transport last received anything (RTP, RTCP, STUN), or started being watched. */
  lastReceivedAt: number;
  timedOut: boolean;
}

/**
 * What each publisher's send transport receives. mediasoup 3.12 has no ICE consent timeout: a
 * publisher whose network vanished stays "completed" for ever, so this watches the bytes instead and
 * says when a transport has received nothing for the timeout. One poll for all transports.
 */
export class PublisherActivity {
  private readonly watched = new Map<string, Watched>();

  constructor(
    private readonly timeoutMs: number,
    private readonly onTimeout: (peerId: string, silentMs: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  watch(peerId: string, transport: WebRtcTransport): void {
    this.watched.set(peerId, { transport, bytes: 0, lastReceivedAt: this.now(), timedOut: false });
    transport.observer.once('close', () => {
      if (this.watched.get(peerId)?.transport === transport) this.watched.delete(peerId);
    });
  }

  /** How long the peer's send transport has received nothing (0 while it receives; undefined if not watched). */
  silentForMs(peerId: string): number | undefined {
    const watched = this.watched.get(peerId);
    return watched && this.now() - watched.lastReceivedAt;
  }

  async poll(): Promise<void> {
    await Promise.all(
      [...this.watched.entries()].map(async ([peerId, watched]) => {
        if (watched.transport.closed) return;
        const stats = await watched.transport.getStats().catch(() => undefined);
        const bytes = stats?.[0]?.bytesReceived;
        if (bytes === undefined || this.watched.get(peerId) !== watched) return;
        const now = this.now();
        if (bytes > watched.bytes) {
          watched.bytes = bytes;
          watched.lastReceivedAt = now;
          watched.timedOut = false;
        } else if (!watched.timedOut && now - watched.lastReceivedAt >= this.timeoutMs) {
          watched.timedOut = true;
          this.onTimeout(peerId, now - watched.lastReceivedAt);
        }
      }),
    );
  }
}
