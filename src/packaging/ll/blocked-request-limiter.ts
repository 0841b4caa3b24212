import { TooManyBlockedRequestsError } from './ll-errors';

export interface BlockedRequestLimits {
  /** Blocked requests one client (a connection, or an IP address) may hold at once. */
  perClient: number;
  /** Blocked requests all clients together may hold at once; unlimited when absent. */
  total?: number;
}

/**
 * Counts the blocked playlist requests each client holds, so one client cannot park an unbounded
 * number of them (each costs a socket and a waiter). A player needs one per rendition it plays (hls.js
 * LL: one per media playlist loaded, audio + video = 2), plus one while it switches rendition.
 * The HTTP layer keys it by connection, by IP address, or uses one instance for each.
 */
export class BlockedRequestLimiter {
  private readonly counts = new Map<string, number>();
  private held = 0;

  constructor(private readonly limits: BlockedRequestLimits) {
    if (!(Number.isInteger(limits.perClient) && limits.perClient > 0))
      throw new TypeError(`perClient must be a positive integer, got ${limits.perClient}`);
  }

  /** Blocked requests held now, by everyone. */
  get total(): number {
    return this.held;
  }

  /** Blocked requests `client` holds now. */
  count(client: string): number {
    return this.counts.get(client) ?? 0;
  }

  /**
   * Takes a slot for `client`; call the returned function when the request is answered or gone
   * (calling it again does nothing, so it can sit in both a `finally` and a `close` handler).
   * @throws TooManyBlockedRequestsError when the client or everyone together is at the limit.
   */
  acquire(client: string): () => void {
    const count = this.count(client);
    if (count >= this.limits.perClient) {
      throw new TooManyBlockedRequestsError(
        `this client already holds ${count} blocked playlist requests (limit ${this.limits.perClient})`,
      );
    }
    if (this.limits.total !== undefined && this.held >= this.limits.total) {
      throw new TooManyBlockedRequestsError(`the server already holds ${this.held} blocked playlist requests (limit ${this.limits.total})`);
    }
    this.counts.set(client, count + 1);
    this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      const left = this.count(client) - 1;
      // Clients that hold nothing leave the map, so it does not grow with every address ever seen.
      if (left > 0) this.counts.set(client, left);
      else this.counts.delete(client);
    };
  }
}
