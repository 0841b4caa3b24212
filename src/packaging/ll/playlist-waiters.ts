import { BlockingTimeoutError, PlaylistClosedError, WaitAbortedError } from './ll-errors';
import { LlLivePosition } from './ll-playlist-state';
import { MinHeap } from './min-heap';

/** What a blocked playlist request waits for: `_HLS_msn` and, optionally, `_HLS_part`. */
export interface BlockingTarget {
  msn: number;
  part?: number;
}

/**
 * Whether a playlist at `position` answers a blocking request (RFC 8216bis 6.2.5.2):
 * - msn M alone: the playlist contains a Media Segment with msn M or later, i.e. segment M is complete;
 * - msn M, part N: it contains part N of segment M or any later part. A part index beyond the last
 *   part of a complete segment M counts as part 0 of segment M + 1 (the spec's MUST), so such a
 *   request is answered by the next segment's first part, not by M's completion;
 * - an ended playlist answers everything (the server ignores the directives after EXT-X-ENDLIST).
 */
export function blockingTargetReached(target: BlockingTarget, position: LlLivePosition): boolean {
  if (position.ended) return true;
  if (target.part === undefined) return position.lastCompleteMsn >= target.msn;
  const last = position.lastPart;
  if (last && (last.msn > target.msn || (last.msn === target.msn && last.index >= target.part))) return true;
  return position.lastCompleteMsn >= target.msn + 1;
}

interface Waiter {
  msn: number;
  part: number; // -1 in the msn-only heap
  deadline: number;
  settled: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
  cleanup?: () => void;
}

const byMsn = (a: Waiter, b: Waiter): boolean => a.msn < b.msn;
const byPart = (a: Waiter, b: Waiter): boolean => a.msn < b.msn || (a.msn === b.msn && a.part < b.part);
/** Settled entries left in the heaps before they are swept out (they are skipped until then). */
const GARBAGE_SWEEP = 1024;

export interface PlaylistWaitersOptions {
  /** How long a request may block before it fails with BlockingTimeoutError (spec: ~3 target durations). */
  timeoutMs: number;
}

/**
 * The blocked requests of one playlist. Waiters sit in two min-heaps, ordered by what they wait for,
 * so `notify()` only touches the ones it releases; they time out through one FIFO and one timer for
 * the whole playlist (every waiter gets the same timeout, so deadlines come in arrival order). A source
 * restart or a publisher reconnect changes nothing here: msns continue, waiters keep waiting until
 * their part comes, the playlist ends, it is closed, or their deadline passes.
 */
export class PlaylistWaiters {
  private readonly msnHeap = new MinHeap<Waiter>(byMsn);
  private readonly partHeap = new MinHeap<Waiter>(byPart);
  private deadlines: Waiter[] = [];
  private deadlineHead = 0;
  private timer: NodeJS.Timeout | undefined;
  private garbage = 0;
  private pendingCount = 0;
  private closeReason: string | undefined;

  /** @param position reads the playlist's current position (e.g. `() => llLivePosition(state)`). */
  constructor(
    private readonly position: () => LlLivePosition,
    private readonly options: PlaylistWaitersOptions,
  ) {}

  /** Requests waiting now. */
  get pending(): number {
    return this.pendingCount;
  }

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  /**
   * Resolves once the playlist reaches `target` (at once if it already has). Rejects with
   * BlockingTimeoutError after `timeoutMs`, PlaylistClosedError on `close()`, WaitAbortedError when
   * `signal` aborts (the client went away; its entry is then dropped).
   */
  wait(target: BlockingTarget, signal?: AbortSignal): Promise<void> {
    if (this.closeReason !== undefined) return Promise.reject(new PlaylistClosedError(this.closeReason));
    if (signal?.aborted) return Promise.reject(new WaitAbortedError('the request was aborted before it blocked'));
    if (blockingTargetReached(target, this.position())) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        msn: target.msn,
        part: target.part ?? -1,
        deadline: performance.now() + this.options.timeoutMs,
        settled: false,
        resolve,
        reject,
      };
      if (signal) {
        const onAbort = (): void => this.fail(waiter, new WaitAbortedError('the request was aborted while blocked'));
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      (target.part === undefined ? this.msnHeap : this.partHeap).push(waiter);
      this.deadlines.push(waiter);
      this.pendingCount++;
      this.armTimer();
    });
  }

  /** Called by the owner after each new part, segment, or the end: releases every waiter now satisfied. */
  notify(): void {
    if (this.closeReason !== undefined || this.pendingCount === 0) return;
    const position = this.position();
    const release = (heap: MinHeap<Waiter>, reached: (waiter: Waiter) => boolean): void => {
      for (let top = heap.peek(); top && (top.settled || position.ended || reached(top)); top = heap.peek()) {
        heap.pop();
        if (top.settled) this.garbage--;
        else this.settle(top).resolve();
      }
    };
    release(this.msnHeap, (waiter) => blockingTargetReached({ msn: waiter.msn }, position));
    release(this.partHeap, (waiter) => blockingTargetReached({ msn: waiter.msn, part: waiter.part }, position));
    if (this.pendingCount === 0) this.clearTimer();
  }

  /** Fails every waiter with PlaylistClosedError, now and later. Idempotent. */
  close(reason = 'the playlist was closed'): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    this.clearTimer();
    for (const waiter of this.deadlines.slice(this.deadlineHead)) {
      if (!waiter.settled) this.settle(waiter).reject(new PlaylistClosedError(reason));
    }
    this.deadlines = [];
    this.deadlineHead = 0;
    this.msnHeap.retain(() => false);
    this.partHeap.retain(() => false);
    this.garbage = 0;
  }

  private settle(waiter: Waiter): Waiter {
    waiter.settled = true;
    waiter.cleanup?.();
    this.pendingCount--;
    return waiter;
  }

  /** Settles a waiter that is still in a heap (timeout, abort): it stays there as garbage until swept. */
  private fail(waiter: Waiter, error: Error): void {
    if (waiter.settled) return;
    this.settle(waiter).reject(error);
    this.garbage++;
    if (this.garbage > GARBAGE_SWEEP && this.garbage > this.pendingCount) {
      this.msnHeap.retain((w) => !w.settled);
      this.partHeap.retain((w) => !w.settled);
      this.garbage = 0;
    }
    if (this.pendingCount === 0) this.clearTimer();
  }

  private armTimer(): void {
    if (this.timer !== undefined) return;
    while (this.deadlineHead < this.deadlines.length && this.deadlines[this.deadlineHead].settled) this.deadlineHead++;
    if (this.deadlineHead > 1024 && this.deadlineHead * 2 > this.deadlines.length) {
      this.deadlines = this.deadlines.slice(this.deadlineHead);
      this.deadlineHead = 0;
    }
    const next = this.deadlines[this.deadlineHead];
    if (!next) return;
    this.timer = setTimeout(() => this.expire(), Math.max(0, next.deadline - performance.now()));
    // A waiting request must not keep the process alive on its own (its socket does that).
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    const position = this.position();
    while (this.deadlineHead < this.deadlines.length && this.deadlines[this.deadlineHead].deadline <= now) {
      const waiter = this.deadlines[this.deadlineHead++];
      if (waiter.settled) continue;
      const at = position.lastPart ? `msn ${position.lastPart.msn} part ${position.lastPart.index}` : `msn ${position.lastCompleteMsn}`;
      const wanted = waiter.part < 0 ? `segment ${waiter.msn}` : `msn ${waiter.msn} part ${waiter.part}`;
      this.fail(waiter, new BlockingTimeoutError(`blocked ${this.options.timeoutMs} ms for ${wanted}; the playlist is at ${at}`));
    }
    this.armTimer();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
